"""deploy/db-roles.sql, applied by scripts/db-roles: each role has only the rights it needs."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import polars as pl
import psycopg
import pytest
from psycopg import sql

from music_platform.lib.schemas import LISTENS
from music_platform.lib.staging import PostgresStagingStore
from music_platform_tests.lib.staging.frames import DAY, listens
from music_platform_tests.support.paths import REPO_ROOT
from music_platform_tests.support.platform_env import POSTGRES_ADMIN, scratch_database


def _connect(database: str, user: str) -> psycopg.Connection:
    return psycopg.connect(
        f"host=127.0.0.1 port=5432 user={user} dbname={database}", autocommit=True
    )


@pytest.fixture
def roles() -> Iterator[dict[str, str]]:
    """A scratch database with the roles applied by the project's script; roles are
    cluster-wide, so they get unique names and are dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = {"writer": f"mp_writer_{suffix}", "reader": f"mp_reader_{suffix}"}
    with scratch_database() as database:
        env = {
            **os.environ,
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432",
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": database,
            "STAGING_WRITER_ROLE": names["writer"],
            "WAREHOUSE_READER_ROLE": names["reader"],
        }
        for _ in range(2):  # idempotent: a second application changes nothing and succeeds
            applied = subprocess.run(
                [str(REPO_ROOT / "scripts" / "db-roles")],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert applied.returncode == 0, applied.stderr
        try:
            yield {**names, "database": database}
        finally:
            with psycopg.connect(f"{POSTGRES_ADMIN} dbname={database}", autocommit=True) as admin:
                for role in names.values():
                    admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
                for role in names.values():
                    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _refused(connection: psycopg.Connection, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        connection.execute(statement)


def test_the_writer_loads_staging_and_the_reader_only_reads(roles: dict[str, str]) -> None:
    database, writer, reader = roles["database"], roles["writer"], roles["reader"]
    store = PostgresStagingStore(f"host=127.0.0.1 port=5432 user={writer} dbname={database}")
    store.replace_partition(LISTENS, listens(50), partition_key=DAY, source="test", batch_id="b1")
    store.replace_partition(LISTENS, listens(40), partition_key=DAY, source="test", batch_id="b2")
    assert store.count(LISTENS, DAY) == 40

    with _connect(database, reader) as connection:
        (rows,) = connection.execute("SELECT count(*) FROM staging.listens").fetchone()
        assert rows == 40
        _refused(connection, "DELETE FROM staging.listens")
        _refused(connection, "INSERT INTO staging.rejects (table_name) VALUES ('x')")
        _refused(connection, "CREATE TABLE staging.mine (x int)")
        _refused(connection, "CREATE TABLE public.mine (x int)")
        _refused(connection, "DROP TABLE staging.listens")

    with _connect(database, writer) as connection:
        _refused(connection, "CREATE SCHEMA elsewhere")
        _refused(connection, "CREATE TABLE public.mine (x int)")
        _refused(connection, "DROP SCHEMA public CASCADE")
        _refused(connection, "ALTER SCHEMA public RENAME TO gone")
    with psycopg.connect(f"{POSTGRES_ADMIN} dbname={database}", autocommit=True) as admin:
        admin.execute("CREATE SCHEMA analytics")
        admin.execute("CREATE TABLE analytics.fct (x int)")
    with _connect(database, writer) as connection:
        _refused(connection, "DROP TABLE analytics.fct")
        _refused(connection, "ALTER TABLE analytics.fct ADD COLUMN y int")
        _refused(connection, "DROP SCHEMA analytics CASCADE")
        _refused(connection, "SELECT * FROM analytics.fct")
    assert pl.from_arrow(store.read(LISTENS, [DAY])).height == 40
