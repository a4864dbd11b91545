"""Materialize the whole asset graph for a window of days, in this process, on the instance.

One run covers every asset: unpartitioned ones once, daily ones over the partition range (each
daily asset has a single-run backfill policy), so dbt is invoked once per run, not once a day.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._core.utils import make_new_run_id

from music_platform.lib.run_summary import RunSummary, summarise_run
from music_platform.settings import Environment, Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_INSTANCE_CONFIG = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

ProgressCallback = Callable[[str, int], None]


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME for this environment: SQLite under the data directory in `local`, the
    repository's dagster.yaml (PostgreSQL storage) in `dev` and `prod`."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if settings.env is Environment.LOCAL:
        if not config.exists():
            config.write_text(LOCAL_INSTANCE_CONFIG)
    else:
        shutil.copyfile(REPO_ROOT / "dagster.yaml", config)
        # dagster.yaml reads its connection from these; derive any not set from the settings.
        postgres = settings.postgres
        for name, value in (
            ("POSTGRES_HOST", postgres.host),
            ("POSTGRES_PORT", str(postgres.port)),
            ("POSTGRES_USER", postgres.user),
            ("POSTGRES_PASSWORD", postgres.password.get_secret_value()),
            ("DAGSTER_POSTGRES_DB", postgres.db),
        ):
            os.environ.setdefault(name, value)
    return home


def last_partition_keys(partitions: dg.DailyPartitionsDefinition, days: int) -> list[str]:
    """The last `days` complete days, oldest first."""
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    keys = partitions.get_partition_keys()
    if not keys:
        raise ValueError(
            "no complete daily partition exists yet: check MUSIC_PLATFORM_PARTITIONS_START"
        )
    return keys[-days:]


def partition_range_keys(
    partitions: dg.DailyPartitionsDefinition, first: date, last: date | None
) -> list[str]:
    """The complete days from `first` to `last` (default: the latest complete day), inclusive."""
    keys = partitions.get_partition_keys()
    if not keys:
        raise ValueError(
            "no complete daily partition exists yet: check MUSIC_PLATFORM_PARTITIONS_START"
        )
    start, end = first.isoformat(), (last.isoformat() if last else keys[-1])
    if start > end:
        raise ValueError(f"--from {start} is after --to {end}")
    if start < keys[0]:
        raise ValueError(
            f"--from {start} is before the first partition {keys[0]} "
            "(MUSIC_PLATFORM_PARTITIONS_START sets it)"
        )
    if end > keys[-1]:
        raise ValueError(f"--to {end} is not a complete day yet: the latest is {keys[-1]}")
    return [key for key in keys if start <= key <= end]


def step_assets(defs: dg.Definitions) -> dict[str, list[dg.AssetKey]]:
    return {
        assets_def.op.name: list(assets_def.keys)
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition)
    }


def blocking_checks(defs: dg.Definitions) -> set[dg.AssetCheckKey]:
    return {
        spec.key
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition)
        for spec in assets_def.check_specs
        if spec.blocking
    }


def run_graph(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    settings: Settings,
    partition_keys: list[str],
    on_progress: ProgressCallback | None = None,
) -> RunSummary:
    job = defs.resolve_implicit_global_asset_job_def()
    run_id = make_new_run_id()
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: partition_keys[0],
        ASSET_PARTITION_RANGE_END_TAG: partition_keys[-1],
        "music_platform/launched_by": "cli",
    }
    started = time.perf_counter()
    errors: list[BaseException] = []

    def execute() -> None:
        try:
            job.execute_in_process(
                instance=instance,
                run_id=run_id,
                tags=tags,
                run_config=QUIET_LOGGING,
                raise_on_error=False,
            )
        except BaseException as error:  # surfaced to the caller below
            errors.append(error)

    worker = threading.Thread(target=execute, name="music-platform-run")
    worker.start()
    seen_steps = 0
    while worker.is_alive():
        worker.join(timeout=0.5)
        if on_progress is None:
            continue
        finished = instance.all_logs(
            run_id,
            of_type={
                DagsterEventType.STEP_SUCCESS,
                DagsterEventType.STEP_FAILURE,
                DagsterEventType.STEP_SKIPPED,
            },
        )
        if len(finished) != seen_steps:
            seen_steps = len(finished)
            on_progress(finished[-1].step_key or "", seen_steps)
    if errors:
        raise errors[0]
    asset_keys = sorted(job.asset_layer.executable_asset_keys, key=lambda k: k.to_user_string())
    return summarise_run(
        instance,
        run_id,
        env=settings.env.value,
        asset_keys=asset_keys,
        blocking_checks=blocking_checks(defs),
        step_assets=step_assets(defs),
        seconds=time.perf_counter() - started,
    )


def step_count(defs: dg.Definitions) -> int:
    return len(defs.resolve_implicit_global_asset_job_def().graph.node_defs)
