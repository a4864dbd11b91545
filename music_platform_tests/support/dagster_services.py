"""The real `dagster-webserver` and `dagster-daemon` on loopback, and a small GraphQL client.

Each process starts in its own session (so its code servers and run workers share its process
group) with SIGINT and SIGTERM reset to their defaults: a launcher started from a
non-interactive shell passes SIGINT on ignored, and Dagster would then never stop. `stop()`
signals the whole group and escalates to SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.paths import REPO_ROOT

WORKSPACE = REPO_ROOT / "workspace.yaml"
BIN = Path(sys.executable).parent
T = TypeVar("T")

LOCATION_STATUS = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def start_process(
    args: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    """Start `args` in a new session with default signal handling, output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        return subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM the process's whole group, then SIGKILL whatever is left."""
    try:
        group = os.getpgid(process.pid)
    except ProcessLookupError:
        return
    for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            process.poll()
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def wait_for(
    probe: Callable[[], T | None], *, timeout: float, interval: float = 1.0, what: str
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except (httpx.HTTPError, OSError) as error:
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} ({last_error})")


class GraphQL:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=120)

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def location_loaded(self, name: str) -> dict[str, Any] | None:
        """The location entry once it has loaded; raises if it failed to load."""
        entries = self(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        entry = next((entry for entry in entries if entry["name"] == name), None)
        if entry is None or entry["loadStatus"] != "LOADED":
            return None
        if entry["locationOrLoadError"]["__typename"] == "PythonError":
            raise AssertionError(f"{name} failed to load: {entry['locationOrLoadError']}")
        return entry


@contextmanager
def webserver(
    *, env: dict[str, str], cwd: Path, log: Path, workspace: Path = WORKSPACE
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`dagster-webserver` on a free loopback port; yields its URL and process."""
    port = free_port()
    process = start_process(
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)],
        env=env,
        cwd=cwd,
        log=log,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop_process_group(process)


@contextmanager
def daemon(
    *, env: dict[str, str], cwd: Path, log: Path, workspace: Path = WORKSPACE
) -> Iterator[subprocess.Popen[bytes]]:
    """`dagster-daemon run`: schedules, sensors, the run queue and declarative automation."""
    process = start_process(
        [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env=env, cwd=cwd, log=log
    )
    try:
        yield process
    finally:
        stop_process_group(process)
