"""Staging: raw records typed against the contract, with rejects kept and each load atomic.

A daily partition is replaced as a whole in one transaction, so rerunning a day is idempotent
and a crash mid-load leaves the previous day intact. Rows that fail typing or constraints go to
the `rejects` table with their reason; the reject rate is a blocking check.

Which raw assets feed each table, and how their rows map to the contract, comes from the active
sources' `StagingSource` (defs/sources/providers.py); staging itself is source-agnostic.
"""

import uuid
from collections.abc import Iterator

import dagster as dg
import polars as pl

from music_platform.defs.partitions import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.sources.providers import StagingSource
from music_platform.defs.staging.resources import StagingResource
from music_platform.lib import schemas
from music_platform.lib.metadata import table_metadata
from music_platform.lib.staging.store import LoadResult
from music_platform.lib.staging.validate import DUPLICATE_REASON_PREFIX
from music_platform.settings import get_settings

KINDS = {"python"}


def staging_key(contract: schemas.TableContract) -> dg.AssetKey:
    return dg.AssetKey(["staging", contract.name])


def _check_specs(contract: schemas.TableContract) -> list[dg.AssetCheckSpec]:
    key = staging_key(contract)
    return [
        dg.AssetCheckSpec(
            "reject_rate_within_threshold",
            asset=key,
            blocking=True,
            description="The share of rejected records stays under MUSIC_PLATFORM_MAX_REJECT_RATE.",
        ),
        dg.AssetCheckSpec(
            "no_schema_drift",
            asset=key,
            description="The source's columns match the contract: none added, none missing.",
        ),
    ]


def _check_results(
    contract: schemas.TableContract, results: list[LoadResult]
) -> list[dg.AssetCheckResult]:
    loaded = sum(result.rows_loaded for result in results)
    # Duplicates are dropped without alarm (kept in the rejects table, counted apart).
    rejected = sum(result.rows_rejected for result in results) - _deduplicated(results)
    rate = rejected / max(loaded + rejected, 1)
    threshold = get_settings().max_reject_rate
    reasons: dict[str, int] = {}
    for result in results:
        for reason, count in result.reject_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    added = sorted({column for result in results for column in result.drift.added})
    missing = sorted({column for result in results for column in result.drift.missing})
    worst = ", ".join(
        f"{reason} ({count})"
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1])[:3]
    )
    return [
        dg.AssetCheckResult(
            asset_key=staging_key(contract),
            check_name="reject_rate_within_threshold",
            passed=rate <= threshold,
            metadata={
                "rejected": rejected,
                "loaded": loaded,
                "reject_rate": rate,
                "threshold": threshold,
                "reasons": dg.MetadataValue.json(reasons),
            },
            description=(
                f"{rejected} of {loaded + rejected} records rejected ({rate:.2%}, limit "
                f"{threshold:.2%})" + (f"; most common: {worst}" if worst else "")
            ),
        ),
        dg.AssetCheckResult(
            asset_key=staging_key(contract),
            check_name="no_schema_drift",
            passed=not added and not missing,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"added_columns": added, "missing_columns": missing},
            description=f"added columns: {added or 'none'}; missing columns: {missing or 'none'}",
        ),
    ]


def selected_checks(
    context: dg.AssetExecutionContext, results: list[dg.AssetCheckResult]
) -> list[dg.AssetCheckResult]:
    """The results of the checks the run selected. The staging and landing assets let their checks
    be selected apart (can_subset) so that automation leaves a run's checks unselected, which
    Dagster reads as every check of the run's assets: with checks it must run together with their
    asset, it would name only those, and the dbt tests of the same run would be left out."""
    selected = context.selected_asset_check_keys
    return [
        result
        for result in results
        if dg.AssetCheckKey(result.asset_key, result.check_name) in selected
    ]


def _deduplicated(results: list[LoadResult]) -> int:
    """Rows dropped as copies of another row's primary key."""
    return sum(
        count
        for result in results
        for reason, count in result.reject_reasons.items()
        if reason.startswith(DUPLICATE_REASON_PREFIX)
    )


def _drift(results: list[LoadResult]) -> list[dict[str, str]]:
    """Column changes against the contract, as `{"column", "change"}` records."""
    changes = {(column, "added") for result in results for column in result.drift.added}
    changes |= {(column, "missing") for result in results for column in result.drift.missing}
    return [{"column": column, "change": change} for column, change in sorted(changes)]


