"""Long-running commands stop on SIGTERM and on SIGINT with everything they started, even when
launched as a background job of a non-interactive shell (SIGINT passed on ignored), which is how
a supervisor's script or `cmd &` starts them. Only the command's own pid is signalled, as `kill`
does; its children are found by a marker in their environment, so one reparented to init after
its parent left is still found."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.paths import REPO_ROOT
from music_platform_tests.support.platform_env import platform_environment
from music_platform_tests.support.tansu import tansu_broker

pytestmark = pytest.mark.slow

MARKER = "MUSIC_PLATFORM_TEST_PROCESS_MARKER"
READY_TIMEOUT_SECONDS = 400
STOP_TIMEOUT_SECONDS = 90
CLI = [sys.executable, "-m", "music_platform.cli"]


def marked_processes(marker: str) -> dict[int, str]:
    """Every live process whose environment carries `marker`: pid -> command line."""
    found = {}
    needle = f"{MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            status = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if status == "Z":  # exited, waiting for its parent to reap it
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def _as_background_job() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def started(
    command: list[str], env: dict[str, str], log: Path, ready: str, child: str = ""
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`command` started as a background job, once `ready` shows in its output and a process
    whose command line holds `child` runs."""
    marker = uuid.uuid4().hex
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **env, MARKER: marker, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_as_background_job,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while ready not in log.read_text(errors="replace") or not any(
            child in line for line in marked_processes(marker).values()
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{command} never got ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield process, marker
    finally:
        for pid in marked_processes(marker):
            os.kill(pid, signal.SIGKILL)
        process.wait()


def assert_stops_with_children(
    process: subprocess.Popen[bytes], marker: str, signum: int, log: Path
) -> None:
    before = marked_processes(marker)
    process.send_signal(signum)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{signal.Signals(signum).name} did not stop it:\n{log.read_text()[-3000:]}")
    # Children may take a moment more than their parent to go.
    deadline = time.monotonic() + 30
    while (left := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"left running after {signal.Signals(signum).name}: {left} (of {before})"
    assert process.returncode in (0, 1, -signum, 128 + signum), log.read_text()[-3000:]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dev_stops_with_its_webserver_daemon_and_code_servers(tmp_path: Path, signum: int) -> None:
    env = platform_environment(tmp_path / "home")
    # The console script, as `uv run music-platform dev` starts it (the venv's bin on PATH).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    log = tmp_path / "dev.log"
    command = [*CLI, "dev", "--port", str(free_port())]
    # Signalled once its code server runs: on a loaded machine the webserver and daemon start
    # only minutes later, after the code server has loaded the definitions.
    with started(command, env, log, "Launching Dagster services", child="code-server") as (
        process,
        marker,
    ):
        assert_stops_with_children(process, marker, signum, log)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops(tmp_path: Path, signum: int) -> None:
    env = platform_environment(tmp_path / "home")
    log = tmp_path / "serve.log"
    command = [*CLI, "serve", "--port", str(free_port())]
    with started(command, env, log, "Uvicorn running") as (process, marker):
        assert_stops_with_children(process, marker, signum, log)
    assert process.returncode == 0
    assert "Finished server process" in log.read_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_mcp_stops(tmp_path: Path, signum: int) -> None:
    env = platform_environment(tmp_path / "home")
    log = tmp_path / "mcp.log"
    command = [*CLI, "mcp", "--transport", "streamable-http", "--port", str(free_port())]
    with started(command, env, log, "Uvicorn running") as (process, marker):
        assert_stops_with_children(process, marker, signum, log)
    assert process.returncode == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stream_consume_stops(tmp_path: Path, signum: int) -> None:
    with tansu_broker() as bootstrap:
        env = platform_environment(tmp_path / "home", KAFKA_BOOTSTRAP_SERVERS=bootstrap)
        produced = subprocess.run(
            [*CLI, "stream", "produce", "--count", "200"],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert produced.returncode == 0, produced.stdout + produced.stderr
        log = tmp_path / "consume.log"
        with started([*CLI, "stream", "consume"], env, log, "staged") as (process, marker):
            assert_stops_with_children(process, marker, signum, log)
        assert process.returncode == 0
        assert "received" in log.read_text()
