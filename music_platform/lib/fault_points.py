"""Named points where the crash tests stop a process so they can SIGKILL it at a known moment.

A test sets `MUSIC_PLATFORM_PAUSE_AT` to a point's name and `MUSIC_PLATFORM_PAUSE_MARKER` to a
file: the first time a process reaches that point it writes its pid to the file and waits, until
it is killed or the test deletes the file to let it go on (after restarting a server under it,
say). Read from the environment rather than the settings: the points sit in library code that
takes no settings, and a test seam is not configuration. Unset, a point costs one lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "MUSIC_PLATFORM_PAUSE_AT"
PAUSE_MARKER = "MUSIC_PLATFORM_PAUSE_MARKER"

# The points, each just before the step that makes a load visible.
RAW_BEFORE_RENAME = "raw.before_rename"
STAGING_BEFORE_COMMIT = "staging.before_commit"
WAREHOUSE_BEFORE_COMMIT = "warehouse.before_commit"
REGISTRY_BEFORE_PROMOTE = "registry.before_promote"


_passed: set[str] = set()


def pause_point(name: str) -> None:
    """Wait here if a test armed this point; return at once otherwise."""
    if os.environ.get(PAUSE_AT) != name or name in _passed:
        return
    _passed.add(name)
    marker = os.environ.get(PAUSE_MARKER)
    if not marker:  # nothing can let it go on: wait for the kill
        while True:
            time.sleep(60)
    Path(marker).write_text(str(os.getpid()))
    while Path(marker).exists():
        time.sleep(0.05)
