"""A small file system of its own for the out-of-space tests: a tmpfs mounted for the test."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_filesystem(size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's syntax: '2m'), unmounted afterwards.

    Mounting needs root (or CAP_SYS_ADMIN); elsewhere the test is skipped with the reason
    rather than faked, since only a real full file system shows what the writers do.
    """
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the out-of-space tests needs root")
    folder = Path(tempfile.mkdtemp(prefix="mp-full-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)
        folder.rmdir()


def grow(folder: Path, size: str) -> None:
    """Make room on a mounted small file system, as an operator freeing space would."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)