def _load_metadata(frame_rows: int, results: list[LoadResult], source: str) -> dict:
    deduplicated = _deduplicated(results)
    return {
        "dagster/row_count": dg.MetadataValue.int(sum(r.rows_loaded for r in results)),
        "rejected": sum(r.rows_rejected for r in results) - deduplicated,
        "deduplicated": deduplicated,
        "drift": dg.MetadataValue.json(_drift(results)),
        "source": source,
        "received": frame_rows,
        "load_seconds": round(sum(r.seconds for r in results), 3),
        "batch_ids": [r.batch_id for r in results],
    }


def _catalogue_asset(contract: schemas.TableContract, source: StagingSource) -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                staging_key(contract),
                deps=list(source.deps),
                description=f"Typed {contract.name}, one row per {contract.primary_key[0]}.",
                group_name="staging",
                kinds=KINDS | {get_settings().staging_backend},
                freshness_policy=CATALOGUE_FRESHNESS,
            )
        ],
        name=staging_key(contract).to_python_identifier(),
        check_specs=_check_specs(contract),
        can_subset=True,  # see selected_checks
    )
    def _asset(
        context: dg.AssetExecutionContext, staging: StagingResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        raw, source_name = source.read(None)
        store = staging.store()
        store.ensure_tables()
        result = store.replace_table(contract, raw, source=source_name, batch_id=str(uuid.uuid4()))
        context.log.info(
            f"staged {result.rows_loaded} {contract.name}, rejected {result.rows_rejected}"
        )
        preview = pl.from_arrow(store.read(contract)).head(10)
        metadata = {**_load_metadata(raw.height, [result], source_name), **source.metadata}
        yield dg.MaterializeResult(metadata={**table_metadata(preview), **metadata})
        yield from selected_checks(context, _check_results(contract, [result]))

    return _asset


def _listens_asset(source: StagingSource) -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                staging_key(schemas.LISTENS),
                deps=[*source.deps, staging_key(schemas.TRACKS), staging_key(schemas.USERS)],
                description=(
                    "Typed listening events, one row per event. Events for unknown tracks or "
                    "users, with impossible durations or outside their day are rejected with the "
                    "reason."
                ),
                group_name="staging",
                kinds=KINDS | {get_settings().staging_backend},
                freshness_policy=DAILY_FRESHNESS,
            )
        ],
        name=staging_key(schemas.LISTENS).to_python_identifier(),
        partitions_def=daily_partitions,
        backfill_policy=single_run_backfill,
        check_specs=_check_specs(schemas.LISTENS),
        can_subset=True,  # see selected_checks
    )
    def staging_listens(
        context: dg.AssetExecutionContext, staging: StagingResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from _stage_listens(context, staging, source)

    return staging_listens


def _stage_listens(
    context: dg.AssetExecutionContext, staging: StagingResource, source: StagingSource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    store = staging.store()
    store.ensure_tables()
    known_keys = {
        "track_id": store.keys(schemas.TRACKS, "track_id"),
        "user_id": store.keys(schemas.USERS, "user_id"),
    }
    results: list[LoadResult] = []
    received = 0
    source_name = "unknown"
    for partition_key in context.partition_keys:
        raw, source_name = source.read(partition_key)
        received += raw.height
        result = store.replace_partition(
            schemas.LISTENS,
            raw,
            partition_key=partition_key,
            source=source_name,
            batch_id=str(uuid.uuid4()),
            known_keys=known_keys,
        )
        context.log.info(
            f"{partition_key}: staged {result.rows_loaded} events, rejected {result.rows_rejected}"
        )
        results.append(result)
    preview = pl.from_arrow(store.read(schemas.LISTENS, context.partition_keys[-1:])).head(10)
    yield dg.MaterializeResult(
        metadata={
            **table_metadata(preview),
            **_load_metadata(received, results, source_name),
            **source.metadata,
            "window": f"{context.partition_keys[0]} .. {context.partition_keys[-1]}",
        }
    )
    yield from selected_checks(context, _check_results(schemas.LISTENS, results))


def build_staging_assets(sources: dict[str, StagingSource]) -> list[dg.AssetsDefinition]:
    """staging/artists, tracks, users and listens, reading what `sources` say."""
    return [
        *(
            _catalogue_asset(contract, sources[contract.name])
            for contract in schemas.CATALOGUE_TABLES
        ),
        _listens_asset(sources[schemas.LISTENS.name]),
    ]
