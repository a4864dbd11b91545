"""Reconciling the sources: identity, fallbacks and flagged disagreements, on small frames."""

from __future__ import annotations

import polars as pl
import pytest

from music_platform.lib.schemas import ARTISTS, TRACKS, polars_schema
from music_platform.lib.sources.catalogue import reconcile
from music_platform.lib.sources.catalogue_inputs import (
    HEARD_SCHEMA,
    LASTFM_ARTIST_SCHEMA,
    LASTFM_TRACK_SCHEMA,
    RESOLUTION_SCHEMA,
    CatalogueInputs,
    spotify_from_raw,
)
from music_platform.lib.sources.identity import heard_key
from music_platform.lib.sources.kaggle import COLUMNS
from music_platform.lib.sources.landed import records_frame
from music_platform.lib.sources.records import landed
from music_platform_tests.support import spotify_fake

SPOTIFY_ID = "2IVsRhKrx8hlQBOWy4qebo"
OTHER_RELEASE = "0therRe1easeOfTheSong0"


def _landed(items: list[dict]) -> pl.DataFrame:
    when = "2024-03-01T12:00:00+00:00"
    return records_frame(landed(i, "spotify", when, {"method": "x", "params": {}}) for i in items)


def _kaggle(rows: list[dict]) -> pl.DataFrame:
    """`read_tracks_csv`-shaped rows; unset columns null."""
    schema = {
        **{c: t for c, t in polars_schema(COLUMNS).items() if c != "track_genre"},
        "explicit": pl.Boolean,
    }
    return pl.DataFrame(rows, schema={**schema, "genres": pl.String})


def _heard(*pairs: tuple[str, str]) -> pl.DataFrame:
    rows = [{"heard_key": heard_key(a, t), "artist_name": a, "track_name": t} for a, t in pairs]
    return pl.DataFrame(rows, schema=polars_schema(HEARD_SCHEMA))


def _inputs(**given: object) -> CatalogueInputs:
    tracks, artists = spotify_from_raw(None, None, None)
    defaults = {
        "heard": _heard(),
        "lastfm_tracks": pl.DataFrame(schema=polars_schema(LASTFM_TRACK_SCHEMA)),
        "lastfm_artists": pl.DataFrame(schema=polars_schema(LASTFM_ARTIST_SCHEMA)),
        "resolutions": pl.DataFrame(schema=polars_schema(RESOLUTION_SCHEMA)),
        "spotify_tracks": tracks,
        "spotify_artists": artists,
        "kaggle": None,
        "tidytuesday": None,
    }
    return CatalogueInputs(**{**defaults, **given})


def test_features_spotify_refused_come_from_kaggle_by_id_then_by_name() -> None:
    artist = ("art00000000000000001", "Ricky Montgomery")
    tracks, artists = spotify_from_raw(
        _landed(
            [
                spotify_fake.track(SPOTIFY_ID, "Mr Loverman", [artist]),
                spotify_fake.track(OTHER_RELEASE, "Line Without a Hook", [artist]),
            ]
        ),
        _landed([spotify_fake.artist(*artist)]),
        None,  # audio features: 403
    )
    kaggle = _kaggle(
        [
            {"track_id": SPOTIFY_ID, "artists": "Ricky Montgomery", "track_name": "Mr Loverman",
             "tempo": 130.0, "danceability": 0.6},
            {"track_id": "kaggleIdOfTheOtherSong", "artists": "Ricky Montgomery",
             "track_name": "Line Without a Hook (Remastered)", "tempo": 90.0, "danceability": 0.4},
        ]
    )  # fmt: skip

    result = reconcile(
        _inputs(spotify_tracks=tracks, spotify_artists=artists, kaggle=kaggle),
        duration_tolerance_ms=5_000,
    )

    by_id = {row["track_id"]: row for row in result.tracks.iter_rows(named=True)}
    assert (by_id[SPOTIFY_ID]["tempo"], by_id[SPOTIFY_ID]["features_source"]) == (130.0, "kaggle")
    assert (by_id[OTHER_RELEASE]["tempo"], by_id[OTHER_RELEASE]["features_source"]) == (
        90.0,
        "kaggle",
    )
    # Kaggle's artist is the same artist: one id, Spotify's.
    assert result.artists.filter(pl.col("artist_name") == "Ricky Montgomery")[
        "artist_id"
    ].to_list() == [artist[0]]
    assert set(result.tracks["artist_id"]) <= set(result.artists["artist_id"])


