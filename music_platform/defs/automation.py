"""Operations: the daily schedule, declarative automation, the file sensor and failure records.

- `daily_sources_schedule` runs the daily raw sources and everything downstream of them for
  yesterday's partition, in one run (single-run backfill policies: one dbt invocation).
- Every other asset with parents follows them (`FOLLOW_PARENTS`, or `FOLLOW_DAILY_PARENTS`
  when it reads every day of a daily parent): eager, but never while a parent is in progress
  or while a parent's blocking check is failing. Other roots (catalogues) refresh at midnight
  UTC (`REFRESH_DAILY`) so their freshness policy holds; the file source waits for its sensor.
  Assets whose owners set a condition keep it.
- `external_files_sensor` lands a Kaggle-format CSV dropped in `$MUSIC_PLATFORM_HOME/external/`
  through raw/kaggle_tracks and everything downstream of it, once per distinct file content;
  `external_events_files_sensor` does the same for JSON-lines listening events through
  raw/listen_events_file, for the days the new file holds. Both exist in every environment.
- `record_run_failures` appends every failed run to `$MUSIC_PLATFORM_HOME/ops/run_failures.jsonl`
  (read by `music-platform status`) and logs it on the sensor's tick in the UI.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

# A partition range as one run's tags: Dagster reads these names but exports no constants.
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from music_platform.defs.shared.keys import (
    RAW_KAGGLE_TRACKS,
    RAW_LISTEN_EVENTS_FILE,
    daily_partitions,
)
from music_platform.lib.sources.events_file import days_held
from music_platform.lib.sources.selection import CATALOGUE_FILE_PATTERN, EVENTS_FILE_PATTERN
from music_platform.settings import Settings

# The file providers; the file sensors land dropped files through them.
KAGGLE_TRACKS_KEY = RAW_KAGGLE_TRACKS
EVENTS_FILE_KEY = RAW_LISTEN_EVENTS_FILE

DAILY_JOB_NAME = "daily_sources_job"
# Yesterday's partition is complete at midnight UTC; catalogues refresh first, at midnight.
DAILY_RUN_HOUR_UTC = 1
CATALOGUE_REFRESH_CRON = "0 0 * * *"

# Eager already waits while any parent is in progress and while the asset itself runs; on top,
# a parent whose blocking check failed must not feed its children until it passes again.
# A parent blocks its children until its blocking checks passed (a check whose run died has not
# passed), unless it runs in the same run: there its failing blocking check stops them. Every
# provider has its raw assets in the graph and only the active ones land a given day, so a raw
# day another provider never ran for is no missing parent and its never-run checks block
# nothing; a raw parent blocks when one of its blocking checks failed.
RAW_PROVIDERS = dg.AssetSelection.key_prefixes(["raw"])
PARENTS_NOT_BLOCKED = dg.AutomationCondition.all_deps_match(
    dg.AutomationCondition.will_be_requested()
    | dg.AutomationCondition.all_checks_match(
        dg.AutomationCondition.check_passed(), blocking_only=True
    )
).ignore(RAW_PROVIDERS) & ~dg.AutomationCondition.any_deps_match(
    dg.AutomationCondition.any_checks_match(
        dg.AutomationCondition.check_failed(), blocking_only=True
    )
)
FOLLOW_PARENTS = (
    dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
    & ~dg.AutomationCondition.any_deps_missing().ignore(RAW_PROVIDERS)
    & PARENTS_NOT_BLOCKED
).with_label("eager_unless_blocked")
# An unpartitioned asset reading every day of a daily parent (the recommender): eager's "no
# parent missing" would wait for every day since the partitions start, so a new day is enough.
# Automation runs only one partitions definition's assets together, so such an asset follows
# in a run of its own; the daily path itself stays daily from staging to the marts, so a new
# day is one run.
FOLLOW_DAILY_PARENTS = (
    dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
    & PARENTS_NOT_BLOCKED
).with_label("eager_on_any_day_unless_blocked")
REFRESH_DAILY = dg.AutomationCondition.on_cron(CATALOGUE_REFRESH_CRON)

AUTOMATION_SENSOR_INTERVAL_SECONDS = 30
FILE_SENSOR_INTERVAL_SECONDS = 15
EXTERNAL_FILE_PATTERN = CATALOGUE_FILE_PATTERN
# A file modified this recently may still be being copied in; it is picked up on a later tick.
FILE_SETTLE_SECONDS = 2.0


def daily_sources(graph: dg.AssetGraph) -> list[dg.AssetKey]:
    """The daily-partitioned raw sources: what the daily schedule starts from."""
    return sorted(
        (
            key
            for key in graph.materializable_asset_keys
            if key.path[0] == "raw" and graph.get(key).partitions_def == daily_partitions
        ),
        key=lambda key: key.to_user_string(),
    )


def _reads_all_days(graph: dg.AssetGraph) -> set[dg.AssetKey]:
    """Unpartitioned assets with a daily-partitioned parent."""
    return {
        key
        for key in graph.materializable_asset_keys
        if not graph.get(key).is_partitioned
        and any(graph.get(parent).is_partitioned for parent in graph.get(key).parent_keys)
    }


def _with_condition(
    spec: dg.AssetSpec,
    driven_elsewhere: set[dg.AssetKey],
    reads_all_days: set[dg.AssetKey],
    externally_fed: set[dg.AssetKey],
) -> dg.AssetSpec:
    # Owners' own conditions win; daily sources run on the schedule, file sources on the sensor.
    if spec.automation_condition is not None or spec.key in driven_elsewhere:
        return spec
    if spec.key in reads_all_days:
        # A dropped catalogue file lands alone (its sensor); what is built from it refreshes
        # with the next daily run rather than cascading through the catalogue at once.
        follow = FOLLOW_DAILY_PARENTS
        if KAGGLE_TRACKS_KEY in {dep.asset_key for dep in spec.deps}:
            follow = follow.ignore(dg.AssetSelection.assets(KAGGLE_TRACKS_KEY))
        return spec.replace_attributes(automation_condition=follow)
    fed_from_outside = {dep.asset_key for dep in spec.deps} & externally_fed
    if fed_from_outside:
        # An external parent (the Kafka stream) updates all the time; its sensor requests
        # the days it completes, so its updates alone do not rerun the child.
        follow = FOLLOW_PARENTS.ignore(dg.AssetSelection.assets(*fed_from_outside))
        return spec.replace_attributes(automation_condition=follow)
    if list(spec.deps):
        return spec.replace_attributes(automation_condition=FOLLOW_PARENTS)
    return spec.replace_attributes(automation_condition=REFRESH_DAILY)


@dataclass(frozen=True)
class FileFingerprint:
    mtime_ns: int
    size: int
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scan_external_files(
    folder: Path,
    seen: dict[str, FileFingerprint],
    *,
    now: float | None = None,
    pattern: str = EXTERNAL_FILE_PATTERN,
) -> tuple[dict[str, FileFingerprint], list[str]]:
    """Fingerprint the settled files `folder` holds that the file source reads; return them and
    the names whose content is new. A file is hashed only when its size or mtime moved, so an
    idle tick reads no data."""
    now = time.time() if now is None else now
    current: dict[str, FileFingerprint] = {}
    changed: list[str] = []
    paths = sorted(folder.glob(pattern)) if folder.is_dir() else []
    for path in paths:
        if not path.is_file():
            continue
        stat = path.stat()
        previous = seen.get(path.name)
        if now - stat.st_mtime < FILE_SETTLE_SECONDS:
            if previous is not None:
                current[path.name] = previous  # still being written: keep what we knew
            continue
        if previous and (previous.mtime_ns, previous.size) == (stat.st_mtime_ns, stat.st_size):
            current[path.name] = previous
            continue
        fingerprint = FileFingerprint(stat.st_mtime_ns, stat.st_size, _sha256(path))
        current[path.name] = fingerprint
        if previous is None or previous.sha256 != fingerprint.sha256:
            changed.append(path.name)
    return current, changed


def _load_cursor(cursor: str | None) -> dict[str, FileFingerprint]:
    if not cursor:
        return {}
    return {name: FileFingerprint(**values) for name, values in json.loads(cursor).items()}


def _dump_cursor(files: dict[str, FileFingerprint]) -> str:
    return json.dumps({name: asdict(entry) for name, entry in files.items()}, sort_keys=True)


def build_external_files_sensor(
    asset_key: dg.AssetKey = KAGGLE_TRACKS_KEY,
    *,
    name: str = "external_files_sensor",
    pattern: str = EXTERNAL_FILE_PATTERN,
    by_days_held: bool = False,
    minimum_interval_seconds: int = FILE_SENSOR_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    """Request `asset_key` (and, for events files, everything downstream of it; for a catalogue
    file that follows with the next daily run) when a file in the external folder
    matching `pattern` is new or its content changed. The cursor maps file name -> mtime, size
    and sha256. `by_days_held`: the run covers the days the new events files hold (one range),
    not the latest day."""
    selection = dg.AssetSelection.assets(asset_key).downstream()

    @dg.sensor(
        name=name,
        target=selection,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Lands files dropped in $MUSIC_PLATFORM_HOME/external/ through "
            f"{asset_key.to_user_string()} and everything downstream, once per file content."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
    ) -> dg.SensorResult | dg.SkipReason:
        folder = settings.external_dir
        files, changed = scan_external_files(folder, _load_cursor(context.cursor), pattern=pattern)
        cursor = _dump_cursor(files)
        if not changed:
            if cursor != (context.cursor or "{}"):
                return dg.SensorResult(cursor=cursor, skip_reason=f"no new content in {folder}")
            return dg.SkipReason(f"no new content in {folder}")
        graph = context.repository_def.asset_graph
        targets = sorted(selection.resolve(graph), key=lambda key: key.to_user_string())
        partition_key = None
        tags = {"music_platform/external_files": ",".join(changed)[:200]}
        if not by_days_held:
            # A catalogue file lands alone; what is built from it refreshes with the next daily
            # run (on a fresh platform its other parents have not landed yet).
            targets = [asset_key]
        if by_days_held:
            partitions = set(daily_partitions.get_partition_keys())
            days = sorted(set(days_held([folder / n for n in changed])) & partitions)
            if not days:
                return dg.SensorResult(
                    cursor=cursor, skip_reason=f"{', '.join(changed)}: no event on a partition day"
                )
            partition_key = None
            tags |= {
                ASSET_PARTITION_RANGE_START_TAG: days[0],
                ASSET_PARTITION_RANGE_END_TAG: days[-1],
            }
        run_key = hashlib.sha256(
            json.dumps({n: asdict(files[n]) for n in changed}, sort_keys=True).encode()
        ).hexdigest()[:32]
        context.log.info(f"new content in {folder}: {', '.join(changed)}")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=run_key,
                    asset_selection=targets,
                    partition_key=partition_key,
                    tags=tags,
                )
            ],
            cursor=cursor,
        )

    return _sensor


def run_failures_log(settings: Settings) -> Path:
    """Where failed runs are recorded, one JSON object per line."""
    return settings.home_dir / "ops" / "run_failures.jsonl"


def _root_cause(event: dg.DagsterEvent) -> str:
    """The innermost error of a step failure: the user's exception, not Dagster's wrapper."""
    error = event.step_failure_data.error if event.step_failure_data else None
    if error is None:
        return event.message or ""
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines()
    return lines[0][:500] if lines else error.cls_name or ""


def _failure_record(context: dg.RunFailureSensorContext) -> dict:
    run = context.dagster_run
    planned = context.instance.all_logs(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    )
    steps = [
        {"step": event.step_key, "error": _root_cause(event)}
        for event in context.get_step_failure_events()
    ]
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "assets": sorted(
            {
                record.dagster_event.asset_key.to_user_string()
                for record in planned
                if record.dagster_event and record.dagster_event.asset_key
            }
        ),
        "partition": run.tags.get("dagster/partition"),
        "partition_range": [
            run.tags.get("dagster/asset_partition_range_start"),
            run.tags.get("dagster/asset_partition_range_end"),
        ]
        if "dagster/asset_partition_range_start" in run.tags
        else None,
        "launched_by": next(
            (
                f"{kind}:{run.tags[tag]}"
                for kind, tag in (
                    ("schedule", "dagster/schedule_name"),
                    ("sensor", "dagster/sensor_name"),
                    ("backfill", "dagster/backfill"),
                )
                if tag in run.tags
            ),
            "manual",
        ),
        "message": context.failure_event.message,
        "failed_steps": steps,
    }


@dg.run_failure_sensor(
    name="record_run_failures",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Appends every failed run (steps, errors, partition, who launched it) to "
        "$MUSIC_PLATFORM_HOME/ops/run_failures.jsonl, shown by `music-platform status`."
    ),
)
def record_run_failures(
    context: dg.RunFailureSensorContext, settings: dg.ResourceParam[Settings]
) -> None:
    record = _failure_record(context)
    path = run_failures_log(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(record, sort_keys=True) + "\n")
    failed_steps = ", ".join(step["step"] or "?" for step in record["failed_steps"]) or "none"
    context.log.error(
        f"run {record['run_id']} of {record['job']} failed (steps: {failed_steps}); "
        f"recorded in {path}"
    )


def with_automation(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with automation conditions on its assets, plus the schedule and sensors."""
    graph = defs.resolve_asset_graph()
    scheduled = daily_sources(graph)
    driven_elsewhere = {KAGGLE_TRACKS_KEY, *scheduled}
    reads_all_days = _reads_all_days(graph)
    externally_fed = set(graph.get_all_asset_keys()) - set(graph.materializable_asset_keys)
    with warnings.catch_warnings():
        # `Definitions.map_asset_specs` is marked preview; the replacement is the documented way.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        automated = defs.map_asset_specs(
            func=lambda spec: _with_condition(
                spec, driven_elsewhere | externally_fed, reads_all_days, externally_fed
            )
        )
    daily_job = dg.define_asset_job(
        DAILY_JOB_NAME,
        selection=dg.AssetSelection.assets(*scheduled).downstream(),
        partitions_def=daily_partitions,
        description="The daily raw sources and everything downstream, for one day.",
    )
    sensors: list[dg.SensorDefinition] = [
        dg.AutomationConditionSensorDefinition(
            "automation_condition_sensor",
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=AUTOMATION_SENSOR_INTERVAL_SECONDS,
            description="Evaluates every asset's automation condition.",
        ),
        record_run_failures,
        build_external_files_sensor(KAGGLE_TRACKS_KEY),
        build_external_files_sensor(
            EVENTS_FILE_KEY,
            name="external_events_files_sensor",
            pattern=EVENTS_FILE_PATTERN,
            by_days_held=True,
        ),
    ]
    return dg.Definitions.merge(
        automated,
        dg.Definitions(
            jobs=[daily_job],
            schedules=[
                dg.build_schedule_from_partitioned_job(
                    daily_job,
                    hour_of_day=DAILY_RUN_HOUR_UTC,
                    default_status=dg.DefaultScheduleStatus.RUNNING,
                    name="daily_sources_schedule",
                )
            ],
            sensors=sensors,
        ),
    )
