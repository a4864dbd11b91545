"""Point the platform at a throwaway home (and, for `dev`, a throwaway PostgreSQL database)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from music_platform.settings import clear_settings_cache

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

# Small enough that a whole run takes seconds, big enough for every model to have data. The data
# depends on the date the tests run; at 1,000 events a day, two days of listening let the
# recommender beat popularity (its blocking check) by 15% or more on each of 40 dates tried
# (at 600, it lost on one).
SMALL_WORLD = {
    "SYNTHETIC_USERS": "60",
    "SYNTHETIC_ARTISTS": "40",
    "SYNTHETIC_TRACKS": "400",
    "SYNTHETIC_EVENTS_PER_DAY": "1000",
}

# The providers a run with no keys or files leaves unconfigured: each materializes as skipped.
NOT_CONFIGURED = {
    "raw/lastfm_scrobbles",
    "raw/lastfm_top_artists",
    "raw/lastfm_artist_info",
    "raw/lastfm_track_info",
    "raw/lastfm_1k_scrobbles",
    "raw/listen_events_file",
    "raw/spotify_track_search",
    "raw/spotify_tracks",
    "raw/spotify_artists",
    "raw/spotify_audio_features",
    "raw/tidytuesday_songs",
    "staging/track_identity",
}


@contextmanager
def scratch_database() -> Iterator[str]:
    """A uniquely named PostgreSQL database, dropped afterwards."""
    name = f"mp_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def platform_environment(home: Path, env: str = "local", **extra: str) -> dict[str, str]:
    variables = {
        "MUSIC_PLATFORM_ENV": env,
        "MUSIC_PLATFORM_HOME": str(home),
        **SMALL_WORLD,
        **extra,
    }
    return variables


@contextmanager
def applied(variables: dict[str, str]) -> Iterator[None]:
    """Set environment variables for in-process tests, restoring them afterwards."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    clear_settings_cache()
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        clear_settings_cache()


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `music-platform` command in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "music_platform.cli", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
