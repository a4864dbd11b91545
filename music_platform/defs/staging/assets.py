"""Staging: raw records typed against the contract, with rejects kept and each load atomic.

A daily partition is replaced as a whole in one transaction, so rerunning a day is idempotent
and a crash mid-load leaves the previous day intact. Rows that fail typing or constraints go to
the `rejects` table with their reason. The reject rate and the volume (against the previous
loads) are blocking checks, judged before the write: a blocked load writes nothing, so the
previous partition or table stays whole.

Each table depends on every provider that can feed it; which ones do for a run, and how their
rows map to the contract, comes from the active selection (lib/sources/staging_rows.py), so
staging itself is source-agnostic. A day of listens also takes the events streamed for it
(stream/listen_events), inside the database in the transaction that replaces the day, and its
blocking checks judge the day with them. A listen of a track the catalogue does not (yet) know is
kept (dbt gives it an inferred track row) and flagged; only when such listens pass the share
MUSIC_PLATFORM_MIN_MATCH_RATE leaves does the day block.

Each source's reject limit is MUSIC_PLATFORM_MAX_REJECT_RATE unless MUSIC_PLATFORM_MAX_REJECT_RATES
sets its own (listens: the listening provider's; tracks, artists, users: `catalogue`).
"""

import datetime as dt
import statistics
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.shared.checks import refuse_checks_alone, selected_checks
from music_platform.defs.shared.keys import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    RAW_REAL_LISTENS,
    RAW_SYNTHETIC_ARTISTS,
    RAW_SYNTHETIC_LISTENS,
    RAW_SYNTHETIC_TRACKS,
    RAW_SYNTHETIC_USERS,
    STREAM_LISTEN_EVENTS,
    TRACK_IDENTITY,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.shared.keys import staging_key as _staging_key
from music_platform.defs.shared.metadata import (
    contract_column_schema,
    markdown_preview,
    table_metadata,
)
from music_platform.lib import schemas
from music_platform.lib.quality import compare, limits
from music_platform.lib.sources.selection import SourceSelection
from music_platform.lib.sources.staging_rows import staging_rows
from music_platform.lib.staging.store import LoadResult, PreparedLoad, StagingStore, prepare_load
from music_platform.lib.staging.validate import DUPLICATE_REASON_PREFIX
from music_platform.resources.sources import SourceProviders
from music_platform.resources.staging import StagingResource
from music_platform.settings import RejectLimit, Settings

if TYPE_CHECKING:
    import polars as pl

KINDS = {"python"}
# The providers each catalogue table can come from: the synthetic one, or the identity
# reconciled from the real ones.
CATALOGUE_PROVIDERS = {
    schemas.ARTISTS.name: (RAW_SYNTHETIC_ARTISTS, TRACK_IDENTITY),
    schemas.TRACKS.name: (RAW_SYNTHETIC_TRACKS, TRACK_IDENTITY),
    schemas.USERS.name: (RAW_SYNTHETIC_USERS, *RAW_REAL_LISTENS),
}
# A day of listens comes from one provider, with the events streamed for it.
LISTENS_PROVIDERS = (RAW_SYNTHETIC_LISTENS, *RAW_REAL_LISTENS, TRACK_IDENTITY, STREAM_LISTEN_EVENTS)
VOLUME_CHECK = "volume_as_expected"
DAILY_VOLUME_DAYS = 7
DAILY_VOLUME_MIN_DAYS = 3
DAILY_VOLUME_FLOOR = 100
DAILY_VOLUME_TOLERANCE = 10.0
UNKNOWN_TRACKS_CHECK = "tracks_in_catalogue"
MATCH_RATE_CHECK = "track_match_rate_above_threshold"


def staging_key(contract: schemas.TableContract) -> dg.AssetKey:
    return _staging_key(contract.name)


def _check_specs(contract: schemas.TableContract) -> list[dg.AssetCheckSpec]:
    key = staging_key(contract)
    listens = [
        dg.AssetCheckSpec(
            UNKNOWN_TRACKS_CHECK,
            asset=key,
            description="Every listen names a catalogued track; listens of tracks not yet in the "
            "catalogue are kept (an inferred row in dim_track) and counted.",
        ),
        dg.AssetCheckSpec(
            MATCH_RATE_CHECK,
            asset=key,
            blocking=True,
            description="At least MUSIC_PLATFORM_MIN_MATCH_RATE of the listens name a "
            "catalogued track.",
        ),
    ]
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
        *(listens if contract is schemas.LISTENS else []),
    ]


