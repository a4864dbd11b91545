"""The raw landing zone: what a source returned, written once per partition, unchanged.

Files live under `<home>/raw/<source>/<entity>/` as Parquet: `<partition>.parquet` for daily
data and `latest.parquet` for catalogues. Writes go to a temporary file first and are renamed
into place, so a crash mid-write leaves the previous file whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from music_platform.lib.fault_points import RAW_BEFORE_RENAME, pause_point
from music_platform.lib.processes import process_exists

if TYPE_CHECKING:
    import polars as pl

CATALOGUE_FILE = "latest"


class RawWriteError(OSError):
    """A raw file could not be written (a full disk, say); the previous file, if any, is whole."""


def raw_path(raw_dir: Path, source: str, entity: str, partition_key: str | None = None) -> Path:
    return raw_dir / source / entity / f"{partition_key or CATALOGUE_FILE}.parquet"


def write_raw(frame: pl.DataFrame, path: Path) -> Path:
    """Atomically replace `path` with `frame`.

    The file is written under a temporary name that no reader globs (`*.tmp`) and renamed into
    place; a failed write removes its temporary file and raises RawWriteError naming `path`.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RawWriteError(f"cannot create the raw folder {path.parent}: {error}") from error
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        # polars reports a full disk as a ComputeError wrapping the OS error, hence Exception.
        frame.write_parquet(temporary, compression="zstd", statistics=False)
    except Exception as error:
        temporary.unlink(missing_ok=True)
        raise RawWriteError(
            f"cannot write the raw file {path}: {error}. The previous file, if any, is "
            "unchanged; free space under that folder (or point MUSIC_PLATFORM_HOME elsewhere) "
            "and rerun."
        ) from error
    pause_point(RAW_BEFORE_RENAME)
    temporary.replace(path)
    _remove_orphaned_temporaries(path)
    return path


def _remove_orphaned_temporaries(path: Path) -> None:
    """Delete temporary files a killed writer of `path` left behind (their pid is gone)."""
    for orphan in path.parent.glob(f"{path.stem}.*.tmp"):
        pid = orphan.suffixes[-2].lstrip(".") if len(orphan.suffixes) >= 2 else ""
        if pid.isdigit() and not process_exists(int(pid)):
            orphan.unlink(missing_ok=True)


def read_raw(path: Path) -> pl.DataFrame:
    import polars as pl

    if not path.exists():
        raise FileNotFoundError(
            f"raw file {path} does not exist: materialize its raw asset for this partition first"
        )
    return pl.read_parquet(path)
