"""PostgreSQL restarted in the middle of a load, on a private cluster (never the machine's): the
load fails with a one-line cause, nothing of it is committed, and a rerun completes with nothing
lost or doubled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from music_platform.lib import fault_points
from music_platform.lib.schemas import LISTENS
from music_platform.lib.staging import PostgresStagingStore
from music_platform_tests.faults.killing import start_paused
from music_platform_tests.faults.private_postgres import PrivateCluster, private_cluster
from music_platform_tests.lib.staging.frames import DAY, listens

pytestmark = pytest.mark.slow

NEW_ROWS = 200_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as started:
        yield started


def test_a_restart_before_commit_fails_the_load_clearly_and_a_rerun_completes(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    store = PostgresStagingStore(cluster.conninfo)
    previous = pl.concat(
        [
            listens(1_000, prefix="old"),
            listens(3, prefix="neg").with_columns(ms_played=pl.lit(-1, pl.Int32)),
        ]
    )
    store.replace_partition(LISTENS, previous, partition_key=DAY, source="test", batch_id="before")

    marker = tmp_path / "paused"
    load = start_paused(
        [
            "-m",
            "music_platform_tests.faults.load_child",
            "staging",
            cluster.conninfo,
            str(NEW_ROWS),
        ],
        fault_points.STAGING_BEFORE_COMMIT,
        marker,
    )
    cluster.restart()  # every row of the new load is written, uncommitted, when it goes down
    marker.unlink()  # the load goes on to its COMMIT on a connection that no longer exists
    output, _ = load.communicate(timeout=120)

    assert load.returncode == 1, output
    (last_line,) = output.strip().splitlines()[-1:]
    assert "StagingConnectionError: lost the connection to PostgreSQL" in last_line
    assert f"while loading listens {DAY}" in last_line and "rerun it" in last_line
    assert store.count(LISTENS, DAY) == 1_000
    assert store.rejects("listens", DAY)["batch_id"].to_list() == ["before"] * 3
    assert store.batches("listens")["batch_id"].to_list() == ["before"]

    rerun = store.replace_partition(
        LISTENS, listens(NEW_ROWS, prefix="new"), partition_key=DAY, source="test", batch_id="after"
    )
    assert (rerun.rows_loaded, rerun.rows_replaced) == (NEW_ROWS, 1_000)
    assert store.count(LISTENS, DAY) == NEW_ROWS
    staged = pl.from_arrow(store.read(LISTENS, [DAY]))
    assert isinstance(staged, pl.DataFrame)
    assert staged["event_id"].n_unique() == NEW_ROWS
    assert store.rejects("listens", DAY).is_empty()
    assert store.batches("listens")["batch_id"].to_list() == ["before", "after"]
