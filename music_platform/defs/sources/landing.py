"""Landing API records and files in the raw zone, and reading every landed partition back.

API records land as the item the API returned, as JSON text in `payload` (Last.fm's items
change shape with their contents, so no fixed columns could hold them unchanged), beside
`_source`, `_fetched_at` and `_request`. Files land as parsed rows with the same three columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from music_platform.defs.shared.metadata import table_metadata
from music_platform.lib.raw_files import raw_path, write_raw
from music_platform.lib.schemas import ColumnType, polars_schema
from music_platform.lib.sources.records import raw_item

if TYPE_CHECKING:
    import polars as pl

KINDS = {"python", "parquet"}
RECORD_SCHEMA: dict[str, ColumnType] = {
    "payload": ColumnType.STRING,
    "_source": ColumnType.STRING,
    "_fetched_at": ColumnType.TIMESTAMP,
    "_request": ColumnType.STRING,
}


def records_frame(records: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Landed connector records (item + `_source`, `_fetched_at`, `_request`) as a raw table."""
    import polars as pl

    rows = [
        {
            "payload": json.dumps(raw_item(dict(record)), ensure_ascii=False),
            "_source": record["_source"],
            "_fetched_at": datetime.fromisoformat(record["_fetched_at"]),
            "_request": json.dumps(record["_request"], sort_keys=True, ensure_ascii=False),
        }
        for record in records
    ]
    return pl.DataFrame(rows, schema=polars_schema(RECORD_SCHEMA))


def with_landing_columns(frame: pl.DataFrame, source: str, request: dict) -> pl.DataFrame:
    """A file's parsed rows with where and when they were read."""
    import polars as pl

    return frame.with_columns(
        pl.lit(source).alias("_source"),
        pl.lit(datetime.now(UTC)).alias("_fetched_at"),
        pl.lit(json.dumps(request, sort_keys=True, ensure_ascii=False)).alias("_request"),
    )


def payloads(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [json.loads(text) for text in frame.get_column("payload")]


def write_all(
    raw_dir: Path, source: str, frames: Mapping[tuple[str, str | None], pl.DataFrame]
) -> None:
    """Write each (entity, partition) frame; called only once everything has been fetched, so a
    failed fetch leaves every previous file as it was."""
    for (entity, partition_key), frame in frames.items():
        write_raw(frame, raw_path(raw_dir, source, entity, partition_key))


def read_landed(raw_dir: Path, source: str, entity: str) -> pl.DataFrame | None:
    """Every landed partition of an entity as one frame (None when nothing has landed yet)."""
    import polars as pl

    folder = raw_dir / source / entity
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return None
    return pl.concat([pl.read_parquet(file) for file in files], how="diagonal_relaxed")


def landed_metadata(
    frame: pl.DataFrame, partition_keys: list[str] | None, **extra: Any
) -> dict[str, Any]:
    """Row count, a preview, the window and what else the asset wants to say."""
    if partition_keys:
        extra["window"] = f"{partition_keys[0]} .. {partition_keys[-1]}"
        extra["partitions"] = len(partition_keys)
    return table_metadata(frame, extra=extra)
