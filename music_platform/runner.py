"""Materialize the whole asset graph for a window of days, in this process, on the instance.

One run covers every asset: unpartitioned ones once, daily ones over the partition range (each
daily asset has a single-run backfill policy), so dbt is invoked once per run, not once a day.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import BinaryIO, TextIO

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._core.utils import make_new_run_id

from music_platform.run_summary import RunSummary, summarise_run
from music_platform.settings import Settings

# Every Dagster event goes to the run's log (the terminal shows the live view instead); the
# step start and failure lines also delimit a failed step's output for `failed_step_tail`.
RUN_LOGGING = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
# What the live view follows, in the order the run writes it.
VIEW_EVENTS = {
    DagsterEventType.STEP_START,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_SKIPPED,
}

EventsCallback = Callable[[list[EventLogEntry]], None]


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
    on_events: EventsCallback | None = None,
) -> RunSummary:
    """Run every asset for the partition range in a worker thread, passing the live view's
    events (`VIEW_EVENTS`, oldest first) to `on_events` as the run writes them."""
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
                run_config=RUN_LOGGING,
                raise_on_error=False,
            )
        except BaseException as error:  # surfaced to the caller below
            errors.append(error)

    worker = threading.Thread(target=execute, name="music-platform-run")
    worker.start()
    cursor = None
    running = True
    while running:
        worker.join(timeout=0.25)
        running = worker.is_alive()  # one more read after the run ends picks up its last events
        if on_events is None or errors:
            continue
        try:
            page = instance.get_records_for_run(run_id, cursor=cursor, of_type=VIEW_EVENTS)
        except Exception as error:
            # The storage failed (a full disk, say). Wait for the run to end before raising: its
            # steps redirect this process's stdout and stderr into their compute logs while they
            # run, so an error printed now would land there, not on the terminal.
            errors.append(error)
            continue
        cursor = page.cursor
        if page.records:
            on_events([record.event_log_entry for record in page.records])
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


@contextmanager
def captured_output(log_path: Path, *, echo: bool = False) -> Iterator[TextIO]:
    """Send everything written to stdout and stderr (Dagster's logger, dbt's output, child
    processes) to `log_path`, and to the terminal as well when `echo`.

    Redirects the file descriptors, not just `sys.stdout`, so that subprocesses and C libraries
    are caught too. Yields a stream on the real terminal (stderr) for the live view.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1)
    read_end, write_end = os.pipe()
    for fd in (1, 2):
        os.dup2(write_end, fd)
    os.close(write_end)

    def pump() -> None:
        # Keeps draining the pipe even once the log cannot be written (a full disk), so the
        # run never blocks on its own output.
        log: BinaryIO | None = log_path.open("ab")
        while chunk := os.read(read_end, 65536):
            if log is not None:
                try:
                    log.write(chunk)
                    log.flush()
                except OSError:
                    with suppress(OSError):
                        log.close()
                    log = None
            if echo:
                os.write(saved[2], chunk)
        if log is not None:
            with suppress(OSError):
                log.close()

    pumping = threading.Thread(target=pump, name="music-platform-log", daemon=True)
    pumping.start()
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd in (1, 2):
            os.dup2(saved[fd], fd)  # drops the pipe's last write ends: the pump sees EOF
        pumping.join(timeout=10)
        os.close(read_end)
        terminal.close()
        for fd in saved.values():
            os.close(fd)


def failed_step_tail(log_path: Path, step_key: str, lines: int = 20) -> list[str]:
    """The last `lines` a failed step wrote to the run's log, between Dagster's start and
    failure records for that step (steps run one at a time in this process)."""
    text = log_path.read_text(errors="replace").splitlines()
    start = next((i for i, line in enumerate(text) if f" - {step_key} - STEP_START - " in line), 0)
    end = next(
        (
            i
            for i, line in enumerate(text)
            if i > start and f" - {step_key} - STEP_FAILURE - " in line
        ),
        len(text),
    )
    return text[start + 1 : end][-lines:]
