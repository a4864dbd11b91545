"""The dbt project as Dagster assets: one multi-asset for catalogue models, one for daily ones.

Models tagged `daily` are incremental and take the run's partition window as dbt's
`--event-time-start`/`--event-time-end` flags (not `--vars`, which would make dbt re-parse the
project for every new window), so a month's backfill is a single dbt invocation. dbt tests
become asset checks (source tests on the `landing/*` assets); error-severity tests are blocking.

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
    DagsterDbtCliRuntimeError,
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
# A test's `where` that macros/get_where_subquery.sql turns into the run's daily window.
PARTITION_WINDOW = "__partition_window__"
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

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        # AssetCheckSpec has no replace_attributes; it keeps NamedTuple's _replace.
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))


# A `ref('model')` or `source('schema', 'table')` in a test's arguments, shown as its name.
REFERENCE = re.compile(r"(?:ref|source)\(\s*((?:['\"]\w+['\"]\s*,?\s*)+)\)")


def _readable(value: Any) -> str:
    """A test argument as a reader would write it: refs as the model's name, lists joined."""
    if isinstance(value, list):
        return ", ".join(_readable(item) for item in value)
    text = str(value)
    return REFERENCE.sub(lambda match: ".".join(re.findall(r"\w+", match[1])), text)


def describe_test(test: Mapping[str, Any]) -> str:
    """What a dbt test asserts, in a sentence: its YAML `description` when it has one, else
    built from the generic test's name, column and arguments; then what a failure does."""
    metadata = test.get("test_metadata") or {}
    arguments = {key: value for key, value in metadata.get("kwargs", {}).items() if key != "model"}
    column = f"`{arguments.pop('column_name')}`" if "column_name" in arguments else "the row"
    generic = {
        "not_null": lambda: f"{column} is never null.",
        "unique": lambda: f"{column} is unique: no two rows share a value.",
        "is_non_negative": lambda: f"{column} is never negative.",
        "relationships": lambda: (
            f"Every {column} exists as `{arguments['field']}` in {_readable(arguments['to'])}."
        ),
        "accepted_values": lambda: f"{column} is one of {_readable(arguments['values'])}.",
        "accepted_range": lambda: f"{column} is within {_range(arguments)}.",
        "expression_is_true": lambda: f"{column} {arguments['expression']} on every row.",
        "unique_combination_of_columns": lambda: (
            f"No two rows share ({_readable(arguments['combination_of_columns'])})."
        ),
    }
    name = metadata.get("name")
    if test.get("description"):
        what = test["description"]
    elif name in generic:
        what = generic[name]()
    elif name:
        shown = ", ".join(f"{key}={_readable(value)}" for key, value in arguments.items())
        what = f"dbt test `{name}` on {column}" + (f" ({shown})" if shown else "") + "."
    else:
        what = f"{test['original_file_path']} returns no rows."
    severity = (test.get("config") or {}).get("severity") or "error"
    where = (test.get("config") or {}).get("where")
    scope = {None: "", PARTITION_WINDOW: "Judged on the run's partition window."}
    return " ".join(
        part
        for part in [
            what,
            scope.get(where, f"Only rows where {where}."),
            "A failure blocks what is built from it."
            if severity.lower() == "error"
            else "A failure warns; the data flows on.",
        ]
        if part
    )


def _range(arguments: Mapping[str, Any]) -> str:
    low, high = arguments.get("min_value"), arguments.get("max_value")
    inclusive = arguments.get("inclusive", True)
    if high is None:
        return f"{'>=' if inclusive else '>'} {low}"
    if low is None:
        return f"{'<=' if inclusive else '<'} {high}"
    return f"[{low}, {high}]" if inclusive else f"({low}, {high})"


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


