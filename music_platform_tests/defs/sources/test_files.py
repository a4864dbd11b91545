"""The files path: the public Kaggle sample and TidyTuesday songs as the catalogue, a Last.fm 1K-
format scrobbles file as listening; and what a file with the wrong columns gets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from music_platform.lib.sources.files import SHARED_FILES, load_tidytuesday_songs
from music_platform.lib.sources.kaggle import read_tracks_csv
from music_platform_tests.defs.sources.world import DAY, run_sources
from music_platform_tests.support.platform_env import platform_environment

pytestmark = pytest.mark.slow

UNKNOWN = ("Nobody Knows", "坂本龍一の知らない歌")


def _scrobbles_file(folder: Path, plays: list[tuple[str, str]]) -> Path:
    """Last.fm 1K format: user, time, artist MBID, artist, track MBID, track; no header."""
    lines = [
        f"user_{n % 2:06d}\t{DAY}T{n:02d}:00:00Z\t\t{artist}\t\t{title}"
        for n, (artist, title) in enumerate(plays)
    ]
    path = folder / "scrobbles.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_kaggle_sample_and_tidytuesday_load_through_the_files_path(
    shared_data: Path, tmp_path: Path
) -> None:
    kaggle_path = shared_data / SHARED_FILES["kaggle_tracks"]
    songs_path = shared_data / SHARED_FILES["tidytuesday_songs"]
    kaggle = read_tracks_csv(kaggle_path)
    songs = load_tidytuesday_songs(songs_path)
    from_kaggle = [
        (artists.split(";")[0], title)
        for artists, title in kaggle.select("artists", "track_name").head(3).iter_rows()
    ]
    only_tidytuesday = songs.join(kaggle, on="track_id", how="anti").row(0, named=True)
    plays = [*from_kaggle, (only_tidytuesday["track_artist"], only_tidytuesday["track_name"])]
    plays.append(UNKNOWN)
    env = platform_environment(
        tmp_path / "home",
        MUSIC_PLATFORM_SOURCE="files",
        LASTFM_SCROBBLES_FILE=str(_scrobbles_file(tmp_path, plays)),
        KAGGLE_TRACKS_CSV=str(kaggle_path),
        TIDYTUESDAY_SONGS_CSV=str(songs_path),
    )

    outcome = run_sources(env, [DAY])

    assert outcome.success, outcome.failure_messages()
    assert outcome.raw("kaggle", "tracks").height == kaggle.height == 2024
    assert outcome.metadata("raw/kaggle_tracks")["source"] == f"file: {kaggle_path}"
    assert outcome.raw("tidytuesday", "songs").height == songs.height
    assert outcome.metadata("raw/lastfm_1k_scrobbles")["source"].startswith("file: ")
    identity = outcome.metadata("staging/track_identity")
    assert identity["heard_by_catalogue_source"] == {"kaggle": 3, "names": 1, "tidytuesday": 1}
    assert identity["track_match_rate"] == pytest.approx(4 / 5)
    assert outcome.staged("SELECT COUNT(*) AS n FROM staging.listens")["n"][0] == len(plays)
    every_track = set(kaggle["track_id"]) | set(songs["track_id"])
    tracks = outcome.check("staging/staged_tracks", "reject_rate_within_threshold").metadata
    assert tracks["loaded"].value + tracks["rejected"].value == len(every_track) + 1
    assert tracks["rejected"].value == 0
    staged_unknown = outcome.staged(
        f"SELECT track_id FROM staging.tracks WHERE track_name = '{UNKNOWN[1]}'"
    )
    assert staged_unknown["track_id"][0].startswith("name:")


def test_a_dropped_file_with_the_wrong_columns_blocks_naming_them_and_keeps_the_last_landing(
    shared_data: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    external = home / "external"
    external.mkdir(parents=True)
    shutil.copyfile(shared_data / SHARED_FILES["kaggle_tracks"], external / "tracks.csv")
    env = platform_environment(home)
    first = run_sources(env, [DAY], keys=["raw/kaggle_tracks"])
    assert first.success, first.failure_messages()
    landed = first.raw("kaggle", "tracks")
    assert landed.height == 2024

    wrong = external / "more-tracks.csv"
    wrong.write_text("id,name,artist\n1,Song,Someone\n")
    second = run_sources(env, [DAY], keys=["raw/kaggle_tracks"])

    assert not second.success
    columns = second.check("raw/kaggle_tracks", "columns_match")
    assert not columns.passed and columns.blocking
    message = columns.description
    assert f"{wrong} has the wrong columns" in message
    assert "missing track_id, artists, album_name" in message
    assert "found id, name, artist" in message
    assert "unknown id, name, artist" in message
    assert second.raw("kaggle", "tracks").equals(landed)


def test_a_kaggle_file_given_as_tidytuesday_is_refused_naming_the_missing_columns(
    shared_data: Path, tmp_path: Path
) -> None:
    kaggle_path = shared_data / SHARED_FILES["kaggle_tracks"]
    env = platform_environment(tmp_path / "home", TIDYTUESDAY_SONGS_CSV=str(kaggle_path))

    outcome = run_sources(env, [DAY], keys=["raw/tidytuesday_songs"])

    assert not outcome.success
    message = outcome.check("raw/tidytuesday_songs", "columns_match").description
    assert f"{kaggle_path} has the wrong columns" in message
    assert "track_artist" in message
    assert not (tmp_path / "home" / "raw" / "tidytuesday").exists()


def test_a_scrobbles_file_with_too_few_fields_blocks_the_day(tmp_path: Path) -> None:
    scrobbles = tmp_path / "scrobbles.tsv"
    scrobbles.write_text(f"user_000001\t{DAY}T10:00:00Z\tSomeone\tSong\n")
    env = platform_environment(
        tmp_path / "home", MUSIC_PLATFORM_SOURCE="files", LASTFM_SCROBBLES_FILE=str(scrobbles)
    )

    outcome = run_sources(env, [DAY], keys=["raw/lastfm_1k_scrobbles"])

    assert not outcome.success
    message = outcome.check("raw/lastfm_1k_scrobbles", "columns_match").description
    assert f"{scrobbles} has the wrong columns" in message
    assert "4 tab-separated fields" in message
