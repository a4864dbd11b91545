"""A pipeline run beside the HTTP service under requests: neither blocks the other, and the
answers switch to the new data once the run has published its marts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx
import pytest

from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.paths import REPO_ROOT
from music_platform_tests.support.platform_env import platform_environment, run_cli

# Two whole runs: far past the suite's 900 s default on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

QUESTION = "how many listens"
LISTENS = re.compile(r"^listens: (\d+)$", re.MULTILINE)


@contextmanager
def service(env: dict[str, str], log: Path) -> Iterator[httpx.Client]:
    """`music-platform serve` in its own process (its log in a file, never a full pipe)."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "music_platform.cli", "serve", "--port", str(port)],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the service did not come up:\n{log.read_text()}")
                time.sleep(0.2)
            yield http
    finally:
        process.terminate()
        process.wait(timeout=60)


def listens_answered(http: httpx.Client) -> int:
    response = http.post("/ask", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    found = LISTENS.search(response.json()["answer"])
    assert found, response.json()
    return int(found[1])


def warehouse_listens(home: Path) -> int:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM analytics.fct_listens").fetchone()
    return int(count)


def test_a_run_beside_a_service_under_requests(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = platform_environment(home)
    first = run_cli("run", "--days", "1", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    one_day = warehouse_listens(home)

    answers: list[int] = []
    failures: list[str] = []
    running = threading.Event()

    def ask_while_running(http: httpx.Client) -> None:
        while running.is_set():
            try:
                answers.append(listens_answered(http))
            except (AssertionError, httpx.HTTPError) as error:
                failures.append(str(error))

    with service(env, tmp_path / "serve.log") as http:
        # The service has the marts open, as after the `/ask` that used to block the next run.
        assert listens_answered(http) == one_day
        running.set()
        asker = threading.Thread(target=ask_while_running, args=(http,))
        asker.start()
        try:
            second = run_cli("run", "--days", "2", env=env, cwd=tmp_path)
        finally:
            running.clear()
            asker.join(timeout=300)
        after = listens_answered(http)

    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    assert "Could not set lock" not in output
    # Its output is not a terminal: plain lines, no carriage-return progress.
    assert "\r" not in second.stdout
    two_days = warehouse_listens(home)
    assert two_days > one_day
    assert not failures, failures[:3]
    # The service answered all along, from one snapshot or the next, never half of one.
    assert answers and set(answers) <= {one_day, two_days}, sorted(set(answers))
    assert after == two_days
