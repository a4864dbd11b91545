"""The dbt project as Dagster assets: one multi-asset for catalogue models, one for daily ones.

Models tagged `daily` are incremental and take the run's partition window as the dbt vars
`min_date`/`max_date`, so a month's backfill is a single dbt invocation. dbt tests become asset
checks (source tests on the `landing/*` assets); error-severity tests are blocking.

The assets are read from the project's manifest, as dagster-dbt's convention has it: `dagster
dev` re-parses it on load (`prepare_if_dev`); elsewhere it is built beforehand (`music-platform
prepare`, which `run` and `dev` do when it is stale, or `dagster-dbt project prepare-and-package`).
"""

import json
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from music_platform.defs.shared.keys import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    WAREHOUSE_POOL,
    daily_partitions,
    landing_key,
    single_run_backfill,
)
from music_platform.resources.dbt import DBT_PROJECT, missing_manifest_message
from music_platform.resources.warehouse import WarehouseResource

DAILY_TAG = "daily"
# Unit tests check the SQL on fixed fixtures, not the data: CI runs them
# (music_platform_tests/warehouse/test_dbt_unit_tests.py) and, as dbt Labs advises for
# production, the pipeline's builds leave them out.
BUILD = ("build", "--exclude-resource-type", "unit_test")
LISTEN_DATE = "listen_date"  # every daily model carries the day it belongs to
GROUPS = {
    "staging": "dbt_staging",
    "intermediate": "dbt_intermediate",
    "marts": "marts",
    "snapshots": "marts",
}


class MusicPlatformTranslator(DagsterDbtTranslator):
    """dbt sources are the warehouse landing assets; models group by their layer folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return landing_key(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folder = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else ""
        if dbt_resource_props["resource_type"] == "snapshot":
            folder = "snapshots"
        return GROUPS.get(folder, "marts")

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec
        daily = DAILY_TAG in props.get("tags", [])
        return spec.replace_attributes(
            freshness_policy=DAILY_FRESHNESS if daily else CATALOGUE_FRESHNESS
        )


class DailyTranslator(MusicPlatformTranslator):
    """The daily models' translator: landing.listens' source tests do not block. dim_track
    reads that table too, and would otherwise wait for the daily step, whose tests read
    dim_track (stg_landing__listens' own tests, blocking, check the same columns)."""

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is not None and spec.asset_key == landing_key("listens"):
            return spec._replace(blocking=False)
        return spec


class CatalogueTranslator(MusicPlatformTranslator):
    """The catalogue models' translator: dim_track reads landing.listens (for its inferred
    rows) but the source's tests, tagged daily, are the daily models' checks only."""

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        if DAILY_TAG in manifest["nodes"].get(unique_id, {}).get("tags", []):
            return None
        return super().get_asset_check_spec(asset_spec, manifest, unique_id, project)


# Source tests become checks on the `landing/*` assets, run by the dbt step that reads them;
# otherwise dbt still runs them (indirect selection) and Dagster logs each as a stray observation.
TRANSLATOR_SETTINGS = DagsterDbtTranslatorSettings(
    enable_asset_checks=True, enable_source_tests_as_checks=True
)
TRANSLATOR = MusicPlatformTranslator(settings=TRANSLATOR_SETTINGS)
CATALOGUE_TRANSLATOR = CatalogueTranslator(settings=TRANSLATOR_SETTINGS)
DAILY_TRANSLATOR = DailyTranslator(settings=TRANSLATOR_SETTINGS)


# `source('landing', 'tracks')` in a source test's `model` argument: the source it is declared on.
DECLARED_SOURCE = re.compile(r"source\(\s*['\"](\w+)['\"]\s*,\s*['\"](\w+)['\"]\s*\)")


def attach_source_tests(manifest: dict[str, Any]) -> dict[str, Any]:
    """Attach each source test that reads two sources (a relationship between landing tables) to
    the source it is declared on, so it runs as that landing asset's check.

    dbt records the attachment only for tests on models; without it dagster-dbt cannot tell
    which asset such a test checks and logs its result as a stray observation with a warning.
    """
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("attached_node"):
            continue
        declared = DECLARED_SOURCE.search(
            (node.get("test_metadata") or {}).get("kwargs", {}).get("model", "")
        )
        if declared and len(node["depends_on"]["nodes"]) > 1:
            source_id = f"source.{node['package_name']}.{declared[1]}.{declared[2]}"
            if source_id in manifest["sources"]:
                node["attached_node"] = source_id
    return manifest


DBT_PROJECT.prepare_if_dev()
if not DBT_PROJECT.manifest_path.exists():
    raise FileNotFoundError(missing_manifest_message())
MANIFEST = attach_source_tests(json.loads(DBT_PROJECT.manifest_path.read_bytes()))


def partition_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The run's partition window as inclusive dates for the incremental models."""
    window = context.partition_time_window
    return {
        "min_date": window.start.date().isoformat(),
        "max_date": (window.end - timedelta(days=1)).date().isoformat(),
    }


def with_row_counts(
    invocation: DbtCliInvocation,
    warehouse: WarehouseResource,
    *,
    window: tuple[str, str] | None = None,
) -> Iterator[Any]:
    """Attach `dagster/row_count` to each model's output once dbt has finished.

    For daily models the count covers the run's window, so it says what this run wrote.
    """
    buffered = list(invocation.stream())
    nodes = invocation.get_artifact("manifest.json")["nodes"]
    relations = {}
    for event in buffered:
        if isinstance(event, dg.Output):
            node = nodes.get(event.metadata.get("unique_id", dg.MetadataValue.text("")).value)
            if node and node.get("relation_name"):
                relations[event.output_name] = node["relation_name"]
    counts = warehouse.client().relation_row_counts(
        relations, date_column=LISTEN_DATE if window else None, window=window
    )
    for event in buffered:
        if isinstance(event, dg.Output) and event.output_name in counts:
            yield event.with_metadata(
                {
                    **event.metadata,
                    "dagster/row_count": dg.MetadataValue.int(counts[event.output_name]),
                }
            )
        else:
            yield event


@dbt_assets(
    manifest=MANIFEST,
    project=DBT_PROJECT,
    exclude=f"tag:{DAILY_TAG}",
    dagster_dbt_translator=CATALOGUE_TRANSLATOR,
    pool=WAREHOUSE_POOL,
    name="dbt_catalogue_models",
)
def dbt_catalogue_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: dg.ResourceParam[WarehouseResource],
) -> Iterator[Any]:
    yield from with_row_counts(dbt.cli([*BUILD], context=context), warehouse)


@dbt_assets(
    manifest=MANIFEST,
    project=DBT_PROJECT,
    select=f"tag:{DAILY_TAG}",
    dagster_dbt_translator=DAILY_TRANSLATOR,
    pool=WAREHOUSE_POOL,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    name="dbt_daily_models",
)
def dbt_daily_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: dg.ResourceParam[WarehouseResource],
) -> Iterator[Any]:
    dbt_vars = partition_vars(context)
    context.log.info(f"building daily models for {dbt_vars}")
    invocation = dbt.cli([*BUILD, "--vars", json.dumps(dbt_vars)], context=context)
    yield from with_row_counts(
        invocation, warehouse, window=(dbt_vars["min_date"], dbt_vars["max_date"])
    )