def _rejects_place(contract: schemas.TableContract, results: list[LoadResult]) -> str:
    days = sorted(result.partition_key for result in results if result.partition_key)
    window = f", partition_key {days[0]} .. {days[-1]}" if len(days) > 1 else ""
    day = f", partition_key '{days[0]}'" if len(days) == 1 else window
    return f"the staging rejects table (staging.rejects, table_name '{contract.name}'{day})"


def _reject_finding(
    contract: schemas.TableContract, results: list[LoadResult], limit: RejectLimit
) -> compare.Finding:
    """The reject rate of the loads, duplicates (dropped without alarm, counted apart) left
    out of both the rejects and the reasons."""
    loaded = sum(result.rows_loaded for result in results)
    rejected = sum(result.rows_rejected for result in results) - _deduplicated(results)
    reasons: dict[str, int] = {}
    for result in results:
        for reason, count in result.reject_reasons.items():
            if not reason.startswith(DUPLICATE_REASON_PREFIX):
                reasons[reason] = reasons.get(reason, 0) + count
    return limits.reject_rate(
        rejected,
        loaded + rejected,
        limit,
        reasons,
        where=_rejects_place(contract, results),
        what="records",
    )


def _check_results(
    contract: schemas.TableContract, results: list[LoadResult], limit: RejectLimit
) -> list[dg.AssetCheckResult]:
    rejects = _reject_finding(contract, results, limit)
    added = sorted({column for result in results for column in result.drift.added})
    missing = sorted({column for result in results for column in result.drift.missing})
    return [
        dg.AssetCheckResult(
            asset_key=staging_key(contract),
            check_name="reject_rate_within_threshold",
            passed=rejects.passed,
            metadata={
                **rejects.metadata,
                "loaded": sum(result.rows_loaded for result in results),
                "reasons": dg.MetadataValue.json(
                    _summed(result.reject_reasons for result in results)
                ),
            },
            description=rejects.description,
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


def _summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for each in counts:
        for name, count in each.items():
            total[name] = total.get(name, 0) + count
    return total


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


def _day_metadata(
    result: LoadResult, received: int, staged_rows: int, unknown_tracks: int
) -> dict[str, object]:
    """A day's own figures, attached to that partition's materialization alone: the numbers
    Dagster plots across partitions (volume, reject rate, match rate, duplicates, late events,
    freshness lag). `staged_rows` is what the partition holds after the load (the previous
    state when a blocking check refused it); `unknown_tracks` the day's listens of tracks not yet
    in the catalogue (kept and flagged)."""
    deduplicated = _deduplicated([result])
    rejected = result.rows_rejected - deduplicated
    judged = max(result.rows_loaded + rejected, 1)
    day_end = dt.datetime.combine(
        dt.date.fromisoformat(result.partition_key or "") + dt.timedelta(days=1), dt.time(), dt.UTC
    )
    lag = dt.datetime.now(dt.UTC) - day_end
    return {
        "dagster/row_count": dg.MetadataValue.int(staged_rows),
        "received": dg.MetadataValue.int(received),
        "rejected": dg.MetadataValue.int(rejected),
        "deduplicated": dg.MetadataValue.int(deduplicated),
        "flagged": dg.MetadataValue.int(unknown_tracks),
        "late": dg.MetadataValue.int(result.streamed.late if result.streamed else 0),
        "reject_rate": dg.MetadataValue.float(round(rejected / judged, 6)),
        # Share of the day's events whose track the staged catalogue knows.
        "match_rate": dg.MetadataValue.float(round(1 - unknown_tracks / judged, 6)),
        # How long after the day ended its listens were staged.
        "freshness_lag_hours": dg.MetadataValue.float(round(lag.total_seconds() / 3600, 2)),
        "batch_ids": [result.batch_id],
        "blocked": _blocked(result.refused) if result.refused else "no",
    }


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


def _refusal(
    contract: schemas.TableContract,
    result: LoadResult,
    volume: compare.Finding,
    limit: RejectLimit,
    match: compare.Finding | None = None,
) -> str | None:
    """Why a blocking check fails on the load (too many rejected, an unexpected volume, too
    few listens of catalogued tracks), if one does."""
    where = result.partition_key or result.table_name
    rejects = _reject_finding(contract, [result], limit)
    for finding in (rejects, volume, match):
        if finding is not None and not finding.passed:
            return f"{where}: {finding.description}"
    return None


def _write_unless_blocked(
    store: StagingStore, prepared: PreparedLoad, volume: compare.Finding, limit: RejectLimit
) -> tuple[LoadResult, str | None]:
    """Write the load unless a blocking check would fail on it: then the previous partition
    (or table) stays whole, and the reason is returned."""
    reason = _refusal(prepared.contract, prepared.result(0), volume, limit)
    if reason is not None:
        return prepared.result(0), reason
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


def _blocked(reason: str) -> str:
    return f"not written, the previous state stays: {reason}"


def _catalogue_asset(contract: schemas.TableContract) -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                staging_key(contract),
                deps=list(CATALOGUE_PROVIDERS[contract.name]),
                description=f"Typed {contract.name}, one row per {contract.primary_key[0]}.",
                metadata={"dagster/column_schema": contract_column_schema(contract)},
                group_name="staging",
                kinds=KINDS,
                freshness_policy=CATALOGUE_FRESHNESS,
            )
        ],
        name=staging_key(contract).to_python_identifier(),
        check_specs=_check_specs(contract),
        can_subset=True,  # see selected_checks
    )
    def _asset(
        context: dg.AssetExecutionContext,
        settings: dg.ResourceParam[Settings],
        sources: dg.ResourceParam[SourceProviders],
        staging: dg.ResourceParam[StagingResource],
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        import polars as pl

        refuse_checks_alone(context)
        selection = sources.selection()
        raw, source_name = staging_rows(contract, selection, settings, None)
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
        limit = settings.reject_limit("synthetic" if selection.synthetic else "catalogue")
        result, blocked = _write_unless_blocked(store, prepared, volume, limit)
        context.log.info(
            f"staged {result.rows_loaded} {contract.name}, rejected {result.rows_rejected}"
            + (f"; blocked: {blocked}" if blocked else "")
        )
        preview = pl.from_arrow(store.read(contract)).head(10)
        metadata = {
            **_load_metadata(raw.height, [result], source_name),
            **selection.as_metadata(),
            "engine": staging.engine,
            **({"blocked": _blocked(blocked)} if blocked else {}),
        }
        yield dg.MaterializeResult(metadata={**table_metadata(preview), **metadata})
        checks = [*_check_results(contract, [result], limit), _volume_check(contract, [volume])]
        yield from selected_checks(context, checks)

    return _asset


def _listens_asset() -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                staging_key(schemas.LISTENS),
                deps=[*LISTENS_PROVIDERS, staging_key(schemas.TRACKS), staging_key(schemas.USERS)],
                description=(
                    "Typed listening events, one row per event: the source's and those streamed "
                    "for the day. Events for unknown users, with impossible durations or outside "
                    "their day are rejected with the reason; those of tracks not yet in the "
                    "catalogue are kept and flagged."
                ),
                metadata={"dagster/column_schema": contract_column_schema(schemas.LISTENS)},
                group_name="staging",
                kinds=KINDS,
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
        context: dg.AssetExecutionContext,
        settings: dg.ResourceParam[Settings],
        sources: dg.ResourceParam[SourceProviders],
        staging: dg.ResourceParam[StagingResource],
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        refuse_checks_alone(context)
        yield from _stage_listens(context, settings, sources.selection(), staging)

    return staging_listens


def _stage_listens(
    context: dg.AssetExecutionContext,
    settings: Settings,
    selection: SourceSelection,
    staging: StagingResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    limit = settings.reject_limit(selection.listens.value)
    store = staging.store()
    store.ensure_tables()
    # A listen of a track not (yet) in the catalogue is kept and counted, not rejected.
    catalogued = store.keys(schemas.TRACKS, "track_id")
    known_keys = {"user_id": store.keys(schemas.USERS, "user_id")}
    durations = pl.from_arrow(store.read(schemas.TRACKS)).select("track_id", "duration_ms")
    history = _partition_history(store)
    results: list[LoadResult] = []
    volumes: list[compare.Finding] = []
    unknown = _UnknownTracks(settings.min_match_rate)
    source_name = "unknown"
    for partition_key in context.partition_keys:
        raw, source_name = _read_day(selection, settings, store, partition_key)
        prepared = prepare_load(
            schemas.LISTENS,
            raw,
            partition_key=partition_key,
            source=source_name,
            batch_id=str(uuid.uuid4()),
            known_keys=known_keys,
            track_durations=durations,
        )
        batch_unknown = prepared.rows.filter(~pl.col("track_id").is_in(catalogued.implode()))
        judge = _DayChecks(partition_key, history, limit, unknown, batch_unknown.height)
        result = store.write(prepared, include_streamed=True, accept=judge)
        unknown.add(result, batch_unknown["track_id"], judge.unknown, judge.match)
        reason = result.refused
        if reason is None:
            history[partition_key] = result.rows_loaded
        context.log.info(
            f"{partition_key}: staged {result.rows_loaded} events "
            f"({result.streamed.loaded if result.streamed else 0} streamed), "
            f"rejected {result.rows_rejected}, {judge.unknown} of tracks not yet in the catalogue"
            + (f"; blocked: {reason}" if reason else "")
        )
        results.append(result)
        volumes.append(judge.volume)
        received_today = raw.height + (result.streamed.received if result.streamed else 0)
        staged_rows = store.count(schemas.LISTENS, partition_key) if reason else result.rows_loaded
        context.add_asset_metadata(
            _day_metadata(result, received_today, staged_rows, judge.unknown),
            partition_key=partition_key,
        )
    preview = pl.from_arrow(store.read(schemas.LISTENS, context.partition_keys[-1:])).head(10)
    # The window's shared metadata; each day's figures (added above per partition) replace its
    # counts in that day's materialization.
    yield dg.MaterializeResult(
        metadata={
            "preview": markdown_preview(preview),
            "source": source_name,
            "drift": dg.MetadataValue.json(_drift(results)),
            "load_seconds": round(sum(r.seconds for r in results), 3),
            **selection.as_metadata(),
            "engine": staging.engine,
            "window": f"{context.partition_keys[0]} .. {context.partition_keys[-1]}",
        }
    )
    checks = [
        *_check_results(schemas.LISTENS, results, limit),
        _volume_check(schemas.LISTENS, volumes),
        *unknown.checks(),
    ]
    failed_days = {
        "reject_rate_within_threshold": [
            result.partition_key or ""
            for result in results
            if not _reject_finding(schemas.LISTENS, [result], limit).passed
        ],
        VOLUME_CHECK: [
            day
            for day, finding in zip(context.partition_keys, volumes, strict=True)
            if not finding.passed
        ],
    }
    window = context.partition_keys
    yield from selected_checks(
        context,
        [
            _naming_partitions(check, window, failed_days.get(check.check_name, []))
            for check in checks
        ],
    )


def _naming_partitions(
    check: dg.AssetCheckResult, window: list[str], failed_days: list[str]
) -> dg.AssetCheckResult:
    """The check's result with the partitions it judged and, failing, the days that failed
    first, so the run's and the check's pages say which day failed and why."""
    judged = window[0] if len(window) == 1 else f"{window[0]} .. {window[-1]}"
    failed = ", ".join(day for day in failed_days if day)
    where = f"failed on {failed}" if failed and not check.passed else f"partitions {judged}"
    return dg.AssetCheckResult(
        asset_key=check.asset_key,
        check_name=check.check_name,
        passed=check.passed,
        severity=check.severity,
        metadata={**check.metadata, "partitions": judged, "failed_partitions": failed or "none"},
        description=f"{where}: {check.description}",
    )


def _read_day(
    selection: SourceSelection, settings: Settings, store: StagingStore, partition_key: str
) -> tuple["pl.DataFrame", str]:
    """The active provider's rows of the day and the load's source name. A day the provider
    has not landed but the stream has events for is staged from the stream alone (the
    provider's run adds its rows later)."""
    import polars as pl

    from music_platform.lib.events import LISTEN_EVENTS

    streamed = store.count(LISTEN_EVENTS, partition_key) > 0
    try:
        raw, name = staging_rows(schemas.LISTENS, selection, settings, partition_key)
    except FileNotFoundError:
        if not streamed:
            raise
        return pl.DataFrame(schema=schemas.LISTENS.columns), "stream"
    return raw, f"{name}+stream" if streamed else name or "unknown"


@dataclass
class _DayChecks:
    """The blocking checks of a day of listens, which the store runs on the day's final counts
    (its streamed events included) inside the load's transaction: a failure rolls it back."""

    partition_key: str
    history: dict[str, int]
    limit: RejectLimit
    unknown_tracks: "_UnknownTracks"
    batch_unknown: int
    """The day's batch rows of tracks not in the catalogue."""
    volume: compare.Finding = field(default_factory=lambda: compare.Finding(True, "not judged"))
    match: compare.Finding = field(default_factory=lambda: compare.Finding(True, "not judged"))
    unknown: int = 0
    """The day's loaded listens of tracks not in the catalogue, streamed ones included."""

    def __call__(self, result: LoadResult) -> str | None:
        self.volume = _daily_volume(result.rows_loaded, self.partition_key, self.history)
        self.unknown = self.batch_unknown + (
            result.streamed.unknown_tracks if result.streamed else 0
        )
        self.match = self.unknown_tracks.match_rate(self.unknown, result.rows_loaded)
        return _refusal(schemas.LISTENS, result, self.volume, self.limit, self.match)


@dataclass
class _UnknownTracks:
    """Listens of tracks the catalogue does not (yet) know: kept (dbt gives each such track an
    inferred row until the catalogue catches up), counted and flagged by a warning; the day
    blocks only when fewer than `min_match_rate` of its listens name a catalogued track."""

    min_match_rate: float
    listens: int = 0
    loaded: int = 0
    examples: list[str] = field(default_factory=list)
    blocked_days: list[str] = field(default_factory=list)

    def add(
        self, result: LoadResult, batch_tracks: "pl.Series", unknown: int, match: compare.Finding
    ) -> None:
        """Count a day's load: its listens if written, its match rate if that blocked it."""
        if not match.passed:
            self.blocked_days.append(f"{result.partition_key}: {match.description}")
        if result.refused is not None:
            return
        self.listens += unknown
        self.loaded += result.rows_loaded
        for track_id in batch_tracks.unique(maintain_order=True).head(5).to_list():
            if len(self.examples) < 5 and track_id not in self.examples:
                self.examples.append(track_id)

    def match_rate(self, unknown: int, loaded: int) -> compare.Finding:
        share = 1 - unknown / loaded if loaded else 1.0
        passed = share >= self.min_match_rate
        return compare.Finding(
            passed,
            f"{share:.1%} of {loaded} listens name a catalogued track (minimum "
            f"{self.min_match_rate:.0%}, MUSIC_PLATFORM_MIN_MATCH_RATE)"
            + (
                ""
                if passed
                else "; load the catalogue that holds their tracks, or lower the minimum"
            ),
            {
                "track_match_rate": share,
                "threshold": self.min_match_rate,
                "unknown_track_listens": unknown,
                "listens": loaded,
            },
        )

    def checks(self) -> list[dg.AssetCheckResult]:
        key = staging_key(schemas.LISTENS)
        share = self.listens / self.loaded if self.loaded else 0.0
        match = self.match_rate(self.listens, self.loaded)
        return [
            dg.AssetCheckResult(
                asset_key=key,
                check_name=UNKNOWN_TRACKS_CHECK,
                passed=self.listens == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "unknown_track_listens": self.listens,
                    "listens": self.loaded,
                    "unknown_share": share,
                    "examples": self.examples,
                },
                description=(
                    f"{self.listens} of {self.loaded} listens ({share:.2%}) name a track not yet "
                    "in the catalogue: kept, each such track with an inferred row in dim_track "
                    "until the catalogue catches up"
                    + (f" (e.g. {', '.join(self.examples)})" if self.examples else "")
                ),
            ),
            dg.AssetCheckResult(
                asset_key=key,
                check_name=MATCH_RATE_CHECK,
                passed=not self.blocked_days,
                metadata=dict(match.metadata),
                description="; ".join(self.blocked_days) or match.description,
            ),
        ]


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


staging_assets = [
    *(_catalogue_asset(contract) for contract in schemas.CATALOGUE_TABLES),
    _listens_asset(),
]
