"""A second real Kafka-protocol broker on loopback: noida-db (PyPI), Kafka service only.

Unlike Tansu it answers Debian's kcat (librdkafka 2.0), and its watermarks are the offsets it
stored, so lag can be checked against it. It persists to a data directory: each broker gets a
fresh one, so no test sees another session's topics.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.tansu import serve_broker


@contextmanager
def noida_broker(data_dir: Path) -> Iterator[str]:
    """Start noida-db's Kafka service on a free loopback port with its data under `data_dir`;
    yield its bootstrap address; stop it."""
    # The packaged binary itself, not the Python wrapper that would outlive a kill as a parent
    # of an orphaned server.
    binary = files("noida_db").joinpath("noida-db")
    port = free_port()
    command = [
        str(binary),
        "start",
        "--data-dir",
        str(data_dir),
        "--only",
        "kafka",
        "--kafka-port",
        str(port),
    ]
    with serve_broker("noida-db", port, command) as bootstrap:
        yield bootstrap
