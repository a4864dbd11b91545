"""PostgreSQL restarted in the middle of a load, on a private cluster (never the machine's): the
load fails with a one-line cause, nothing of it is committed, and a rerun completes with nothing
lost or doubled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import psycopg
import pytest
from psycopg import sql

from music_platform.lib import fault_points
from music_platform.lib.schemas import LISTENS
from music_platform.lib.staging import PostgresStagingStore
from music_platform_tests.faults.killing import start_paused
from music_platform_tests.faults.private_postgres import PrivateCluster, private_cluster
from music_platform_tests.lib.staging.frames import DAY, listens
from music_platform_tests.support.platform_env import SMALL_WORLD, platform_environment, run_cli

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
    assert f"while loading listens {DAY}" in last_line and "Rerun it" in last_line
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


def _staged_counts(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as connection:
        return {
            f"staging/staged_{table}": connection.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("staging", table))
            ).fetchone()[0]
            for table in ("artists", "tracks", "users", "listens")
        }


def test_a_run_whose_postgres_restarts_fails_clearly_and_a_rerun_completes(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    with psycopg.connect(cluster.conninfo, autocommit=True) as admin:
        admin.execute("CREATE DATABASE run")
    env = platform_environment(
        tmp_path / "home",
        "dev",
        POSTGRES_HOST="127.0.0.1",
        POSTGRES_PORT=str(cluster.port),
        POSTGRES_DB="run",
        DAGSTER_POSTGRES_DB="run",  # Dagster's event log goes down with it too
    )
    marker, summary = tmp_path / "paused", tmp_path / "cut.json"
    run = start_paused(
        ["-m", "music_platform.cli", "run", "--days", "1", "--summary", str(summary)],
        fault_points.STAGING_BEFORE_COMMIT,
        marker,
        env,
    )
    cluster.restart()
    marker.unlink()
    output, _ = run.communicate(timeout=600)

    assert run.returncode == 1, output
    failed = {
        name: asset for name, asset in _assets(summary).items() if asset["status"] == "failed"
    }
    (cut,) = failed  # the one staging load the restart cut, named with its cause
    assert cut.startswith("staging/"), failed
    table = cut.removeprefix("staging/staged_")
    reported = " ".join(output.split(f"step staging__staged_{table} failed:")[-1].split())
    assert reported.startswith(
        f"music_platform.lib.staging.store.StagingConnectionError: lost the connection to "
        f"PostgreSQL (PostgresStagingStore('127.0.0.1:{cluster.port}/run', schema='staging')) "
        f"while loading {table}"
    ), output
    conninfo = psycopg.conninfo.make_conninfo(cluster.conninfo, dbname="run")
    assert _staged_counts(conninfo)[cut] == 0, "nothing of the cut load was committed"

    rerun_summary = tmp_path / "rerun.json"
    rerun = run_cli("run", "--days", "1", "--summary", str(rerun_summary), env=env, cwd=tmp_path)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    rows = {name: asset["rows"] for name, asset in _assets(rerun_summary).items()}
    staged = _staged_counts(conninfo)
    assert staged == {name: rows[name] for name in staged}, "nothing lost or doubled"
    assert staged["staging/staged_users"] == int(SMALL_WORLD["SYNTHETIC_USERS"])


def _assets(summary: Path) -> dict[str, dict]:
    return {asset["key"]: asset for asset in json.loads(summary.read_text())["assets"]}
