"""Staging: raw records typed against the contract, with rejects kept and each load atomic.

A daily partition is replaced as a whole in one transaction, so rerunning a day is idempotent
and a crash mid-load leaves the previous day intact. Rows that fail typing or constraints go to
the `rejects` table with their reason. The reject rate and the volume (against the previous
loads) are blocking checks, judged before the write: a blocked load writes nothing, so the
previous partition or table stays whole.

Which raw assets feed each table, and how their rows map to the contract, comes from the active
sources' `StagingSource` (defs/sources/providers.py); staging itself is source-agnostic.
"""

import statistics
import uuid
from collections.abc import Iterator

import dagster as dg

from music_platform.defs.partitions import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.shared.metadata import table_metadata
from music_platform.defs.sources.providers import StagingSource
from music_platform.defs.staging.resources import StagingResource
from music_platform.lib import schemas
from music_platform.lib.quality import compare
from music_platform.lib.staging.store import LoadResult, PreparedLoad, StagingStore, prepare_load
from music_platform.lib.staging.validate import DUPLICATE_REASON_PREFIX
from music_platform.settings import get_settings

KINDS = {"python"}
VOLUME_CHECK = "volume_as_expected"
DAILY_VOLUME_DAYS = 7
DAILY_VOLUME_MIN_DAYS = 3
DAILY_VOLUME_FLOOR = 100
DAILY_VOLUME_TOLERANCE = 10.0


def staging_key(contract: schemas.TableContract) -> dg.AssetKey:
    return dg.AssetKey(["staging", contract.name])


