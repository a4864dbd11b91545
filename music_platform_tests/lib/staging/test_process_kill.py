"""A loading process killed with SIGKILL leaves the previous partition whole; a rerun completes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import polars as pl
import psycopg
import pytest

from music_platform.lib.schemas import LISTENS
from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore
from music_platform_tests.lib.staging.conftest import StoreFactory
from music_platform_tests.lib.staging.frames import DAY, listens
from music_platform_tests.support.paths import REPO_ROOT

NEW_ROWS = 300_000
KILL_DEADLINE_SECONDS = 300


@contextmanager
def copy_progress_probe(store: PostgresStagingStore) -> Iterator[Callable[[], bool]]:
    """Whether a COPY into the store's database has started moving rows."""
    with psycopg.connect(store.conninfo, autocommit=True) as connection:

        def copy_started() -> bool:
            row = connection.execute(
                "SELECT coalesce(max(tuples_processed), 0) FROM pg_stat_progress_copy "
                "WHERE datname = current_database() AND command = 'COPY FROM'"
            ).fetchone()
            return bool(row and row[0] > 0)

        yield copy_started


def start_child(
    store: DuckDBStagingStore | PostgresStagingStore, marker: Path
) -> subprocess.Popen[bytes]:
    if isinstance(store, DuckDBStagingStore):
        backend, target = "duckdb", str(store.path)
    else:
        backend, target = "postgres", store.conninfo
    command = [sys.executable, "-m", "music_platform_tests.lib.staging.load_child"]
    arguments = [backend, target, store.schema, str(NEW_ROWS), str(marker)]
    return subprocess.Popen([*command, *arguments], cwd=REPO_ROOT, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_load_killed_before_commit_leaves_previous_partition(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    kill_load_then_rerun(make_store(), tmp_path, kill_at="commit")


@pytest.mark.slow
def test_load_killed_mid_copy_leaves_previous_partition(
    pg_store: PostgresStagingStore, tmp_path: Path
) -> None:
    # PostgreSQL only: DuckDB shows no COPY progress to time the kill by.
    kill_load_then_rerun(pg_store, tmp_path, kill_at="copy")


def kill_load_then_rerun(
    store: DuckDBStagingStore | PostgresStagingStore, tmp_path: Path, kill_at: str
) -> None:
    """SIGKILL a loading process mid-COPY or just before COMMIT; the partition keeps its
    previous rows, rejects and batch record, and a rerun completes."""
    previous = pl.concat(
        [
            listens(1_000, prefix="old"),
            listens(3, prefix="neg").with_columns(ms_played=pl.lit(-1, pl.Int32)),
        ]
    )
    store.replace_partition(LISTENS, previous, partition_key=DAY, source="test", batch_id="before")

    marker = tmp_path / "about-to-commit"
    probe = (
        copy_progress_probe(store)
        if isinstance(store, PostgresStagingStore) and kill_at == "copy"
        else nullcontext(lambda: False)
    )
    with probe as copy_started:
        child = start_child(store, marker)
        deadline = time.monotonic() + KILL_DEADLINE_SECONDS
        # Killed mid-COPY, or (for "commit", and should the COPY be too quick to catch) in the
        # hook that runs after every write of the load and before its COMMIT.
        while not (marker.exists() or copy_started()):
            if child.poll() is not None:
                stderr = child.stderr.read().decode() if child.stderr else ""
                pytest.fail(f"the loading process ended by itself: {stderr}")
            if time.monotonic() > deadline:
                child.kill()
                pytest.fail("the loading process never reached its COPY")
            time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL

    assert store.count(LISTENS, DAY) == 1_000
    staged = pl.from_arrow(store.read(LISTENS, [DAY]))
    assert isinstance(staged, pl.DataFrame)
    assert staged["batch_id"].unique().to_list() == ["before"]
    assert store.rejects("listens", DAY)["batch_id"].to_list() == ["before"] * 3
    assert store.batches("listens")["batch_id"].to_list() == ["before"]

    rerun = store.replace_partition(
        LISTENS, listens(NEW_ROWS, prefix="new"), partition_key=DAY, source="test", batch_id="after"
    )
    assert (rerun.rows_loaded, rerun.rows_replaced) == (NEW_ROWS, 1_000)
    assert store.count(LISTENS, DAY) == NEW_ROWS
    assert store.rejects("listens", DAY).is_empty()
    assert store.batches("listens")["batch_id"].to_list() == ["before", "after"]
