"""The raw landing zone: what a source returned, written once per partition, unchanged.

Files live under `<home>/raw/<source>/<entity>/` as Parquet: `<partition>.parquet` for daily
data and `latest.parquet` for catalogues. Writes go to a temporary file first and are renamed
into place, so a crash mid-write leaves the previous file whole.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

CATALOGUE_FILE = "latest"


def raw_path(raw_dir: Path, source: str, entity: str, partition_key: str | None = None) -> Path:
    return raw_dir / source / entity / f"{partition_key or CATALOGUE_FILE}.parquet"


def write_raw(frame: pl.DataFrame, path: Path) -> Path:
    """Atomically replace `path` with `frame`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    frame.write_parquet(temporary, compression="zstd", statistics=False)
    temporary.replace(path)
    return path


def read_raw(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise FileNotFoundError(
            f"raw file {path} does not exist: materialize its raw asset for this partition first"
        )
    return pl.read_parquet(path)