def partition_window(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """The run's partition window as inclusive ISO dates."""
    window = context.partition_time_window
    return (
        window.start.date().isoformat(),
        (window.end - timedelta(days=1)).date().isoformat(),
    )


def event_time_args(context: dg.AssetExecutionContext) -> list[str]:
    """The window as dbt's event-time flags (midnights UTC, end exclusive), which
    macros/partition_window.sql reads at execution time. Unlike `--vars` they are no part of
    dbt's partial-parsing state, so every window reuses the project's parse."""
    window = context.partition_time_window
    return [
        "--event-time-start",
        window.start.strftime("%Y-%m-%d"),
        "--event-time-end",
        window.end.strftime("%Y-%m-%d"),
    ]


def with_row_counts(
    invocation: DbtCliInvocation,
    warehouse: WarehouseResource,
    *,
    window: tuple[str, str] | None = None,
) -> Iterator[Any]:
    """The invocation's events with what the warehouse says once dbt has finished: each
    model's `dagster/row_count` and its columns with their types (`dagster/column_schema`,
    the descriptions from the manifest); for daily models each partition's own count, in that
    partition's materialization. Each test's check result says what it judged and, failing,
    why. A build that failed only because tests failed ends with the failed checks (Dagster
    names them in the step's failure), not with dbt's stack trace."""
    buffered: list[Any] = []
    try:
        for event in invocation.stream():
            buffered.append(event)
    except DagsterDbtCliRuntimeError:
        if not _only_tests_failed(invocation, buffered):
            raise
    context = invocation.context
    nodes = invocation.get_artifact("manifest.json")["nodes"]
    relations = {}
    for event in buffered:
        if isinstance(event, dg.Output):
            node = nodes.get(event.metadata.get("unique_id", dg.MetadataValue.text("")).value)
            if node and node.get("relation_name"):
                relations[event.output_name] = node["relation_name"]
    client = warehouse.client()
    daily: dict[str, dict[str, int]] = {}
    if window:
        # One scan per model: the window's count is its days' counts added up.
        daily = client.relation_daily_row_counts(relations, date_column=LISTEN_DATE, window=window)
        counts = {name: sum(days.values()) for name, days in daily.items()}
    else:
        counts = client.relation_row_counts(relations)
    columns = client.relation_columns(relations)
    scope = f"partitions {window[0]} .. {window[1]}" if window else "the whole table"
    for event in buffered:
        if isinstance(event, dg.Output) and event.output_name in counts:
            node = nodes[event.metadata["unique_id"].value]
            if isinstance(context, dg.AssetExecutionContext) and event.output_name in daily:
                _add_daily_counts(context, event.output_name, daily[event.output_name])
            yield event.with_metadata(
                {
                    **event.metadata,
                    "dagster/row_count": dg.MetadataValue.int(counts[event.output_name]),
                    "dagster/column_schema": _column_schema(
                        columns[event.output_name], node.get("columns", {})
                    ),
                }
            )
        elif isinstance(event, dg.AssetCheckResult):
            yield _explained(event, nodes, scope, context)
        else:
            yield event


def _only_tests_failed(invocation: DbtCliInvocation, events: list[Any]) -> bool:
    """dbt failed because error-severity tests failed (their checks are among `events`), and
    nothing errored: no model, and no test that could not run."""
    results = invocation.get_artifact("run_results.json").get("results", [])
    errored = [result for result in results if result.get("status") == "error"]
    failed_checks = [
        event
        for event in events
        if isinstance(event, dg.AssetCheckResult)
        and not event.passed
        and event.severity == dg.AssetCheckSeverity.ERROR
    ]
    return not errored and bool(failed_checks)


def _add_daily_counts(
    context: dg.AssetExecutionContext, output_name: str, rows_by_day: Mapping[str, int]
) -> None:
    """Each partition of the run gets its own day's count (0 for a day without rows)."""
    key = context.assets_def.keys_by_output_name[output_name]
    for day in context.partition_keys:
        context.add_asset_metadata(
            {"dagster/row_count": dg.MetadataValue.int(rows_by_day.get(day, 0))},
            asset_key=key,
            partition_key=day,
        )


def _column_schema(
    types: Mapping[str, str], documented: Mapping[str, Mapping[str, Any]]
) -> dg.TableSchema:
    """The relation's columns in the warehouse's order and types, with the YAML's descriptions."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                column_type,
                description=(documented.get(name) or {}).get("description") or None,
            )
            for name, column_type in types.items()
        ]
    )


def _explained(
    result: dg.AssetCheckResult,
    nodes: Mapping[str, Any],
    scope: str,
    context: dg.AssetExecutionContext | dg.OpExecutionContext | None,
) -> dg.AssetCheckResult:
    """The test's result with a description naming what was judged and, failing, the reason."""
    unique_id = result.metadata.get("unique_id", dg.MetadataValue.text("")).value
    test = nodes.get(unique_id, {})
    failures = result.metadata.get("dagster_dbt/failed_row_count")
    failing = getattr(failures, "value", failures)
    if result.passed:
        description = f"passed on {scope}"
    else:
        description = (
            f"failed on {scope}: {failing if failing is not None else 'some'} failing rows. "
            + (describe_test(test) if test else "")
        )
        if context is not None:
            context.log.error(
                f"{result.asset_key.to_user_string()} {result.check_name} {description}"
            )
    return dg.AssetCheckResult(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        severity=result.severity,
        metadata={**result.metadata, "partitions": scope.removeprefix("partitions ")},
        description=description.strip(),
    )


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
    window = partition_window(context)
    context.log.info(f"building daily models for {window[0]} to {window[1]}")
    invocation = dbt.cli([*BUILD, *event_time_args(context)], context=context)
    yield from with_row_counts(invocation, warehouse, window=window)
