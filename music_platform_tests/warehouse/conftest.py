"""fakesnow's Snowflake server on loopback, started once per test session and stopped after."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

STARTUP_SECONDS = 60


@dataclass(frozen=True)
class FakesnowServer:
    host: str
    port: int

    def environment(self, database: str) -> dict[str, str]:
        """SNOWFLAKE_* settings that point the platform (and dbt) at this server."""
        return {
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_USER": "fake",
            "SNOWFLAKE_PASSWORD": "snow",
            "SNOWFLAKE_DATABASE": database,
            "SNOWFLAKE_HOST": self.host,
            "SNOWFLAKE_PORT": str(self.port),
            "SNOWFLAKE_PROTOCOL": "http",
        }


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _wait_until_listening(process: subprocess.Popen[bytes], host: str, port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fakesnow exited with {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"fakesnow did not listen on {host}:{port} within {STARTUP_SECONDS} s")


@pytest.fixture(scope="session")
def fakesnow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesnowServer]:
    host = "127.0.0.1"
    port = _free_port(host)
    log = tmp_path_factory.mktemp("fakesnow") / "server.log"
    command = [str(Path(sys.executable).with_name("fakesnow")), "-s", "-p", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--host", host],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_listening(process, host, port)
        yield FakesnowServer(host, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def snowflake_database() -> str:
    """A database name of its own per test: the server's in-memory data lives for the session."""
    return f"MP_TEST_{uuid.uuid4().hex[:10].upper()}"
