"""The typed contract between the raw layer, staging and the warehouse.

Every staging table (PostgreSQL or DuckDB) and every warehouse landing table has exactly these
columns, in this order, followed by the load metadata columns. dbt's `landing` source reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

LOAD_METADATA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "batch_id": pl.String(),
    "loaded_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class TableContract:
    """One staging table: its typed columns, primary key and (for daily tables) date column."""

    name: str
    columns: dict[str, pl.DataType]
    primary_key: tuple[str, ...]
    partition_column: str | None = None

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {**self.columns, **LOAD_METADATA}

    @property
    def column_names(self) -> list[str]:
        return list(self.schema)


ARTISTS = TableContract(
    name="artists",
    columns={
        "artist_id": pl.String(),
        "artist_name": pl.String(),
        "artist_mbid": pl.String(),
        "country": pl.String(),
        "genres": pl.String(),  # ';'-joined, most characteristic first
        "popularity": pl.Int32(),
        "followers": pl.Int64(),
    },
    primary_key=("artist_id",),
)

TRACKS = TableContract(
    name="tracks",
    columns={
        "track_id": pl.String(),
        "track_name": pl.String(),
        "track_mbid": pl.String(),
        "artist_id": pl.String(),
        "album_id": pl.String(),
        "album_name": pl.String(),
        "release_date": pl.Date(),
        "duration_ms": pl.Int32(),
        "explicit": pl.Boolean(),
        "popularity": pl.Int32(),
        "genre": pl.String(),
        "danceability": pl.Float64(),
        "energy": pl.Float64(),
        "key": pl.Int32(),
        "loudness": pl.Float64(),
        "mode": pl.Int32(),
        "speechiness": pl.Float64(),
        "acousticness": pl.Float64(),
        "instrumentalness": pl.Float64(),
        "liveness": pl.Float64(),
        "valence": pl.Float64(),
        "tempo": pl.Float64(),
        "time_signature": pl.Int32(),
    },
    primary_key=("track_id",),
)

USERS = TableContract(
    name="users",
    columns={
        "user_id": pl.String(),
        "username": pl.String(),
        "country": pl.String(),  # ISO 3166-1 alpha-2
        "signup_date": pl.Date(),
        "birth_year": pl.Int32(),
    },
    primary_key=("user_id",),
)

LISTENS = TableContract(
    name="listens",
    columns={
        "event_id": pl.String(),
        "user_id": pl.String(),
        "track_id": pl.String(),
        "listened_at": pl.Datetime("us", "UTC"),
        "ms_played": pl.Int32(),
        "listen_date": pl.Date(),
    },
    primary_key=("event_id",),
    partition_column="listen_date",
)

CATALOGUE_TABLES: tuple[TableContract, ...] = (ARTISTS, TRACKS, USERS)
ALL_TABLES: tuple[TableContract, ...] = (*CATALOGUE_TABLES, LISTENS)

REJECTS_COLUMNS: dict[str, pl.DataType] = {
    "table_name": pl.String(),
    "partition_key": pl.String(),  # '' for unpartitioned tables
    "record_key": pl.String(),
    "reason": pl.String(),
    "record": pl.String(),  # the original record as JSON
    "batch_id": pl.String(),
    "rejected_at": pl.Datetime("us", "UTC"),
}
