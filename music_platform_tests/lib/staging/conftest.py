"""Real stores for the staging tests: a throwaway PostgreSQL database per session (one schema per
test) and a DuckDB file per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from music_platform.lib.schemas import ALL_TABLES
from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore, StagingStore
from music_platform_tests.lib.staging.frames import ALL_TYPES

PG_SERVER = os.environ.get(
    "STAGING_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
TEST_TABLES = (*ALL_TABLES, ALL_TYPES)


@pytest.fixture(scope="session")
def pg_conninfo() -> Iterator[str]:
    """A database of its own for this test session, dropped at the end."""
    name = f"staging_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        pytest.fail(f"the staging tests need PostgreSQL at {PG_SERVER!r}: {err}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(PG_SERVER, dbname=name)
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_schema() -> str:
    return f"staging_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pg_store(pg_conninfo: str, pg_schema: str) -> PostgresStagingStore:
    store = PostgresStagingStore(pg_conninfo, schema=pg_schema, tables=TEST_TABLES)
    store.ensure_tables()
    return store


StoreFactory = Callable[..., StagingStore]


@pytest.fixture(params=["duckdb", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str) -> StoreFactory:
    """Stores of one backend over the same tables (keyword arguments go to the constructor).

    Every test using it runs against both backends; the PostgreSQL database is only created
    when a PostgreSQL test runs."""

    def make(**options: object) -> StagingStore:
        if request.param == "duckdb":
            return DuckDBStagingStore(tmp_path / "staging.duckdb", tables=TEST_TABLES, **options)
        conninfo = request.getfixturevalue("pg_conninfo")
        return PostgresStagingStore(conninfo, schema=pg_schema, tables=TEST_TABLES, **options)

    make().ensure_tables()
    return make


@pytest.fixture
def store(make_store: StoreFactory) -> StagingStore:
    return make_store()