def test_a_heard_track_no_catalogue_knows_gets_a_row_from_lastfm() -> None:
    heard = _heard(("Sigur Rós", "Hoppípolla"))
    lastfm_tracks = pl.DataFrame(
        [{"heard_key": heard["heard_key"][0], "lastfm_duration_ms": 268_000,
          "lastfm_track_mbid": "mbid-track", "lastfm_genre": "post-rock"}],
        schema=polars_schema(LASTFM_TRACK_SCHEMA),
    )  # fmt: skip
    lastfm_artists = pl.DataFrame(
        [{"artist_key": "sigur ros", "artist_name": "Sigur Rós", "artist_mbid": "mbid-artist",
          "genres": "post-rock;icelandic"}],
        schema=polars_schema(LASTFM_ARTIST_SCHEMA),
    )  # fmt: skip

    result = reconcile(
        _inputs(heard=heard, lastfm_tracks=lastfm_tracks, lastfm_artists=lastfm_artists),
        duration_tolerance_ms=5_000,
    )

    (track,) = result.tracks.iter_rows(named=True)
    assert track["track_id"] == heard["heard_key"][0]
    assert (track["duration_ms"], track["track_mbid"], track["genre"]) == (
        268_000,
        "mbid-track",
        "post-rock",
    )
    (artist,) = result.artists.iter_rows(named=True)
    assert (artist["artist_id"], artist["artist_mbid"]) == (track["artist_id"], "mbid-artist")
    assert result.identity["catalogue_source"].to_list() == ["lastfm"]
    assert result.track_match_rate == 0.0
    assert result.tracks.select(TRACKS.column_names[: len(TRACKS.columns)]).columns == list(
        TRACKS.columns
    )
    assert set(ARTISTS.columns) <= set(result.artists.columns)


@pytest.mark.parametrize(("lastfm_ms", "disagrees"), [(216_880 + 4_000, False), (246_880, True)])
def test_durations_further_apart_than_the_tolerance_are_flagged(
    lastfm_ms: int, disagrees: bool
) -> None:
    heard = _heard(("Ricky Montgomery", "Mr Loverman"))
    key = heard["heard_key"][0]
    tracks, artists = spotify_from_raw(
        _landed(
            [
                spotify_fake.track(
                    SPOTIFY_ID, "Mr Loverman", [("a1", "Ricky Montgomery")], duration_ms=216_880
                )
            ]
        ),
        None,
        None,
    )
    result = reconcile(
        _inputs(
            heard=heard,
            spotify_tracks=tracks,
            spotify_artists=artists,
            lastfm_tracks=pl.DataFrame(
                [{"heard_key": key, "lastfm_duration_ms": lastfm_ms}],
                schema=polars_schema(LASTFM_TRACK_SCHEMA),
            ),
            resolutions=pl.DataFrame(
                [{"heard_key": key, "spotify_search_id": SPOTIFY_ID, "spotify_confidence": 1.0,
                  "spotify_match": "exact"}],
                schema=polars_schema(RESOLUTION_SCHEMA),
            ),
        ),
        duration_tolerance_ms=5_000,
    )  # fmt: skip

    (row,) = result.identity.iter_rows(named=True)
    assert (row["matched_by"], row["track_id"]) == ("spotify_id", SPOTIFY_ID)
    assert row["duration_disagrees"] is disagrees
    assert result.tracks["duration_ms"].to_list() == [216_880]  # never overwritten
