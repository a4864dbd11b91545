"""The whole asset graph, end to end, through the real `music-platform run` command."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import psycopg
import pytest

from music_platform_tests.support.platform_env import (
    NOT_CONFIGURED,
    platform_environment,
    run_cli,
    scratch_database,
)

pytestmark = pytest.mark.slow

DAYS = 3
EXPECTED_ASSETS = {
    "raw/synthetic_artists",
    "raw/synthetic_tracks",
    "raw/synthetic_users",
    "raw/synthetic_listens",
    "staging/staged_artists",
    "staging/staged_tracks",
    "staging/staged_users",
    "staging/staged_listens",
    "landing/landed_artists",
    "landing/landed_tracks",
    "landing/landed_users",
    "landing/landed_listens",
    "stg_landing__listens",
    "dim_artist",
    "dim_track",
    "dim_user",
    "dim_date",
    "fct_listens",
}


def _raw_events(home: Path) -> pl.DataFrame:
    return pl.read_parquet(home / "raw" / "synthetic" / "listens" / "*.parquet")


def _warehouse(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)


def _run_and_summarise(tmp_path: Path, env: dict[str, str]) -> dict:
    summary_path = tmp_path / "summary.json"
    completed = run_cli(
        "run", "--days", str(DAYS), "--summary", str(summary_path), env=env, cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(summary_path.read_text())


def _assert_complete(summary: dict, env_name: str) -> None:
    assert summary["env"] == env_name
    by_key = {asset["key"]: asset for asset in summary["assets"]}
    assert set(by_key) >= EXPECTED_ASSETS
    not_materialized = {k: a["status"] for k, a in by_key.items() if a["status"] != "materialized"}
    # Synthetic data: every other provider is in the graph and skips, saying what to set.
    assert not_materialized == dict.fromkeys(NOT_CONFIGURED, "skipped")
    assert by_key["raw/synthetic_listens"]["partitions"] == DAYS
    assert by_key["fct_listens"]["partitions"] == DAYS
    assert summary["checks"]["failed"] == 0
    assert summary["checks"]["passed"] > 20


def _assert_reconciles(home: Path, summary: dict) -> None:
    raw = _raw_events(home)
    by_key = {asset["key"]: asset for asset in summary["assets"]}
    assert by_key["raw/synthetic_listens"]["rows"] == raw.height
    assert by_key["staging/staged_listens"]["rows"] == raw.height
    assert by_key["landing/landed_listens"]["rows"] == raw.height
    with _warehouse(home) as warehouse:
        facts = warehouse.sql("SELECT event_id FROM analytics.fct_listens").pl()
        orphans = warehouse.execute(
            "SELECT COUNT(*) FROM analytics.fct_listens f "
            "LEFT JOIN analytics.dim_track t USING (track_id) WHERE t.track_id IS NULL"
        ).fetchone()
    assert facts.height == raw.height
    assert set(facts["event_id"]) == set(raw["event_id"])
    assert orphans == (0,)


def test_local_run_materializes_everything_and_reconciles(tmp_path: Path) -> None:
    home = tmp_path / "home"
    summary = _run_and_summarise(tmp_path, platform_environment(home))
    _assert_complete(summary, "local")
    _assert_reconciles(home, summary)


def test_dev_run_stages_in_postgres(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with scratch_database() as database:
        env = platform_environment(home, "dev", POSTGRES_DB=database, DAGSTER_POSTGRES_DB=database)
        summary = _run_and_summarise(tmp_path, env)
        _assert_complete(summary, "dev")
        _assert_reconciles(home, summary)
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as connection:
            staged = connection.execute("SELECT COUNT(*) FROM staging.listens").fetchone()
            runs = connection.execute("SELECT COUNT(*) FROM runs").fetchone()
        assert staged == (_raw_events(home).height,)
        assert runs is not None and runs[0] >= 1, "Dagster's run storage is on PostgreSQL in dev"
