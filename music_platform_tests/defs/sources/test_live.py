"""The live sources as Dagster assets, through the real clients, against the loopback fakes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from music_platform_tests.defs.sources.world import (
    ALICE_SCROBBLES,
    BEYONCE,
    DAY,
    EMPTY_DAY,
    KAGGLE_ONLY,
    KAGGLE_ROWS,
    LASTFM_ONLY,
    LOVERMAN,
    NOBODY_KNOWS,
    SAKAMOTO,
    SIGUR_ROS,
    UNICODE_TRACKS,
    kaggle_csv,
    live_environment,
    payload,
    populate_lastfm,
    populate_spotify,
    run_sources,
)
from music_platform_tests.support import kaggle_fake, spotify_fake
from music_platform_tests.support.lastfm_fake import Fault

pytestmark = pytest.mark.slow

SCROBBLES = ALICE_SCROBBLES + len(UNICODE_TRACKS)


@pytest.fixture
def world(lastfm_server, spotify_server, certificates, tmp_path: Path) -> dict:
    (fake_lastfm, lastfm), (fake_spotify, spotify) = lastfm_server, spotify_server
    populate_lastfm(fake_lastfm)
    populate_spotify(fake_spotify)
    env = live_environment(
        tmp_path / "home",
        lastfm,
        spotify,
        certificates.ca_file,
        KAGGLE_TRACKS_CSV=str(kaggle_csv(tmp_path)),
    )
    return {"env": env, "lastfm": fake_lastfm, "spotify": fake_spotify, "home": tmp_path / "home"}


def test_a_live_day_lands_every_page_unchanged_and_stages_every_listen(world: dict) -> None:
    outcome = run_sources(world["env"], [DAY, EMPTY_DAY])
    assert outcome.success, outcome.failure_messages()

    # Raw: every page of every user, the now-playing item left out, each item as served.
    scrobbles = outcome.raw("lastfm", "scrobbles", DAY)
    assert scrobbles.height == SCROBBLES
    pages = {
        c["page"] for c in world["lastfm"].calls("user.getRecentTracks") if c["user"] == "alice"
    }
    assert pages == {"1", "2", "3"}
    served = {item["date"]["uts"]: item for item in world["lastfm"].scrobbles["alice"]}
    first = payload(scrobbles)
    assert first == served[first["date"]["uts"]]
    assert scrobbles["_source"].unique().to_list() == ["lastfm"]
    assert scrobbles["_fetched_at"].null_count() == 0
    request = scrobbles["_request"][0]
    assert "user.getRecentTracks" in request and "api_key" not in request
    assert outcome.raw("lastfm", "scrobbles", EMPTY_DAY).height == 0
    assert outcome.metadata("raw/lastfm_scrobbles")["source"] == "live: Last.fm API"
    staging = outcome.metadata("staging/staged_listens")
    assert (staging["source_mode"], staging["listens_source"]) == ("live", "lastfm")

    # Spotify resolved what was heard and said how sure it was.
    search = outcome.raw("spotify", "track_search", DAY)
    matches = {
        (item["artist"], item["title"]): item
        for item in (payload(search, row) for row in range(search.height))
    }
    assert matches[LOVERMAN[:2]]["match"] == "exact" and matches[LOVERMAN[:2]]["confidence"] == 1.0
    assert matches[SAKAMOTO[:2]]["track_id"] == SAKAMOTO[2]
    assert matches[KAGGLE_ONLY[:2]]["match"] == "none"
    assert outcome.raw("spotify", "audio_features", DAY).height == 4

    # Staging: every listen found its track and user; unicode names came through whole.
    staged = outcome.staged("SELECT * FROM staging.listens")
    assert staged.height == SCROBBLES
    assert (
        outcome.check("staging/staged_listens", "reject_rate_within_threshold")
        .metadata["rejected"]
        .value
        == 0
    )
    tracks = outcome.staged("SELECT * FROM staging.tracks")
    names = set(tracks["track_name"])
    assert {title for _, title, _, _ in (*UNICODE_TRACKS, LASTFM_ONLY, NOBODY_KNOWS)} <= names
    assert set(staged["user_id"]) == {"alice", "ユーザー"}
    assert set(outcome.staged("SELECT user_id FROM staging.users")["user_id"]) == {
        "alice",
        "ユーザー",
        "quiet",
    }

    # Identity: four on Spotify, one through Kaggle, two built from Last.fm or the names.
    identity = outcome.metadata("staging/track_identity")
    assert identity["track_match_rate"] == pytest.approx(5 / 7)
    assert identity["heard_by_catalogue_source"] == {
        "kaggle": 1,
        "lastfm": 1,
        "names": 1,
        "spotify": 4,
    }
    assert outcome.check("staging/track_identity", "match_rate_above_threshold").passed


def test_durations_that_disagree_are_flagged_not_overwritten(world: dict) -> None:
    outcome = run_sources(world["env"], [DAY])
    assert outcome.success, outcome.failure_messages()

    check = outcome.check("staging/track_identity", "durations_agree")
    assert not check.passed  # a warning: Last.fm says 246.9 s, Spotify 216.9 s
    assert check.metadata["disagreements"].value == 1
    duration = outcome.staged(
        f"SELECT duration_ms FROM staging.tracks WHERE track_id = '{LOVERMAN[2]}'"
    )
    assert duration["duration_ms"].to_list() == [216_880]
    identity = pl.read_parquet(world["home"] / "reconciled" / "track_identity.parquet")
    flagged = identity.filter(pl.col("duration_disagrees"))
    assert flagged.select("track_name", "lastfm_duration_ms", "catalogue_duration_ms").rows() == [
        ("Mr Loverman", 246_880, 216_880)
    ]
    beyonce = identity.filter(pl.col("track_name") == BEYONCE[1])
    assert not beyonce["duration_disagrees"][0]  # half a second apart is agreement


def test_rerunning_a_day_gives_the_same_rows_without_duplicates(world: dict) -> None:
    first = run_sources(world["env"], [DAY])
    assert first.success, first.failure_messages()
    before = first.staged("SELECT event_id FROM staging.listens ORDER BY event_id")

    again = run_sources(world["env"], [DAY])

    assert again.success, again.failure_messages()
    after = again.staged("SELECT event_id FROM staging.listens ORDER BY event_id")
    assert after.equals(before)
    assert after["event_id"].n_unique() == after.height == SCROBBLES
    assert again.raw("lastfm", "scrobbles", DAY).height == SCROBBLES
    tracks = again.staged("SELECT COUNT(*) AS n, COUNT(DISTINCT track_id) AS d FROM staging.tracks")
    assert tracks["n"][0] == tracks["d"][0]


def test_lastfm_rate_limited_past_its_budget_fails_the_day_and_writes_nothing(
    world: dict,
) -> None:
    landed = run_sources(world["env"], [DAY])
    assert landed.success, landed.failure_messages()
    raw_file = world["home"] / "raw" / "lastfm" / "scrobbles" / f"{DAY}.parquet"
    before = (
        raw_file.read_bytes(),
        landed.staged("SELECT COUNT(*) AS n FROM staging.listens"),
    )
    # More listening arrives, but from alice's second page on Last.fm keeps answering 29.
    world["lastfm"].scrobbles["ユーザー"].append(
        world["lastfm"].scrobbles["ユーザー"][0] | {"date": {"uts": "1709290000", "#text": ""}}
    )
    world["lastfm"].fail("user.getRecentTracks", Fault(), *[Fault(error=29)] * 20)

    env = world["env"] | {
        "MUSIC_PLATFORM_SOURCE_RETRIES": "1",
        "MUSIC_PLATFORM_SOURCE_RETRY_DELAY_SECONDS": "0",
    }
    failed = run_sources(env, [DAY])

    assert not failed.success
    retried = [e for e in failed.result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retried) == 1, "the day is retried later before it fails"
    (message,) = failed.failure_messages()
    assert "user.getRecentTracks" in message and "'alice'" in message and DAY in message
    assert "Nothing was written" in message
    assert raw_file.read_bytes() == before[0]
    assert failed.staged("SELECT COUNT(*) AS n FROM staging.listens").equals(before[1])


def test_spotify_refusing_audio_features_falls_back_to_kaggle_then_lastfm(
    lastfm_server, spotify_server, certificates, tmp_path: Path, monkeypatch
) -> None:
    (fake_lastfm, lastfm), (fake_spotify, spotify) = lastfm_server, spotify_server
    populate_lastfm(fake_lastfm)
    populate_spotify(fake_spotify)
    fake_spotify.audio_features_forbidden = True
    kaggle_home = tmp_path / "kaggle-home"
    kaggle_home.mkdir()
    monkeypatch.setenv("HOME", str(kaggle_home))  # no real ~/.kaggle
    env = live_environment(
        tmp_path / "home",
        lastfm,
        spotify,
        certificates.ca_file,
        KAGGLE_API_ENVIRONMENT="TEST",
        KAGGLE_CONFIG_DIR=str(kaggle_home / ".kaggle"),
        KAGGLE_USERNAME=kaggle_fake.USERNAME,
        KAGGLE_KEY=kaggle_fake.KEY,
    )
    fake_kaggle = kaggle_fake.FakeKaggle()
    fake_kaggle.datasets["maharshipandya/-spotify-tracks-dataset"] = kaggle_fake.zipped(
        "dataset.csv", kaggle_fake.tracks_csv(KAGGLE_ROWS)
    )
    with kaggle_fake.serve_on_kaggle_port(fake_kaggle):
        outcome = run_sources(env, [DAY])

    assert outcome.success, outcome.failure_messages()
    assert len(fake_kaggle.downloads()) == 1
    assert outcome.metadata("raw/kaggle_tracks")["source"].startswith("download: ")
    assert "403" in outcome.metadata("raw/spotify_audio_features")["audio_features"]
    tracks = {
        row["track_name"]: row
        for row in outcome.staged("SELECT * FROM staging.tracks").iter_rows(named=True)
    }
    assert tracks[LOVERMAN[1]]["tempo"] == pytest.approx(130.033)  # Kaggle's row, by Spotify id
    assert tracks[SIGUR_ROS[1]]["tempo"] is None  # no source has its features
    assert tracks[LASTFM_ONLY[1]]["duration_ms"] == LASTFM_ONLY[3]  # Last.fm's track.getInfo
    assert tracks[LASTFM_ONLY[1]]["genre"] == "indie pop"
    features = outcome.metadata("staging/track_identity")["tracks_by_features_source"]
    assert features["kaggle"] == 2  # Mr Loverman (Spotify's id) and Comedy


def test_a_lasting_spotify_outage_falls_back_and_the_match_rate_gates_staging(
    world: dict,
) -> None:
    world["spotify"].fail("search", *[spotify_fake.Fault(503)] * 10)
    env = world["env"] | {"MUSIC_PLATFORM_MIN_MATCH_RATE": "0.25"}

    outcome = run_sources(env, [DAY])

    assert outcome.success, outcome.failure_messages()
    answered = outcome.check("raw/spotify_track_search", "spotify_answered")
    assert not answered.passed and "unavailable" in answered.description
    assert outcome.raw("spotify", "tracks", DAY).height == 0
    identity = outcome.metadata("staging/track_identity")
    assert identity["track_match_rate"] == pytest.approx(2 / 7)  # Kaggle knows two by name
    assert identity["heard_by_catalogue_source"] == {"kaggle": 2, "lastfm": 4, "names": 1}
    staged = outcome.staged("SELECT COUNT(*) AS n FROM staging.listens")
    assert staged["n"][0] == SCROBBLES

    world["spotify"].fail("search", *[spotify_fake.Fault(503)] * 10)
    gated = run_sources(world["env"], [DAY])  # the default threshold: 50%

    assert not gated.success
    assert not gated.check("staging/track_identity", "match_rate_above_threshold").passed
    materialized = {
        e.asset_key.to_user_string() for e in gated.result.get_asset_materialization_events()
    }
    assert (
        "staging/staged_tracks" not in materialized and "staging/staged_listens" not in materialized
    )
