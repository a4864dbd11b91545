"""An API fault that outlasts the retry budget: the partition fails with its cause and lands
nothing, and a later run, once the API answers again, fills it with exact counts. Through the
real pylast client against the loopback Last.fm fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from music_platform_tests.defs.sources.world import (
    ALICE_SCROBBLES,
    DAY,
    UNICODE_TRACKS,
    kaggle_csv,
    live_environment,
    populate_lastfm,
    populate_spotify,
    run_sources,
)
from music_platform_tests.support.lastfm_fake import Fault

pytestmark = pytest.mark.slow

SCROBBLES = ALICE_SCROBBLES + len(UNICODE_TRACKS)
STAGED_LISTENS = "SELECT COUNT(*) AS n FROM staging.listens"


def test_a_day_lastfm_fails_past_the_budget_lands_nothing_and_a_later_run_fills_it(
    lastfm_server, spotify_server, certificates, tmp_path: Path
) -> None:
    (fake_lastfm, lastfm), (fake_spotify, spotify) = lastfm_server, spotify_server
    populate_lastfm(fake_lastfm)
    populate_spotify(fake_spotify)
    home = tmp_path / "home"
    env = live_environment(
        home,
        lastfm,
        spotify,
        certificates.ca_file,
        KAGGLE_TRACKS_CSV=str(kaggle_csv(tmp_path)),
    )
    # The first page answers; from the second on, Last.fm is down (bare HTTP 503s).
    fake_lastfm.fail("user.getRecentTracks", Fault(), *[Fault(http_status=503)] * 60)

    failed = run_sources(env, [DAY])

    assert not failed.success
    (message,) = failed.failure_messages()
    assert "user.getRecentTracks" in message and DAY in message and "503" in message, message
    assert "Nothing was written" in message
    scrobbles = home / "raw" / "lastfm" / "scrobbles"
    assert not scrobbles.exists() or not any(scrobbles.iterdir()), list(scrobbles.iterdir())
    staging = home / "staging.duckdb"
    assert not staging.exists() or failed.staged(STAGED_LISTENS)["n"][0] == 0

    fake_lastfm.clear_faults()
    filled = run_sources(env, [DAY])

    assert filled.success, filled.failure_messages()
    assert filled.raw("lastfm", "scrobbles", DAY).height == SCROBBLES
    assert [p.name for p in scrobbles.iterdir()] == [f"{DAY}.parquet"]
    assert filled.staged(STAGED_LISTENS)["n"][0] == SCROBBLES
