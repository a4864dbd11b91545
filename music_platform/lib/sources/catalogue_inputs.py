"""What the catalogue is reconciled from: every real source as landed, parsed into frames.

API records land as JSON text (`payload`, with `_request` and `_fetched_at`); these functions read
them back, oldest fetch first so a later fetch of the same thing wins, into the frames
`CatalogueInputs` holds: heard tracks, Last.fm's track and artist facts, Spotify's search
resolutions, and Spotify's tracks (with audio features) and artists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from music_platform.lib.schemas import ARTISTS, TRACKS, ColumnType, polars_schema
from music_platform.lib.sources.identity import heard_key, heard_keys, normalise_artist
from music_platform.lib.sources.spotify import FEATURE_COLUMNS

if TYPE_CHECKING:
    import polars as pl

HEARD_SCHEMA: dict[str, ColumnType] = {
    "heard_key": ColumnType.STRING,
    "artist_name": ColumnType.STRING,
    "track_name": ColumnType.STRING,
    "artist_mbid": ColumnType.STRING,
    "track_mbid": ColumnType.STRING,
}
LASTFM_TRACK_SCHEMA: dict[str, ColumnType] = {
    "heard_key": ColumnType.STRING,
    "lastfm_duration_ms": ColumnType.INT64,
    "lastfm_track_mbid": ColumnType.STRING,
    "lastfm_genre": ColumnType.STRING,
}
LASTFM_ARTIST_SCHEMA: dict[str, ColumnType] = {
    "artist_key": ColumnType.STRING,
    "artist_name": ColumnType.STRING,
    "artist_mbid": ColumnType.STRING,
    "genres": ColumnType.STRING,
}
RESOLUTION_SCHEMA: dict[str, ColumnType] = {
    "heard_key": ColumnType.STRING,
    "spotify_search_id": ColumnType.STRING,
    "spotify_confidence": ColumnType.FLOAT64,
    "spotify_match": ColumnType.STRING,
}
CATALOGUE_TRACK_SCHEMA: dict[str, ColumnType] = {
    **TRACKS.column_types,
    "artist_name": ColumnType.STRING,
    "catalogue_source": ColumnType.STRING,
}
CATALOGUE_ARTIST_SCHEMA: dict[str, ColumnType] = {
    **ARTISTS.column_types,
    "catalogue_source": ColumnType.STRING,
}
FEATURES = list(FEATURE_COLUMNS)


@dataclass(frozen=True)
class CatalogueInputs:
    """Every real source as landed, parsed (see the `*_from_raw` functions); empty when absent."""

    heard: pl.DataFrame
    lastfm_tracks: pl.DataFrame
    lastfm_artists: pl.DataFrame
    resolutions: pl.DataFrame
    spotify_tracks: pl.DataFrame
    spotify_artists: pl.DataFrame
    kaggle: pl.DataFrame | None
    tidytuesday: pl.DataFrame | None


def _json_rows(raw: pl.DataFrame | None) -> list[tuple[dict, dict]]:
    """(payload, request) pairs, oldest fetch first, so later fetches overwrite earlier ones."""
    if raw is None or raw.is_empty():
        return []
    ordered = raw.sort("_fetched_at")
    return [
        (json.loads(payload), json.loads(request))
        for payload, request in zip(ordered["payload"], ordered["_request"], strict=True)
    ]


def _tags(value: object) -> list[dict]:
    tags = value.get("tag") if isinstance(value, dict) else None
    if isinstance(tags, dict):  # one tag comes back as an object, several as a list
        return [tags]
    return [t for t in tags or [] if isinstance(t, dict)]


def _int_or_none(value: object) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number or None  # Last.fm says 0 for "unknown"


def heard_from_listened(listened: pl.DataFrame) -> pl.DataFrame:
    """Distinct heard tracks, with the MBIDs Last.fm gave for them."""
    import polars as pl

    named = listened.filter(
        pl.col("artist_name").is_not_null() & pl.col("track_name").is_not_null()
    )
    return (
        named.with_columns(heard_keys(named))
        .group_by("heard_key", maintain_order=True)
        .agg(
            pl.col("artist_name").first(),
            pl.col("track_name").first(),
            pl.col("artist_mbid").drop_nulls().first(),
            pl.col("track_mbid").drop_nulls().first(),
        )
        .select(list(HEARD_SCHEMA))
    )


def lastfm_tracks_from_raw(raw: pl.DataFrame | None) -> pl.DataFrame:
    """Per heard track: Last.fm's duration, MBID and top tag (track.getInfo, track.getTopTags)."""
    import polars as pl

    facts: dict[str, dict] = {}
    for item, request in _json_rows(raw):
        params = request.get("params", {})
        key = heard_key(params.get("artist"), params.get("track"))
        fact = facts.setdefault(key, {"heard_key": key})
        if request.get("method") == "track.getInfo":
            fact["lastfm_duration_ms"] = _int_or_none(item.get("duration"))
            fact["lastfm_track_mbid"] = item.get("mbid") or None
            info_tags = _tags(item.get("toptags"))
            fact.setdefault("lastfm_genre", info_tags[0].get("name") if info_tags else None)
        else:
            ranked = sorted(_tags(item), key=lambda t: -(_int_or_none(t.get("count")) or 0))
            if ranked:
                fact["lastfm_genre"] = ranked[0].get("name")
    return pl.DataFrame(list(facts.values()), schema=polars_schema(LASTFM_TRACK_SCHEMA))


