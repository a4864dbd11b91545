"""The files path over the real public samples in ../shared/data, and wrong-column errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from music_platform.lib.schemas import ARTISTS, LISTENS, TRACKS
from music_platform.lib.source_errors import WrongColumnsError
from music_platform.lib.sources.files import (
    SHARED_FILES,
    lastfm_1k_to_listens,
    load_kaggle_tracks,
    load_lastfm_1k_scrobbles,
    load_shared_files,
    load_tidytuesday_songs,
    tidytuesday_to_artists,
    tidytuesday_to_tracks,
)
from music_platform.lib.sources.kaggle import kaggle_to_tracks


def test_the_kaggle_sample_parses_with_r_style_booleans_and_floats(shared_data: Path) -> None:
    tracks = load_kaggle_tracks(shared_data / SHARED_FILES["kaggle_tracks"])

    assert tracks.height == 2024
    assert tracks.get_column("explicit").null_count() == 0
    assert tracks.get_column("explicit").sum() > 0
    first = tracks.row(0, named=True)
    assert first["instrumentalness"] == pytest.approx(2.43e-5)  # written as 2.43e-5
    assert kaggle_to_tracks(tracks).schema == pl.Schema(TRACKS.columns)


def test_tidytuesday_songs_give_one_row_per_track(shared_data: Path) -> None:
    songs = load_tidytuesday_songs(shared_data / SHARED_FILES["tidytuesday_songs"])

    assert songs.height == songs.get_column("track_id").n_unique() == 28356
    tracks = tidytuesday_to_tracks(songs)
    assert tracks.schema == pl.Schema(TRACKS.columns)
    assert tracks.get_column("release_date").null_count() == 0  # YYYY and YYYY-MM included
    assert tracks.get_column("genre").str.contains(";").any()  # several playlist genres
    artists = tidytuesday_to_artists(songs)
    assert artists.schema == pl.Schema(ARTISTS.columns)
    assert artists.get_column("artist_id").is_unique().all()


def test_lastfm_1k_scrobbles_become_listens(shared_data: Path) -> None:
    scrobbles = load_lastfm_1k_scrobbles(shared_data / SHARED_FILES["lastfm_1k_scrobbles"])

    assert scrobbles.height == 5000
    assert "坂本龍一" in scrobbles.get_column("artist_name").to_list()
    assert scrobbles.schema["listened_at"] == pl.Datetime("us", "UTC")
    listens = lastfm_1k_to_listens(scrobbles)
    assert listens.schema == pl.Schema(LISTENS.columns)
    assert listens.get_column("event_id").is_unique().all()
    assert listens.get_column("track_id").null_count() == 0


def test_load_shared_files_loads_all_three(shared_data: Path) -> None:
    loaded = load_shared_files(shared_data)
    assert {name: frame.height for name, frame in loaded.items()} == {
        "kaggle_tracks": 2024,
        "tidytuesday_songs": 28356,
        "lastfm_1k_scrobbles": 5000,
    }


def test_a_kaggle_format_file_without_some_columns_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tracks.csv"
    path.write_text("track_id,artists,track_name\nabc,Someone,Song\n")

    with pytest.raises(WrongColumnsError) as failure:
        load_kaggle_tracks(path)

    message = str(failure.value)
    assert str(path) in message
    assert "missing album_name, popularity" in message
    assert "tempo" in failure.value.missing
    assert "expected track_id, artists, album_name" in message
    assert "found track_id, artists, track_name" in message


def test_a_tidytuesday_file_with_kaggle_columns_is_refused(shared_data: Path) -> None:
    with pytest.raises(WrongColumnsError, match="missing track_artist"):
        load_tidytuesday_songs(shared_data / SHARED_FILES["kaggle_tracks"])


def test_a_gzipped_file_with_wrong_columns_is_named(tmp_path: Path) -> None:
    path = tmp_path / "songs.csv.gz"
    path.write_bytes(gzip.compress(b"track_id,track_name\nx,y\n"))
    with pytest.raises(WrongColumnsError, match=r"songs\.csv\.gz has the wrong columns"):
        load_tidytuesday_songs(path)


def test_a_scrobble_file_with_too_few_fields_is_named(tmp_path: Path) -> None:
    path = tmp_path / "scrobbles.tsv"
    path.write_text("user_000001\t2009-05-04T23:08:57Z\t\tDeep Dish\tSong\n")
    with pytest.raises(WrongColumnsError) as failure:
        load_lastfm_1k_scrobbles(path)
    assert failure.value.missing == ["track_name"]
    assert "5 tab-separated fields" in str(failure.value)
