"""Secrets never reach logs, run metadata, raw files or any other file a run leaves.

The whole graph runs through `music-platform run` in `dev` (staging and Dagster's event log on
PostgreSQL) with every live source configured against the loopback fakes; then every file the
run touched, decoded (Parquet and DuckDB read as tables, so compression hides nothing), its
console output and a dump of its PostgreSQL database are searched for each secret value.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from itertools import cycle, islice
from pathlib import Path

import duckdb
import polars as pl
import pytest

from music_platform_tests.defs.sources.world import (
    ALICE_TRACKS,
    kaggle_csv,
    live_environment,
    populate_lastfm,
    populate_spotify,
)
from music_platform_tests.support import lastfm_fake, spotify_fake
from music_platform_tests.support.paths import REPO_ROOT
from music_platform_tests.support.platform_env import run_cli, scratch_database

pytestmark = pytest.mark.slow


def _listen_yesterday(fake: lastfm_fake.FakeLastfm) -> None:
    """The world's catalogue, with alice's listening moved to the last complete day (the day
    `music-platform run --days 1` loads)."""
    populate_lastfm(fake)
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = int((yesterday - timedelta(days=1)).timestamp())
    fake.scrobbles["alice"] = [
        lastfm_fake.scrobble(artist, title, start + 60 + n * 600)
        for n, (artist, title, _, _) in enumerate(islice(cycle(ALICE_TRACKS), 120))
    ]


def _decoded_texts(folder: Path, since: float) -> dict[Path, str]:
    """Every file under `folder` changed since `since`, as text: bytes as they are, and for
    Parquet and DuckDB files their rows as well."""
    texts: dict[Path, str] = {}
    for path in folder.rglob("*"):
        if not path.is_file() or path.stat().st_mtime < since:
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        if path.suffix == ".parquet":
            text += pl.read_parquet(path).write_csv()
        elif path.suffix == ".duckdb":
            text += _duckdb_rows(path)
        texts[path] = text
    return texts


def _duckdb_rows(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = connection.execute(
            "SELECT table_catalog, table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        return "\n".join(
            repr(connection.execute(f'SELECT * FROM "{c}"."{s}"."{t}"').fetchall())
            for c, s, t in tables
        )


def test_no_secret_value_is_left_anywhere_a_run_writes(
    lastfm_server, spotify_server, certificates, tmp_path: Path
) -> None:
    (fake_lastfm, lastfm), (fake_spotify, spotify) = lastfm_server, spotify_server
    _listen_yesterday(fake_lastfm)
    populate_spotify(fake_spotify)
    postgres_password = f"pg-secret-{uuid.uuid4().hex}"
    secrets = {
        "LASTFM_API_KEY": lastfm_fake.API_KEY,
        "LASTFM_API_SECRET": lastfm_fake.API_SECRET,
        "SPOTIFY_CLIENT_SECRET": spotify_fake.CLIENT_SECRET,
        "POSTGRES_PASSWORD": postgres_password,  # trust auth here: sent nowhere, kept nowhere
    }
    home = tmp_path / "home"
    started = time.time()
    with scratch_database() as database:
        env = live_environment(
            home,
            lastfm,
            spotify,
            certificates.ca_file,
            MUSIC_PLATFORM_ENV="dev",
            POSTGRES_DB=database,
            DAGSTER_POSTGRES_DB=database,
            POSTGRES_PASSWORD=postgres_password,
            KAGGLE_TRACKS_CSV=str(kaggle_csv(tmp_path)),
        )
        completed = run_cli("run", "--days", "1", env=env, cwd=tmp_path)
        dump = subprocess.run(
            ["pg_dump", "--host", "127.0.0.1", "--username", "postgres", database],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    # The run used the secrets: the live sources answered and the event log was written.
    scrobbles = home / "raw" / "lastfm" / "scrobbles"
    assert pl.read_parquet(scrobbles / "*.parquet").height == 120, completed.stdout
    assert fake_spotify.tokens_issued, "Spotify was called with the client secret"
    assert "event_logs" in dump and "ASSET_MATERIALIZATION" in dump

    places = {
        Path("stdout"): completed.stdout,
        Path("stderr"): completed.stderr,
        Path("pg_dump"): dump,
        **_decoded_texts(tmp_path, started),
        **_decoded_texts(REPO_ROOT / "dbt_project", started),  # dbt's target and logs
    }
    leaks = [
        f"{name} in {place}"
        for place, text in places.items()
        for name, value in secrets.items()
        if value in text
    ]
    assert not leaks, leaks