def lastfm_artists_from_raw(raw: pl.DataFrame | None) -> pl.DataFrame:
    """Per heard artist: Last.fm's MBID and tags (artist.getInfo, artist.getTopTags)."""
    import polars as pl

    facts: dict[str, dict] = {}
    for item, request in _json_rows(raw):
        name = request.get("params", {}).get("artist")
        key = normalise_artist(name)
        fact = facts.setdefault(key, {"artist_key": key, "artist_name": name})
        if request.get("method") == "artist.getInfo":
            fact["artist_mbid"] = item.get("mbid") or None
            fact.setdefault("genres", ";".join(t["name"] for t in _tags(item.get("tags"))) or None)
        else:
            ranked = sorted(_tags(item), key=lambda t: -(_int_or_none(t.get("count")) or 0))
            fact["genres"] = ";".join(t["name"] for t in ranked[:5] if t.get("name")) or None
    return pl.DataFrame(list(facts.values()), schema=polars_schema(LASTFM_ARTIST_SCHEMA))


def resolutions_from_raw(raw: pl.DataFrame | None) -> pl.DataFrame:
    """Per heard track: the Spotify track its search matched (None below the confidence bar)."""
    import polars as pl

    rows = {
        heard_key(item["artist"], item["title"]): {
            "heard_key": heard_key(item["artist"], item["title"]),
            "spotify_search_id": item.get("track_id"),
            "spotify_confidence": float(item.get("confidence") or 0.0),
            "spotify_match": item.get("match"),
        }
        for item, _ in _json_rows(raw)
    }
    return pl.DataFrame(list(rows.values()), schema=polars_schema(RESOLUTION_SCHEMA))


def _release_date(text: str | None) -> date | None:
    # Spotify gives a year, a year-month or a day, as its release_date_precision says.
    if not text:
        return None
    padded = {4: f"{text}-01-01", 7: f"{text}-01"}.get(len(text), text)
    try:
        return date.fromisoformat(padded)
    except ValueError:
        return None


def spotify_from_raw(
    tracks: pl.DataFrame | None, artists: pl.DataFrame | None, features: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Spotify's tracks (with their audio features and artist's first genre) and artists."""
    import polars as pl

    artist_rows = {
        item["id"]: {
            "artist_id": item["id"],
            "artist_name": item.get("name"),
            "artist_mbid": None,
            "country": None,
            "genres": ";".join(item.get("genres") or []) or None,
            "popularity": item.get("popularity"),
            "followers": (item.get("followers") or {}).get("total"),
            "catalogue_source": "spotify",
        }
        for item, _ in _json_rows(artists)
        if item.get("id")
    }
    feature_rows = {item["id"]: item for item, _ in _json_rows(features) if item.get("id")}
    track_rows = {}
    for item, _ in _json_rows(tracks):
        if not item.get("id"):
            continue
        first = (item.get("artists") or [{}])[0]
        album = item.get("album") or {}
        genres = (artist_rows.get(first.get("id")) or {}).get("genres")
        found = feature_rows.get(item["id"], {})
        track_rows[item["id"]] = {
            "track_id": item["id"],
            "track_name": item.get("name"),
            "track_mbid": None,
            "artist_id": first.get("id"),
            "album_id": album.get("id"),
            "album_name": album.get("name"),
            "release_date": _release_date(album.get("release_date")),
            "duration_ms": item.get("duration_ms"),
            "explicit": item.get("explicit"),
            "popularity": item.get("popularity"),
            "genre": genres.split(";")[0] if genres else None,
            **{column: found.get(column) for column in FEATURES},
            "artist_name": first.get("name"),
            "catalogue_source": "spotify",
        }
    return (
        pl.DataFrame(
            list(track_rows.values()), schema=polars_schema(CATALOGUE_TRACK_SCHEMA), strict=False
        ),
        pl.DataFrame(
            list(artist_rows.values()), schema=polars_schema(CATALOGUE_ARTIST_SCHEMA), strict=False
        ),
    )
