"""Named points where the crash tests stop a process so they can SIGKILL it at a known moment.

A test sets `MUSIC_PLATFORM_PAUSE_AT` to a point's name and `MUSIC_PLATFORM_PAUSE_MARKER` to a
file: a process reaching that point writes its pid to the file and sleeps until it is killed.
Read from the environment rather than the settings because the points sit in library code that
takes no settings, and because a test seam is not configuration. Unset, a point costs one lookup.
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


def pause_point(name: str) -> None:
    """Wait here to be killed if a test armed this point; return at once otherwise."""
    if os.environ.get(PAUSE_AT) != name:
        return
    marker = os.environ.get(PAUSE_MARKER)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    while True:
        time.sleep(60)