def _check_specs(contract: schemas.TableContract) -> list[dg.AssetCheckSpec]:
    key = staging_key(contract)
    return [
        dg.AssetCheckSpec(
            VOLUME_CHECK,
            asset=key,
            blocking=True,
            description="Not empty, and not far from the previous loads (days: their median).",
        ),
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


def refuse_checks_alone(context: dg.AssetExecutionContext) -> None:
    """These checks judge the load they run with, so a launch of them without their asset (which
    can_subset allows, from the UI say) fails saying what to launch instead."""
    if context.selected_asset_keys:
        return
    selected = context.selected_asset_check_keys
    checks = ", ".join(sorted(check.name for check in selected))
    assets = ", ".join(sorted({check.asset_key.to_user_string() for check in selected}))
    raise dg.Failure(
        description=(
            f"the checks {checks} judge the load they run with and cannot run on their own: "
            f"materialize {assets} to run them"
        )
    )


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


def _reject_rate(prepared: PreparedLoad) -> float:
    """Rejected share of a prepared load, duplicates (dropped without alarm) left out."""
    duplicates = sum(
        count
        for reason, count in prepared.validation.reject_reasons.items()
        if reason.startswith(DUPLICATE_REASON_PREFIX)
    )
    rejected = prepared.rejects.height - duplicates
    return rejected / max(prepared.rows.height + rejected, 1)


def _write_unless_blocked(
    store: StagingStore, prepared: PreparedLoad, volume: compare.Finding
) -> tuple[LoadResult, str | None]:
    """Write the load unless a blocking check would fail on it: then the previous partition
    (or table) stays whole, and the reason is returned."""
    threshold = get_settings().max_reject_rate
    rate = _reject_rate(prepared)
    where = prepared.partition_key or prepared.contract.name
    if rate > threshold:
        return prepared.result(0), f"{where}: {rate:.2%} rejected (limit {threshold:.2%})"
    if not volume.passed:
        return prepared.result(0), f"{where}: {volume.description}"
    return store.write(prepared), None


def _volume_check(
    contract: schemas.TableContract, findings: list[compare.Finding]
) -> dg.AssetCheckResult:
    failed = [finding for finding in findings if not finding.passed]
    shown = failed or findings[-1:]
    return dg.AssetCheckResult(
        asset_key=staging_key(contract),
        check_name=VOLUME_CHECK,
        passed=not failed,
        metadata=dict(shown[0].metadata) if shown else {},
        description="; ".join(finding.description for finding in shown) or "nothing loaded",
    )


def _blocked_metadata(blocked: list[str]) -> dict[str, str]:
    if not blocked:
        return {}
    return {"blocked": "not written, the previous state stays: " + "; ".join(blocked)}


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
        import polars as pl

        refuse_checks_alone(context)
        raw, source_name = source.read(None)
        store = staging.store()
        store.ensure_tables()
        prepared = prepare_load(
            contract,
            raw,
            partition_key=None,
            source=source_name,
            batch_id=str(uuid.uuid4()),
            known_keys=None,
        )
        previous = store.count(contract)
        volume = (
            compare.volume(prepared.rows.height, previous, what=f"{contract.name}")
            if previous
            else compare.Finding(True, f"{prepared.rows.height} rows; nothing staged before")
        )
        result, blocked = _write_unless_blocked(store, prepared, volume)
        context.log.info(
            f"staged {result.rows_loaded} {contract.name}, rejected {result.rows_rejected}"
            + (f"; blocked: {blocked}" if blocked else "")
        )
        preview = pl.from_arrow(store.read(contract)).head(10)
        metadata = {
            **_load_metadata(raw.height, [result], source_name),
            **source.metadata,
            **_blocked_metadata([blocked] if blocked else []),
        }
        yield dg.MaterializeResult(metadata={**table_metadata(preview), **metadata})
        yield from selected_checks(
            context, [*_check_results(contract, [result]), _volume_check(contract, [volume])]
        )

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
        refuse_checks_alone(context)
        yield from _stage_listens(context, staging, source)

    return staging_listens


def _stage_listens(
    context: dg.AssetExecutionContext, staging: StagingResource, source: StagingSource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    store = staging.store()
    store.ensure_tables()
    known_keys = {
        "track_id": store.keys(schemas.TRACKS, "track_id"),
        "user_id": store.keys(schemas.USERS, "user_id"),
    }
    durations = pl.from_arrow(store.read(schemas.TRACKS)).select("track_id", "duration_ms")
    history = _partition_history(store)
    results: list[LoadResult] = []
    volumes: list[compare.Finding] = []
    blocked: list[str] = []
    received = 0
    source_name = "unknown"
    for partition_key in context.partition_keys:
        raw, source_name = source.read(partition_key)
        received += raw.height
        prepared = prepare_load(
            schemas.LISTENS,
            raw,
            partition_key=partition_key,
            source=source_name,
            batch_id=str(uuid.uuid4()),
            known_keys=known_keys,
            track_durations=durations,
        )
        volume = _daily_volume(prepared.rows.height, partition_key, history)
        result, reason = _write_unless_blocked(store, prepared, volume)
        if reason is None:
            history[partition_key] = result.rows_loaded
        else:
            blocked.append(reason)
        context.log.info(
            f"{partition_key}: staged {result.rows_loaded} events, rejected {result.rows_rejected}"
            + (f"; blocked: {reason}" if reason else "")
        )
        results.append(result)
        volumes.append(volume)
    preview = pl.from_arrow(store.read(schemas.LISTENS, context.partition_keys[-1:])).head(10)
    yield dg.MaterializeResult(
        metadata={
            **table_metadata(preview),
            **_load_metadata(received, results, source_name),
            **source.metadata,
            "window": f"{context.partition_keys[0]} .. {context.partition_keys[-1]}",
            **_blocked_metadata(blocked),
        }
    )
    checks = [*_check_results(schemas.LISTENS, results), _volume_check(schemas.LISTENS, volumes)]
    yield from selected_checks(context, checks)


def _partition_history(store: StagingStore) -> dict[str, int]:
    """Rows of the latest load of each staged listens partition."""
    batches = store.batches(schemas.LISTENS.name)
    if batches.is_empty():
        return {}
    latest = batches.sort("finished_at").unique("partition_key", keep="last")
    return dict(zip(latest["partition_key"], latest["rows"], strict=True))


def _daily_volume(rows: int, partition_key: str, history: dict[str, int]) -> compare.Finding:
    """A day against the median of the DAILY_VOLUME_DAYS days staged before it. Feeds under
    DAILY_VOLUME_FLOOR rows a day (one listener's history) vary too much to judge, and so does
    a median of fewer than DAILY_VOLUME_MIN_DAYS days (one quiet day after a busy one is no
    failed feed)."""
    before = sorted(key for key in history if key < partition_key)[-DAILY_VOLUME_DAYS:]
    typical = int(statistics.median(history[key] for key in before)) if before else 0
    if len(before) < DAILY_VOLUME_MIN_DAYS or typical < DAILY_VOLUME_FLOOR:
        return compare.Finding(
            True, f"{partition_key}: {rows} rows; too little history to compare", {"rows": rows}
        )
    return compare.volume(rows, typical, what=f"{partition_key}", tolerance=DAILY_VOLUME_TOLERANCE)


def build_staging_assets(sources: dict[str, StagingSource]) -> list[dg.AssetsDefinition]:
    """staging/artists, tracks, users and listens, reading what `sources` say."""
    return [
        *(
            _catalogue_asset(contract, sources[contract.name])
            for contract in schemas.CATALOGUE_TABLES
        ),
        _listens_asset(sources[schemas.LISTENS.name]),
    ]
