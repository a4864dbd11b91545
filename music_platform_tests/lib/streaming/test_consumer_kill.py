"""A consumer SIGKILLed before a batch's write, between its rows and its offsets, or after its
commit loses and doubles nothing: a restarted consumer stages exactly N."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore
from music_platform.lib.streaming.consumer import EventConsumer
from music_platform.settings import KafkaSettings
from music_platform_tests.lib.streaming.test_consumer import produce_synthetic
from music_platform_tests.support.paths import REPO_ROOT

EVENTS = 2_000
KILL_AT_BATCH = 2


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before-write", "rows-written", "after-commit"])
def test_killed_consumer_resumes_with_exactly_n(
    point: str,
    store: DuckDBStagingStore | PostgresStagingStore,
    kafka: KafkaSettings,
) -> None:
    produce_synthetic(kafka, EVENTS)
    store.ensure_tables()
    backend, target = (
        ("duckdb", str(store.path))
        if isinstance(store, DuckDBStagingStore)
        else ("postgres", store.conninfo)
    )
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "music_platform_tests.lib.streaming.consumer_child",
            backend,
            target,
            store.schema,
            kafka.bootstrap_servers,
            kafka.topic,
            kafka.consumer_group,
            point,
            str(KILL_AT_BATCH),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    killed = store.stream_stats().rows
    committed_batches = KILL_AT_BATCH if point == "after-commit" else KILL_AT_BATCH - 1
    assert 0 < killed < EVENTS or committed_batches == 0
    assert sum(store.consumer_offsets(kafka.consumer_group, kafka.topic).values()) == killed

    report = EventConsumer(store, kafka).run(idle_seconds=2)
    assert report.duplicates == 0
    assert report.staged == EVENTS - killed
    assert store.stream_stats().rows == EVENTS
    assert sum(store.consumer_offsets(kafka.consumer_group, kafka.topic).values()) == EVENTS
