"""One load in a process of its own, for the kill tests (armed through the fault points).

Usage: python -m music_platform_tests.faults.load_child KIND TARGET ROWS
  raw PATH ROWS                 write ROWS listens as the raw file PATH
  warehouse PATH ROWS           replace day DAY of landing.listens in the warehouse at PATH
  warehouse-table PATH ROWS     replace landing.tracks in the warehouse at PATH
  promote ROOT VERSION          promote VERSION in the recommender registry under ROOT
  staging CONNINFO ROWS         replace day DAY of staging.listens in PostgreSQL
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from music_platform.lib.model_registry import ModelRegistry
from music_platform.lib.raw_files import write_raw
from music_platform.lib.schemas import LISTENS
from music_platform.lib.staging import PostgresStagingStore
from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse
from music_platform_tests.lib.staging.frames import DAY, listens

REGISTRY_NAME = "recommender"


def tracks(rows: int, prefix: str = "new") -> pl.DataFrame:
    """A catalogue of `rows` tracks."""
    return pl.DataFrame(
        {"track_id": [f"{prefix}{i:06d}" for i in range(rows)], "duration_ms": range(rows)}
    )


def main(kind: str, target: str, amount: str) -> None:
    if kind == "raw":
        write_raw(listens(int(amount), prefix="new"), Path(target))
    elif kind == "warehouse":
        DuckDBWarehouse(Path(target)).replace_partitions(
            "listens",
            listens(int(amount), prefix="new").to_arrow(),
            partition_column="listen_date",
            partition_keys=[DAY],
        )
    elif kind == "warehouse-table":
        DuckDBWarehouse(Path(target)).replace_table("tracks", tracks(int(amount)).to_arrow())
    elif kind == "staging":
        PostgresStagingStore(target).replace_partition(
            LISTENS,
            listens(int(amount), prefix="new"),
            partition_key=DAY,
            source="child",
            batch_id="cut",
        )
    elif kind == "promote":
        ModelRegistry(Path(target), REGISTRY_NAME).promote(amount)
    else:
        raise SystemExit(f"unknown load kind {kind!r}: see the usage above")


if __name__ == "__main__":
    main(*sys.argv[1:])
