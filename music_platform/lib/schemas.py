"""The typed contract between the raw layer, staging and the warehouse.

Every staging table (PostgreSQL or DuckDB) and every warehouse landing table has exactly these
columns, in this order, followed by the load metadata columns. dbt's `landing` source reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache, cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars loads in the steps that read or write tables, not with the definitions
    import polars as pl

# The first day of the daily partitions (listen_date) and of dbt's calendar. The partitions are
# part of the asset graph, the same in every environment, so this is code, not a setting.
PARTITIONS_START = "2024-01-01"


class ColumnType(Enum):
    """A contract column's type; `polars_schema` gives the polars types the steps work in."""

    STRING = "string"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT64 = "float64"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"  # microseconds, UTC


def polars_schema(types: Mapping[str, ColumnType]) -> dict[str, pl.DataType]:
    """The polars types of `types`' columns, in the same order."""
    import polars as pl

    polars_types: dict[ColumnType, pl.DataType] = {
        ColumnType.STRING: pl.String(),
        ColumnType.INT32: pl.Int32(),
        ColumnType.INT64: pl.Int64(),
        ColumnType.FLOAT64: pl.Float64(),
        ColumnType.BOOLEAN: pl.Boolean(),
        ColumnType.DATE: pl.Date(),
        ColumnType.TIMESTAMP: pl.Datetime("us", "UTC"),
    }
    return {name: polars_types[column_type] for name, column_type in types.items()}


LOAD_METADATA_TYPES: dict[str, ColumnType] = {
    "source": ColumnType.STRING,
    "batch_id": ColumnType.STRING,
    "loaded_at": ColumnType.TIMESTAMP,
}


# Spotify's audio features, in the order the tracks contract and every catalogue file carry them.
AUDIO_FEATURE_TYPES: dict[str, ColumnType] = {
    "danceability": ColumnType.FLOAT64,
    "energy": ColumnType.FLOAT64,
    "key": ColumnType.INT32,
    "loudness": ColumnType.FLOAT64,
    "mode": ColumnType.INT32,
    "speechiness": ColumnType.FLOAT64,
    "acousticness": ColumnType.FLOAT64,
    "instrumentalness": ColumnType.FLOAT64,
    "liveness": ColumnType.FLOAT64,
    "valence": ColumnType.FLOAT64,
    "tempo": ColumnType.FLOAT64,
}


@cache
def load_metadata() -> dict[str, pl.DataType]:
    """The load metadata columns every staging and landing table ends with."""
    return polars_schema(LOAD_METADATA_TYPES)


@dataclass(frozen=True)
class TableContract:
    """One staging table: its typed columns, primary key and (for daily tables) date column."""

    name: str
    column_types: dict[str, ColumnType]
    primary_key: tuple[str, ...]
    partition_column: str | None = None

    @cached_property
    def columns(self) -> dict[str, pl.DataType]:
        """The typed columns in polars types, built the first time a step needs them."""
        return polars_schema(self.column_types)

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {**self.columns, **load_metadata()}

    @property
    def column_names(self) -> list[str]:
        return [*self.column_types, *LOAD_METADATA_TYPES]


ARTISTS = TableContract(
    name="artists",
    column_types={
        "artist_id": ColumnType.STRING,
        "artist_name": ColumnType.STRING,
        "artist_mbid": ColumnType.STRING,
        "country": ColumnType.STRING,
        "genres": ColumnType.STRING,  # ';'-joined, most characteristic first
        "popularity": ColumnType.INT32,
        "followers": ColumnType.INT64,
    },
    primary_key=("artist_id",),
)

TRACKS = TableContract(
    name="tracks",
    column_types={
        "track_id": ColumnType.STRING,
        "track_name": ColumnType.STRING,
        "track_mbid": ColumnType.STRING,
        "artist_id": ColumnType.STRING,
        "album_id": ColumnType.STRING,
        "album_name": ColumnType.STRING,
        "release_date": ColumnType.DATE,
        "duration_ms": ColumnType.INT32,
        "explicit": ColumnType.BOOLEAN,
        "popularity": ColumnType.INT32,
        "genre": ColumnType.STRING,
        **AUDIO_FEATURE_TYPES,
        "time_signature": ColumnType.INT32,
    },
    primary_key=("track_id",),
)

USERS = TableContract(
    name="users",
    column_types={
        "user_id": ColumnType.STRING,
        "username": ColumnType.STRING,
        "country": ColumnType.STRING,  # ISO 3166-1 alpha-2
        "signup_date": ColumnType.DATE,
        "birth_year": ColumnType.INT32,
    },
    primary_key=("user_id",),
)

LISTENS = TableContract(
    name="listens",
    column_types={
        "event_id": ColumnType.STRING,
        "user_id": ColumnType.STRING,
        "track_id": ColumnType.STRING,
        "listened_at": ColumnType.TIMESTAMP,
        "ms_played": ColumnType.INT32,
        "listen_date": ColumnType.DATE,
    },
    primary_key=("event_id",),
    partition_column="listen_date",
)

CATALOGUE_TABLES: tuple[TableContract, ...] = (ARTISTS, TRACKS, USERS)
ALL_TABLES: tuple[TableContract, ...] = (*CATALOGUE_TABLES, LISTENS)

REJECTS_TYPES: dict[str, ColumnType] = {
    "table_name": ColumnType.STRING,
    "partition_key": ColumnType.STRING,  # '' for unpartitioned tables
    "record_key": ColumnType.STRING,
    "reason": ColumnType.STRING,
    "record": ColumnType.STRING,  # the original record as JSON
    "batch_id": ColumnType.STRING,
    "rejected_at": ColumnType.TIMESTAMP,
}


@cache
def rejects_columns() -> dict[str, pl.DataType]:
    """The rejects table's columns: every rejected record of every table, with its reason."""
    return polars_schema(REJECTS_TYPES)
