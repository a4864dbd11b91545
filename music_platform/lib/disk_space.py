"""Tell a full disk apart from other failures, so the error can name the folder to free."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

# Below this, the next write of a run (a Parquet row group, a DuckDB block) cannot fit.
NEARLY_FULL_BYTES = 1 << 20

# How a full disk reads once a library has wrapped the OS error in its own.
_FULL_DISK_WORDS = ("no space left on device", "database or disk is full", "disk i/o error")


def out_of_space(error: BaseException, folder: Path) -> str | None:
    """A one-line explanation if `error` came from `folder`'s file system filling up, else None."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= NEARLY_FULL_BYTES and not _says_disk_full(error):
        return None
    return (
        f"the data directory {folder} is out of space ({free:,} bytes free): "
        f"{_first_line(error)}. Free space there (or point MUSIC_PLATFORM_HOME at a bigger "
        "disk) and rerun: every load replaces its partition whole, so nothing is doubled."
    )


def _says_disk_full(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if any(word in str(seen).lower() for word in _FULL_DISK_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
