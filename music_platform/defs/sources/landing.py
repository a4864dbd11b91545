"""What every raw asset says of what it landed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from music_platform.defs.shared.metadata import table_metadata

if TYPE_CHECKING:
    import polars as pl

KINDS = {"python", "parquet"}


def landed_metadata(
    frame: pl.DataFrame, partition_keys: list[str] | None, **extra: Any
) -> dict[str, Any]:
    """Row count, a preview, the window and what else the asset wants to say."""
    if partition_keys:
        extra["window"] = f"{partition_keys[0]} .. {partition_keys[-1]}"
        extra["partitions"] = len(partition_keys)
    return table_metadata(frame, extra=extra)
