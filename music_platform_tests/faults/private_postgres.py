"""A PostgreSQL cluster of the test's own, to restart under a load: never the machine's server.

initdb into a temporary folder with Debian's server binaries, on a free loopback port, trust
authentication. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from music_platform_tests.support.loopback import free_port

SERVER_BINARIES = Path("/usr/lib/postgresql")
INITDB_OPTIONS = ("-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")


@dataclass(frozen=True)
class PrivateCluster:
    bin_dir: Path
    data_dir: Path
    port: int
    run_as: tuple[str, ...]

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def pg_ctl(self, *arguments: str) -> None:
        command = [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir)]
        subprocess.run([*command, *arguments], check=True, capture_output=True, timeout=120)

    def restart(self) -> None:
        """A fast restart: every session is cut, open transactions roll back."""
        self.pg_ctl("restart", "-m", "fast", "-w", "-l", str(self.log), "-o", self._options())

    @property
    def log(self) -> Path:
        return self.data_dir.parent / "server.log"

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.data_dir.parent} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )


def _server_binaries() -> Path:
    candidates = sorted(SERVER_BINARIES.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        pytest.skip(f"no PostgreSQL server binaries under {SERVER_BINARIES} for a private cluster")
    return candidates[-1].parent


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    bin_dir = _server_binaries()
    root = Path(tempfile.mkdtemp(prefix="mp-private-pg-"))
    run_as: tuple[str, ...] = ()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        run_as = ("runuser", "-u", "postgres", "--")
    cluster = PrivateCluster(bin_dir, root / "data", free_port(), run_as)
    try:
        subprocess.run(
            [*run_as, str(bin_dir / "initdb"), "-D", str(cluster.data_dir), *INITDB_OPTIONS],
            check=True,
            capture_output=True,
            timeout=300,
        )
        cluster.pg_ctl("start", "-w", "-l", str(cluster.log), "-o", cluster._options())
        yield cluster
    finally:
        if (cluster.data_dir / "postmaster.pid").exists():
            cluster.pg_ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(root, ignore_errors=True)
