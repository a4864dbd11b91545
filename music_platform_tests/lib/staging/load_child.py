"""A load run in its own process, for the kill tests: it never commits.

Usage: python -m music_platform_tests.lib.staging.load_child BACKEND TARGET SCHEMA ROWS MARKER
It replaces the test day's listens with ROWS new events; just before COMMIT it touches MARKER
and waits to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from music_platform.lib.schemas import LISTENS
from music_platform.lib.staging import (
    DuckDBStagingStore,
    LoadResult,
    PostgresStagingStore,
    StagingStore,
)
from music_platform_tests.lib.staging.frames import DAY, listens

BATCH_ID = "killed"


def main(backend: str, target: str, schema: str, rows: int, marker: Path) -> None:
    def wait_for_the_kill(_: LoadResult) -> None:
        marker.touch()
        time.sleep(600)

    store: StagingStore
    if backend == "duckdb":
        store = DuckDBStagingStore(Path(target), schema, before_commit=wait_for_the_kill)
    else:
        store = PostgresStagingStore(target, schema, before_commit=wait_for_the_kill)
    frame = listens(rows, prefix="new")
    store.replace_partition(LISTENS, frame, partition_key=DAY, source="child", batch_id=BATCH_ID)


if __name__ == "__main__":
    backend, target, schema, rows, marker = sys.argv[1:]
    main(backend, target, schema, int(rows), Path(marker))
