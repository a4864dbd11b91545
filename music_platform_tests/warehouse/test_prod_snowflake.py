"""`prod` end to end: PostgreSQL staging, fakesnow's Snowflake server as the warehouse, dbt's
`prod` target, through the real `music-platform run` command."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import psycopg
import pytest

from music_platform.lib.warehouse.snowflake_warehouse import SnowflakeWarehouse
from music_platform.settings import SnowflakeSettings
from music_platform_tests.support.platform_env import (
    NOT_CONFIGURED,
    platform_environment,
    run_cli,
    scratch_database,
)
from music_platform_tests.warehouse.conftest import FakesnowServer

pytestmark = pytest.mark.slow

DAYS = 2


def _warehouse(server: FakesnowServer, database: str) -> SnowflakeWarehouse:
    return SnowflakeWarehouse(
        SnowflakeSettings(
            account="fakesnow",
            user="fake",
            password="snow",
            database=database,
            host=server.host,
            port=server.port,
            protocol="http",
        )
    )


def test_prod_run_lands_in_snowflake_and_reconciles(
    tmp_path: Path, fakesnow_server: FakesnowServer, snowflake_database: str
) -> None:
    home = tmp_path / "home"
    summary_path = tmp_path / "summary.json"
    with scratch_database() as database:
        env = platform_environment(
            home,
            "prod",
            POSTGRES_DB=database,
            DAGSTER_POSTGRES_DB=database,
            # dagster.yaml reads it for the run storage; trust auth needs none.
            POSTGRES_PASSWORD="",
            **fakesnow_server.environment(snowflake_database),
        )
        completed = run_cli(
            "run", "--days", str(DAYS), "--summary", str(summary_path), env=env, cwd=tmp_path
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as connection:
            staged = connection.execute("SELECT COUNT(*) FROM staging.listens").fetchone()

    summary = json.loads(summary_path.read_text())
    assert summary["env"] == "prod"
    not_materialized = {
        asset["key"]: asset["status"]
        for asset in summary["assets"]
        if asset["status"] != "materialized"
    }
    assert not_materialized == dict.fromkeys(NOT_CONFIGURED, "skipped")
    assert summary["checks"]["failed"] == 0
    by_key = {asset["key"]: asset for asset in summary["assets"]}
    assert by_key["fct_listens"]["partitions"] == DAYS

    raw = pl.read_parquet(home / "raw" / "synthetic" / "listens" / "*.parquet")
    assert raw.height > 0
    assert staged == (raw.height,)
    warehouse = _warehouse(fakesnow_server, snowflake_database)
    assert warehouse.count("listens") == raw.height
    facts = warehouse.fetch_arrow("select event_id from analytics.fct_listens")
    assert facts.num_rows == raw.height
    assert set(facts["event_id"].to_pylist()) == set(raw["event_id"])
