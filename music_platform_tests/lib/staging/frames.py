"""Small raw frames for the staging tests, built in code (and one from real Last.fm data)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from music_platform.lib.events import ListenEvent, events_frame, model_frame
from music_platform.lib.schemas import TRACKS, USERS, ColumnType, TableContract

DAY = "2024-03-10"
DAY_START = dt.datetime(2024, 3, 10, tzinfo=dt.UTC)


def listens(
    rows: int, *, day_start: dt.datetime = DAY_START, seed: int = 0, prefix: str = "e"
) -> pl.DataFrame:
    """Valid, typed listening events spread over one UTC day."""
    rng = np.random.default_rng(seed)
    offsets = rng.integers(0, 86_400_000_000, rows)
    return pl.DataFrame(
        {
            "event_id": [f"{prefix}{i:08d}" for i in range(rows)],
            "user_id": [f"user_{i:03d}" for i in rng.integers(0, 50, rows)],
            "track_id": [f"track_{i:04d}" for i in rng.integers(0, 500, rows)],
            "listened_at": pl.Series(offsets).cast(pl.Duration("us")) + day_start,
            "ms_played": rng.integers(1_000, 400_000, rows).astype(np.int32),
        }
    ).with_columns(listen_date=pl.col("listened_at").dt.date())


def streamed_events(*events: tuple[str, str, str, dt.datetime, int]) -> pl.DataFrame:
    """Consumed events (LISTEN_EVENTS columns) of (event_id, user_id, track_id, played_at,
    ms_played), validated as the consumer validates them."""
    models = [
        ListenEvent(
            event_id=event_id, user_id=user, track_id=track, played_at=at, ms_played=ms_played
        )
        for event_id, user, track, at, ms_played in events
    ]
    offsets = list(range(len(models)))
    return events_frame(model_frame(models), partitions=[0] * len(models), offsets=offsets)


TRACK_MS = 200_000
"""The duration of every track `catalogues` gives."""


def catalogues() -> list[tuple[TableContract, pl.DataFrame]]:
    """The tracks and users `listens` refers to (ids and durations only)."""
    tracks = pl.DataFrame(
        {"track_id": [f"track_{i:04d}" for i in range(500)], "duration_ms": [TRACK_MS] * 500}
    )
    users = pl.DataFrame({"user_id": [f"user_{i:03d}" for i in range(50)]})
    return [(TRACKS, tracks), (USERS, users)]


def lastfm_listens(shared_data: Path) -> tuple[str, pl.DataFrame]:
    """The busiest UTC day of the real Last.fm 1K sample, as raw text columns (the scrobbles
    carry no play duration, and some have no track MBID)."""
    path = (
        shared_data
        / "lastfm-1k-sample"
        / "userid-timestamp-artid-artname-traid-traname.head5000.tsv"
    )
    raw = pl.read_csv(
        path,
        separator="\t",
        has_header=False,
        quote_char=None,
        new_columns=["user_id", "listened_at", "artist_mbid", "artist", "track_id", "track"],
        schema_overrides={name: pl.String for name in ("artist_mbid", "track_id")},
    )
    raw = raw.with_columns(day=pl.col("listened_at").str.slice(0, 10))
    day = raw["day"].value_counts(sort=True)["day"][0]
    frame = raw.filter(pl.col("day") == day).drop("day")
    event_ids = [
        hashlib.sha1(f"{user}|{at}|{track}".encode()).hexdigest()
        for user, at, track in frame.select("user_id", "listened_at", "track").iter_rows()
    ]
    return day, frame.with_columns(event_id=pl.Series(event_ids))


ALL_TYPES = TableContract(
    name="all_types",
    column_types={
        "id": ColumnType.STRING,
        "text": ColumnType.STRING,
        "small": ColumnType.INT32,
        "big": ColumnType.INT64,
        "ratio": ColumnType.FLOAT64,
        "flag": ColumnType.BOOLEAN,
        "day": ColumnType.DATE,
        "at": ColumnType.TIMESTAMP,
    },
    primary_key=("id",),
)


def all_types() -> pl.DataFrame:
    """Every contract dtype, with nulls, extremes and text that trips up naive encoders."""
    return pl.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "text": ["Björk", "坂本龍一", 'quote " and, comma\nnewline', "", None],
            "small": [0, -1, 2_147_483_647, -2_147_483_648, None],
            "big": [0, -(2**63), 2**63 - 1, 42, None],
            "ratio": [0.1, -1.5e300, 3.141592653589793, float("inf"), None],
            "flag": [True, False, None, True, False],
            "day": [
                dt.date(2000, 1, 1),
                dt.date(1970, 1, 1),
                dt.date(1899, 12, 31),
                None,
                dt.date(9999, 12, 31),
            ],
            "at": [
                dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
                dt.datetime(2024, 2, 29, 12, 30, 0, 123_456, tzinfo=dt.UTC),
                None,
                dt.datetime(1900, 1, 1, tzinfo=dt.UTC),
            ],
        },
        schema=ALL_TYPES.columns,
    )
