"""A whole `music-platform run` killed with SIGKILL (dbt's process included) while dbt builds:
every table and file a reader sees keeps its previous contents, and a rerun completes with
exactly the counts of a clean run.

One completed run is the shared world; the killed run loads the same day again, so "previous"
and "rerun" must both equal that run's counts. Raw landing, warehouse landing and promotion are
also killed at their fault points in test_kill_loads.py, staging in lib/staging: one load each,
in seconds, where a whole run costs most of a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest

from music_platform_tests.faults.killing import kill_session, wait_for
from music_platform_tests.support.paths import REPO_ROOT
from music_platform_tests.support.platform_env import platform_environment, run_cli

pytestmark = pytest.mark.slow

RUN = ["-m", "music_platform.cli", "run", "--days", "1"]
DBT_TARGETS = REPO_ROOT / "dbt_project" / "target"
# A log of the loads (one row per batch), not data: every load adds to it by design.
LOAD_LOGS = {"staging.duckdb:main.load_batches"}

Snapshot = dict[str, int | str]


def snapshot(home: Path) -> Snapshot:
    """Rows of every raw file, staging table and warehouse relation, and the promoted model."""
    seen: Snapshot = {
        f"raw:{path.relative_to(home)}": pl.read_parquet(path).height
        for path in sorted((home / "raw").rglob("*.parquet"))
    }
    for database in ("staging.duckdb", "warehouse.duckdb"):
        with duckdb.connect(str(home / database), read_only=True) as connection:
            relations = connection.execute(
                "SELECT table_catalog, table_schema, table_name FROM information_schema.tables"
            ).fetchall()
            for catalog, schema, table in relations:
                name = f"{database}:{schema}.{table}"
                if name not in LOAD_LOGS:
                    query = f'SELECT count(*) FROM "{catalog}"."{schema}"."{table}"'
                    seen[name] = connection.execute(query).fetchall()[0][0]
    pointer = home / "models" / "recommender" / "promoted.json"
    seen["promoted model"] = json.loads(pointer.read_text())["version"]
    return seen


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Snapshot]:
    home = tmp_path_factory.mktemp("killed-runs") / "home"
    env = platform_environment(home)
    completed = run_cli(*RUN[2:], env=env, cwd=home.parent)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    reference = snapshot(home)
    assert reference["warehouse.duckdb:analytics.fct_listens"] > 0
    return env, reference


def _dbt_has_built_a_model(since: float) -> Callable[[], bool]:
    """Whether a dbt invocation started after `since` has finished a model (its log says so)."""

    def built() -> bool:
        return any(
            log.stat().st_mtime >= since and "OK created" in log.read_text(errors="replace")
            for log in DBT_TARGETS.glob("*/dbt.log")
        )

    return built


def kill_during_dbt(env: dict[str, str]) -> None:
    """Start a run and SIGKILL it, dbt included, once dbt has built its first model."""
    process = subprocess.Popen(
        [sys.executable, *RUN],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    wait_for(process, _dbt_has_built_a_model(time.time() - 1), "dbt never built a model")
    kill_session(process)


def test_a_run_killed_during_dbt_leaves_every_table_whole(
    world: tuple[dict[str, str], Snapshot],
) -> None:
    env, reference = world
    kill_during_dbt(env)

    assert snapshot(Path(env["MUSIC_PLATFORM_HOME"])) == reference


def test_a_rerun_after_the_killed_run_completes_with_exact_counts(
    world: tuple[dict[str, str], Snapshot], tmp_path: Path
) -> None:
    env, reference = world
    home = Path(env["MUSIC_PLATFORM_HOME"])

    rerun = run_cli(*RUN[2:], env=env, cwd=tmp_path)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = snapshot(home)
    after.pop("promoted model")  # retrained: promoted again or not, its pointer reads whole
    assert after == {name: rows for name, rows in reference.items() if name != "promoted model"}
    assert not list(home.rglob("*.tmp")), "no temporary file is left behind"
