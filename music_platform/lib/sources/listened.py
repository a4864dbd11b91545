"""Real listening, read back from raw: who heard which (artist, title) when, from the Last.fm
API's scrobbles, a Last.fm 1K-format file or a listening-events file, in one shape; and its
mapping to LISTENS rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from music_platform.lib.events import as_listens
from music_platform.lib.raw_files import raw_path, read_raw
from music_platform.lib.schemas import ColumnType, polars_schema
from music_platform.lib.sources import lastfm
from music_platform.lib.sources.events_file import decode_lines
from music_platform.lib.sources.files import lastfm_1k_to_listens
from music_platform.lib.sources.identity import heard_keys
from music_platform.lib.sources.landed import read_landed
from music_platform.lib.sources.selection import ListensSource, SourceSelection

if TYPE_CHECKING:
    import polars as pl

# Where the listening files land under the raw folder (lib/raw_files.py).
LASTFM_1K_SOURCE = "lastfm_1k"
EVENTS_FILE_SOURCE = "events_file"
LISTENED_SCHEMA: dict[str, ColumnType] = {
    "user_id": ColumnType.STRING,
    "listened_at": ColumnType.TIMESTAMP,
    "artist_name": ColumnType.STRING,
    "artist_mbid": ColumnType.STRING,
    "track_name": ColumnType.STRING,
    "track_mbid": ColumnType.STRING,
}
# Where each real listens source lands: (source folder, entity).
_LANDED = {
    ListensSource.LASTFM: (lastfm.SOURCE, "scrobbles"),
    ListensSource.LASTFM_FILE: (LASTFM_1K_SOURCE, "scrobbles"),
    ListensSource.EVENTS_FILE: (EVENTS_FILE_SOURCE, "events"),
}


def _text(value: object) -> str | None:
    text = value.get("#text") if isinstance(value, dict) else value
    return str(text) if text else None


def _from_lastfm_api(raw: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    rows = []
    for payload, request in zip(raw["payload"], raw["_request"], strict=True):
        item, asked = json.loads(payload), json.loads(request)
        artist = item.get("artist")
        rows.append(
            {
                "user_id": asked["params"]["user"],
                "listened_at": datetime.fromtimestamp(int(item["date"]["uts"]), UTC),
                "artist_name": _text(artist),
                "artist_mbid": (artist.get("mbid") or None) if isinstance(artist, dict) else None,
                "track_name": _text(item.get("name")),
                "track_mbid": item.get("mbid") or None,
            }
        )
    return pl.DataFrame(rows, schema=polars_schema(LISTENED_SCHEMA))


def _from_events(raw: pl.DataFrame) -> pl.DataFrame:
    """Who listened when. An event names its track by catalogue id, as a streamed one does, so
    it gives no (artist, title) for the identity to reconcile."""
    import polars as pl

    events = decode_lines(raw["line"])
    return events.select(
        "user_id",
        pl.col("played_at").alias("listened_at"),
        *(pl.lit(None, pl.String).alias(c) for c in list(LISTENED_SCHEMA)[2:]),
    )


def _listened(selection: SourceSelection, raw: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    if selection.listens is ListensSource.LASTFM:
        return _from_lastfm_api(raw)
    if selection.listens is ListensSource.EVENTS_FILE:
        return _from_events(raw)
    return raw.select([pl.col(c).cast(t) for c, t in polars_schema(LISTENED_SCHEMA).items()])


def listened(selection: SourceSelection, raw_dir: Path, partition_key: str) -> pl.DataFrame:
    """One landed day of real listening."""
    source, entity = _LANDED[selection.listens]
    return _listened(selection, read_raw(raw_path(raw_dir, source, entity, partition_key)))


def listened_so_far(selection: SourceSelection, raw_dir: Path) -> pl.DataFrame:
    """Every landed day of real listening (empty before the first day lands)."""
    import polars as pl

    raw = read_landed(raw_dir, *_LANDED[selection.listens])
    if raw is None:
        return pl.DataFrame(schema=polars_schema(LISTENED_SCHEMA))
    return _listened(selection, raw)


def events_listens(raw_dir: Path, partition_key: str) -> pl.DataFrame:
    """One landed day of a listening-events file as LISTENS rows: the events' own ids, tracks
    and durations."""
    raw = read_raw(raw_path(raw_dir, EVENTS_FILE_SOURCE, "events", partition_key))
    return as_listens(decode_lines(raw["line"]))


def to_listens(listened: pl.DataFrame, track_ids: pl.DataFrame | None) -> pl.DataFrame:
    """LISTENS rows: event_id `user:epoch-seconds:n` as in the Last.fm 1K file, track_id from
    the cross-source identity (`heard_key` -> track_id); ms_played is unknown to Last.fm."""
    import polars as pl

    rows = lastfm_1k_to_listens(listened).drop("track_id").with_columns(heard_keys(listened))
    known = (
        track_ids.select("heard_key", "track_id")
        if track_ids is not None
        else pl.DataFrame(schema={"heard_key": pl.String, "track_id": pl.String})
    )
    rows = rows.join(known, on="heard_key", how="left", maintain_order="left")
    # A track the identity does not know (yet) keeps its heard key: staging keeps the listen and
    # dbt gives the key an inferred track row until the identity catches up.
    return rows.with_columns(pl.coalesce("track_id", "heard_key").alias("track_id")).select(
        "event_id", "user_id", "track_id", "listened_at", "ms_played", "listen_date"
    )
