"""Start a process armed to pause at a named fault point, and SIGKILL it there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from music_platform.lib.fault_points import PAUSE_AT, PAUSE_MARKER
from music_platform_tests.support.paths import REPO_ROOT

PAUSE_DEADLINE_SECONDS = 600


def start_paused(
    arguments: list[str], point: str, marker: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`python ARGUMENTS` in a session of its own (so a kill takes its children too), armed to
    stop at `point`; returns once it is there."""
    process = subprocess.Popen(
        [sys.executable, *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {}), PAUSE_AT: point, PAUSE_MARKER: str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    wait_for(process, marker.exists, f"the process never reached {point}")
    return process


def wait_for(
    process: subprocess.Popen[str], reached: Callable[[], bool], failure: str, poll: float = 0.05
) -> None:
    """Poll `reached()` until true; fail with the process's output if it ends first."""
    deadline = time.monotonic() + PAUSE_DEADLINE_SECONDS
    while not reached():
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"{failure}: it ended by itself with {process.returncode}:\n{output}")
        if time.monotonic() > deadline:
            kill_session(process)
            pytest.fail(f"{failure} within {PAUSE_DEADLINE_SECONDS} s")
        time.sleep(poll)


def kill_session(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process and everything it started, as a crashed container would be."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
