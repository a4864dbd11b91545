"""staging/listens adds each day's streamed events in the database, and its materialization and
blocking checks count them: loaded, deduplicated against the source's rows, received."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from music_platform.defs.keys import STREAM_LISTEN_EVENTS
from music_platform.defs.sources.providers import StagingSource
from music_platform.defs.staging.assets import _listens_asset, staging_key
from music_platform.defs.staging.resources import StagingResource
from music_platform.lib.schemas import LISTENS, rejects_columns
from music_platform.lib.staging import DuckDBStagingStore
from music_platform.lib.staging.streamed import EventBatch
from music_platform_tests.lib.staging.frames import (
    DAY,
    DAY_START,
    catalogues,
    listens,
    streamed_events,
)
from music_platform_tests.platform_env import applied, platform_environment

STREAM_ONLY_DAY = "2024-03-11"
EMPTY_DAY = "2024-03-12"


def source_of(day: str) -> StagingSource:
    """A batch source holding 100 listens of DAY and nothing else."""

    def read(partition_key: str | None) -> tuple[pl.DataFrame, str]:
        if partition_key != day:
            raise FileNotFoundError(f"no listens landed for {partition_key}")
        return listens(100), "test"

    return StagingSource(deps=(), read=read)


def materialize(store: DuckDBStagingStore, day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [_listens_asset(source_of(DAY))],
        partition_key=day,
        resources={"staging": StagingResource(backend="duckdb", duckdb_path=str(store.path))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_staging_listens_counts_the_streamed_events_of_its_day(tmp_path: Path) -> None:
    with applied(platform_environment(tmp_path / "home")):
        store = DuckDBStagingStore(tmp_path / "staging.duckdb")
        for contract, frame in catalogues():
            store.replace_table(contract, frame, source="test", batch_id=contract.name)
        next_day = DAY_START + dt.timedelta(days=1)
        events = streamed_events(
            ("s-1", "user_001", "track_0001", DAY_START + dt.timedelta(hours=1), 1_000),
            ("e00000003", "user_001", "track_0001", DAY_START, 1_000),  # the source has it
            ("s-2", "user_002", "track_0002", next_day, 1_000),
            ("s-3", "user_003", "track_0003", next_day, 1_000),
        )
        empty = pl.DataFrame(schema=rejects_columns())
        store.write_events(EventBatch(events=events, rejects=empty, source="kafka:events"))

        assert (
            STREAM_LISTEN_EVENTS in _listens_asset(source_of(DAY)).asset_deps[staging_key(LISTENS)]
        )

        both = materialize(store, DAY)
        assert both.success
        [loaded] = both.asset_materializations_for_node("staging__listens")
        metadata = {name: value.value for name, value in loaded.metadata.items()}
        assert metadata["dagster/row_count"] == 101
        assert (metadata["received"], metadata["deduplicated"], metadata["rejected"]) == (102, 1, 0)
        assert metadata["source"] == "test+stream"
        checks = {check.check_name: check.passed for check in both.get_asset_check_evaluations()}
        assert checks == {
            "volume_as_expected": True,
            "reject_rate_within_threshold": True,
            "no_schema_drift": True,
        }
        assert store.count(LISTENS, DAY) == 101

        stream_only = materialize(store, STREAM_ONLY_DAY)
        assert stream_only.success
        [loaded] = stream_only.asset_materializations_for_node("staging__listens")
        assert loaded.metadata["dagster/row_count"].value == 2
        assert loaded.metadata["source"].value == "stream"
        assert store.count(LISTENS, STREAM_ONLY_DAY) == 2

        # A day neither the source nor the stream has stays an error, as before.
        with pytest.raises(FileNotFoundError, match="no listens landed"):
            dg.materialize(
                [_listens_asset(source_of(DAY))],
                partition_key=EMPTY_DAY,
                resources={
                    "staging": StagingResource(backend="duckdb", duckdb_path=str(store.path))
                },
                instance=dg.DagsterInstance.ephemeral(),
            )
