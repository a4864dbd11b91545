"""Real brokers for the session, Tansu (memory only) and noida-db, started when first needed; a
fresh topic, group and staging store (DuckDB file or PostgreSQL schema) per test.

`broker` is Tansu unless a test asks for both:
`@pytest.mark.parametrize("broker", BROKERS, indirect=True)`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore
from music_platform.lib.streaming.kafka import ensure_topic
from music_platform.settings import KafkaSettings
from music_platform_tests.support.noida import noida_broker
from music_platform_tests.support.platform_env import scratch_database
from music_platform_tests.support.tansu import tansu_broker

PARTITIONS = 3
BROKERS = ["tansu", "noida"]


@pytest.fixture(scope="session")
def tansu() -> Iterator[str]:
    with tansu_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def noida(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with noida_broker(tmp_path_factory.mktemp("noida-db")) as bootstrap:
        yield bootstrap


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> str:
    """The bootstrap address of the broker the test runs against (Tansu by default)."""
    return request.getfixturevalue(getattr(request, "param", "tansu"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with scratch_database() as name:
        yield psycopg.conninfo.make_conninfo("host=127.0.0.1 port=5432 user=postgres", dbname=name)


@pytest.fixture
def kafka(broker: str) -> KafkaSettings:
    name = f"events-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(
        bootstrap_servers=broker,
        topic=name,
        dead_letter_topic=f"{name}.dead-letter",
        consumer_group=f"staging-{name}",
        topic_partitions=PARTITIONS,
        batch_max_events=500,
        batch_max_seconds=0.2,
    )
    ensure_topic(settings, settings.topic, PARTITIONS)
    ensure_topic(settings, settings.dead_letter_topic, 1)
    return settings


@pytest.fixture(params=["duckdb", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> DuckDBStagingStore | PostgresStagingStore:
    if request.param == "duckdb":
        return DuckDBStagingStore(tmp_path / "staging.duckdb")
    conninfo = request.getfixturevalue("pg_database")
    return PostgresStagingStore(conninfo, schema=f"staging_{uuid.uuid4().hex[:10]}")
