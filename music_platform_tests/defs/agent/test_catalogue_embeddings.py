"""ml/catalogue_embeddings materialized by Dagster over a real DuckDB warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from music_platform.defs.agent.assets import CHECK_NAME, catalogue_embeddings
from music_platform.resources.warehouse import (
    DuckDBWarehouseResource,
    SnowflakeWarehouseResource,
    WarehouseResource,
)
from music_platform.settings import SnowflakeSettings
from music_platform_tests.lib.rag.conftest import build_marts


def _materialize(resource: WarehouseResource) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [catalogue_embeddings],
        resources={"warehouse": resource},
        # The dbt parents are not part of this test: the marts are written by hand.
        selection=[catalogue_embeddings.key],
    )
    assert result.success
    return result


def _outcome(result: dg.ExecuteInProcessResult) -> tuple[dict[str, object], bool]:
    (materialization,) = result.asset_materializations_for_node(catalogue_embeddings.node_def.name)
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == CHECK_NAME
    return metadata, check.passed


def test_first_run_embeds_everything_then_only_the_changed_artist(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    build_marts(path)
    resource = DuckDBWarehouseResource(path)

    metadata, passed = _outcome(_materialize(resource))
    assert passed
    assert (metadata["embedded"], metadata["unchanged"], metadata["removed"]) == (11, 0, 0)

    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "UPDATE analytics.dim_artist SET genres = 'shoegaze' WHERE artist_id = 'a2'"
        )
    metadata, passed = _outcome(_materialize(resource))
    assert passed
    assert (metadata["embedded"], metadata["unchanged"], metadata["removed"]) == (1, 10, 0)
    assert metadata["documents"] == 11


def test_on_snowflake_it_materializes_without_building(tmp_path: Path) -> None:
    metadata, passed = _outcome(_materialize(SnowflakeWarehouseResource(SnowflakeSettings())))
    assert passed and metadata["built"] is False
    assert "DuckDB" in str(metadata["reason"])
