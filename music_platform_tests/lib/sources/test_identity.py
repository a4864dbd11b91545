"""Name normalisation, derived ids and cross-source track matching."""

from __future__ import annotations

import polars as pl
import pytest

from music_platform.lib.sources.identity import (
    match_tracks,
    name_id,
    normalise_artist,
    normalise_title,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Left and Right (Feat. Jung Kook of BTS)", "left and right"),
        ("I Don't Care (with Justin Bieber)", "i dont care"),
        ("Don’t Stop Me Now - Remastered 2011", "dont stop me now"),  # noqa: RUF001
        ("Bohemian Rhapsody (2011 Remaster)", "bohemian rhapsody"),
        ("Heroes [Remastered]", "heroes"),
        ("Mr. Brightside", "mr brightside"),
        ("Song ft. Somebody", "song"),
        ("ＡＢＣ　Ｓｏｎｇ", "abc song"),  # noqa: RUF001 - full-width letters and space (NFKC)
        ("戦場のメリークリスマス", "戦場のメリークリスマス"),
        ("Déjà Vu", "déjà vu"),
        ("  Straße  ", "strasse"),  # casefold, not just lower()
        ("", ""),
    ],
)
def test_normalise_title(raw: str, expected: str) -> None:
    assert normalise_title(raw) == expected


def test_normalise_artist() -> None:
    assert normalise_artist("Simon & Garfunkel") == normalise_artist("simon and garfunkel")
    assert normalise_artist("Guns N' Roses") == "guns n roses"
    assert normalise_artist("Calvin Harris feat. Rihanna") == "calvin harris"
    assert normalise_artist("AC/DC") == "ac dc"
    assert normalise_artist("坂本龍一") == "坂本龍一"
    assert normalise_artist(None) == ""


def test_name_ids_are_stable_across_spellings() -> None:
    assert name_id("The Weeknd") == name_id("THE WEEKND ")
    assert name_id("Queen", "Don't Stop Me Now") == name_id("queen", "Dont Stop Me Now")
    assert name_id("Queen") != name_id("Queen", "Don't Stop Me Now")
    assert name_id("") is None
    assert name_id("Queen").startswith("name:") and len(name_id("Queen")) == 21


def test_match_tracks_prefers_mbid_then_spotify_id_then_names() -> None:
    lastfm = pl.DataFrame(
        {
            "artist_name": ["Queen", "Robyn", "Björk", "Nobody", "Renamed"],
            "track_name": ["Bohemian Rhapsody", "Dancing On My Own", "Jóga", "Nothing", "Old"],
            "track_mbid": ["mb-1", None, None, None, None],
            "duration_ms": [354_000, 288_000, 305_000, 1_000, 200_000],
        }
    )
    spotify = pl.DataFrame(
        {
            "artist_name": ["QUEEN", "robyn", "Björk", "Someone", "Queen"],
            "track_name": ["Bohemian Rhapsody - Remastered 2011", "Dancing On My Own", "Joga",
                           "Renamed Song", "A different title"],
            "track_mbid": [None, None, None, None, "mb-1"],
            "spotify_track_id": ["s1", "s2", "s3", "s4", "s5"],
            "duration_ms": [354_300, 281_000, 305_000, 200_000, 100_000],
        }
    )  # fmt: skip

    result = match_tracks(lastfm, spotify)

    pairs = result.pairs.select("left_row", "right_row", "matched_by").rows()
    assert pairs == [(0, 4, "mbid"), (1, 1, "name")]  # Jóga != Joga: accents are kept
    assert result.match_rate == pytest.approx(2 / 5)
    assert result.disagreements.select("left_row", "duration_diff_ms").rows() == [
        (0, 254_000),
        (1, 7_000),
    ]


def test_match_tracks_uses_spotify_ids_when_both_sides_have_them() -> None:
    left = pl.DataFrame(
        {"artist_name": ["A"], "track_name": ["x"], "spotify_track_id": ["s9"], "duration_ms": [1]}
    )
    right = pl.DataFrame(
        {"artist_name": ["B"], "track_name": ["y"], "spotify_track_id": ["s9"], "duration_ms": [2]}
    )
    result = match_tracks(left, right)
    assert result.pairs.get_column("matched_by").to_list() == ["spotify_id"]
    assert result.match_rate == 1.0
    assert result.disagreements.is_empty()
