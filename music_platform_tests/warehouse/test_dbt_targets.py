"""The same dbt models build on PostgreSQL as on DuckDB, a day's window rebuilds in place there,
and `dbt docs generate` works."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest

from music_platform.lib import schemas
from music_platform.lib.dbt_project import DBT_PROJECT_DIR
from music_platform.lib.staging import PostgresStagingStore
from music_platform.lib.synthetic import (
    SyntheticConfig,
    generate_catalogue,
    generate_listens,
    generate_users,
)
from music_platform_tests.support.platform_env import scratch_database

pytestmark = pytest.mark.slow

DAYS = [date(2026, 3, 1), date(2026, 3, 2)]
ONE_DAY = timedelta(days=1)
# Reconciled catalogues land as one batch labelled with every source that contributed.
CATALOGUE_LABEL = "kaggle+tidytuesday"
NAME_DERIVED_TRACK = "name:0123456789abcdef"
DAILY_MODELS = (
    "int_listening_sessions",
    "fct_listens",
    "fct_daily_user_listens",
    "fct_daily_artist_listens",
)


def _dbt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), *args],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _land_synthetic_world(conninfo: str) -> int:
    """Fill `landing.*` with a small synthetic world, through the staging loader itself."""
    config = SyntheticConfig(seed=5, users=40, artists=20, tracks=200, events_per_day=300)
    catalogue = generate_catalogue(config)
    users = generate_users(config, as_of=DAYS[0])
    # A track known only by its names (heard on Last.fm, in no catalogue) has no Spotify id.
    heard_only = catalogue.tracks.head(1).with_columns(
        pl.lit(NAME_DERIVED_TRACK).alias("track_id"), pl.lit("Heard Only").alias("track_name")
    )
    tracks = pl.concat([catalogue.tracks, heard_only])
    store = PostgresStagingStore(conninfo, schema="landing")
    store.ensure_tables()
    batch = str(uuid.uuid4())
    for contract, frame, source in (
        (schemas.ARTISTS, catalogue.artists, CATALOGUE_LABEL),
        (schemas.TRACKS, tracks, CATALOGUE_LABEL),
        (schemas.USERS, users, "synthetic"),
    ):
        store.replace_table(contract, frame, source=source, batch_id=batch)
    for day in DAYS:
        store.replace_partition(
            schemas.LISTENS,
            generate_listens(config, day, catalogue, users),
            partition_key=day.isoformat(),
            source="synthetic",
            batch_id=batch,
        )
    return store.count(schemas.LISTENS)


def test_models_build_on_postgres(tmp_path: Path) -> None:
    with scratch_database() as database:
        conninfo = f"host=127.0.0.1 port=5432 user=postgres dbname={database}"
        listens = _land_synthetic_world(conninfo)
        env = {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432",
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": database,
            "DBT_POSTGRES_SCHEMA": "analytics",
            # profiles.yml's PostgreSQL target, there for this test: the SQL stays portable.
            "DBT_TARGET": "ci_postgres",
            "DBT_TARGET_PATH": str(tmp_path / "target"),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
        }
        built = _dbt("build", env=env)
        assert built.returncode == 0, built.stdout[-4000:]
        with psycopg.connect(conninfo) as connection:
            facts = connection.execute("SELECT COUNT(*) FROM analytics.fct_listens").fetchone()
            spotify_ids = dict(
                connection.execute(
                    "SELECT track_id, spotify_track_id FROM analytics.dim_track"
                ).fetchall()
            )
        assert facts == (listens,)
        assert spotify_ids.pop(NAME_DERIVED_TRACK) is None
        assert all(track == spotify for track, spotify in spotify_ids.items())

        # One day's window rebuilt twice, as Dagster runs a partition: the pre-hook empties the
        # day before the append refills it, so the rows stay the same and the other day is kept.
        built_counts = _daily_counts(conninfo)
        assert {day for _, day in built_counts} == {day.isoformat() for day in DAYS}
        day = DAYS[-1].isoformat()
        # The window as Dagster passes it (dbt's event-time flags, end exclusive), then as vars.
        windows = (
            ("--event-time-start", day, "--event-time-end", (DAYS[-1] + ONE_DAY).isoformat()),
            ("--vars", f"{{min_date: '{day}', max_date: '{day}'}}"),
        )
        for window in windows:
            rerun = _dbt("build", "--select", "tag:daily", *window, env=env)
            assert rerun.returncode == 0, rerun.stdout[-4000:]
            assert _daily_counts(conninfo) == built_counts

        # Only the window is rebuilt: a day outside it keeps what it has, even rows gone missing.
        with psycopg.connect(conninfo) as connection:
            connection.execute(
                "DELETE FROM analytics.fct_daily_artist_listens WHERE listen_date = %s", (DAYS[0],)
            )
        rerun = _dbt("build", "--select", "tag:daily", *windows[0], env=env)
        assert rerun.returncode == 0, rerun.stdout[-4000:]
        assert ("fct_daily_artist_listens", DAYS[0].isoformat()) not in _daily_counts(conninfo)


def _daily_counts(conninfo: str) -> dict[tuple[str, str], int]:
    """Rows of each daily model by day."""
    counts = {}
    with psycopg.connect(conninfo) as connection:
        for model in DAILY_MODELS:
            rows = connection.execute(
                f"SELECT listen_date, COUNT(*) FROM analytics.{model} GROUP BY listen_date"
            ).fetchall()
            counts.update({(model, str(day)): count for day, count in rows})
    return counts


def test_docs_generate(tmp_path: Path) -> None:
    env = {
        "MUSIC_PLATFORM_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    generated = _dbt("docs", "generate", "--target", "local", "--empty-catalog", env=env)
    assert generated.returncode == 0, generated.stdout[-4000:]
    assert (tmp_path / "target" / "index.html").exists()
    assert (tmp_path / "target" / "manifest.json").exists()
