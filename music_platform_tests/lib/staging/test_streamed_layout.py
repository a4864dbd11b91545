"""Staging files and schemas written by earlier versions open as they are: a DuckDB file's
tables move out of the schema "staging" (ambiguous with the file's catalog), a PostgreSQL
listen_events keyed on event_id alone is re-keyed on (listen_date, event_id)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import psycopg
from psycopg import sql

from music_platform.lib.events import LISTEN_EVENTS
from music_platform.lib.schemas import rejects_columns
from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore, StagingStore
from music_platform.lib.staging.streamed import EventBatch
from music_platform_tests.lib.staging.conftest import TEST_TABLES
from music_platform_tests.lib.staging.frames import DAY_START, streamed_events


def batch(*event_ids: str, hours: float = 1) -> EventBatch:
    played_at = DAY_START + dt.timedelta(hours=hours)
    return EventBatch(
        events=streamed_events(
            *((e, "user_001", "track_0001", played_at, 1_000) for e in event_ids)
        ),
        rejects=pl.DataFrame(schema=rejects_columns()),
        source="kafka:events",
        offsets={("events", 0): len(event_ids)},
        group="staging",
    )


def test_a_duckdb_file_with_the_old_staging_schema_moves_to_the_files_own(
    tmp_path: Path,
) -> None:
    path = tmp_path / "staging.duckdb"
    DuckDBStagingStore(path, "staging", tables=TEST_TABLES).write_events(batch("a", "b"))

    store = DuckDBStagingStore(path, tables=TEST_TABLES)
    assert store.write_events(batch("b", "c")).staged == 1  # "b" moved along with its day
    assert store.stream_stats().rows == 3
    assert store.consumer_offsets("staging", "events") == {0: 2}
    with duckdb.connect(str(path), read_only=True) as connection:
        [(rows,)] = connection.execute("SELECT count(*) FROM staging.listen_events").fetchall()
        schemas = connection.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE catalog_name = 'staging'"
        ).fetchall()
    assert rows == 3
    assert ("staging",) not in schemas


def test_a_postgres_listen_events_keyed_on_event_id_is_rekeyed_by_day(
    pg_conninfo: str, pg_schema: str
) -> None:
    old = PostgresStagingStore(pg_conninfo, schema=pg_schema, tables=TEST_TABLES)
    old.write_events(batch("a", "b"))
    table = sql.Identifier(pg_schema, LISTEN_EVENTS.name)
    with psycopg.connect(pg_conninfo, autocommit=True) as connection:
        connection.execute(
            sql.SQL(
                "ALTER TABLE {} DROP CONSTRAINT listen_events_pkey, ADD PRIMARY KEY (event_id)"
            ).format(table)
        )

    store: StagingStore = PostgresStagingStore(pg_conninfo, schema=pg_schema, tables=TEST_TABLES)
    written = store.write_events(batch("b", "c"))
    assert (written.staged, written.duplicates) == (1, 1)
    with psycopg.connect(pg_conninfo) as connection:
        [(key,)] = connection.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(%s) AND contype = 'p'",
            (table.as_string(connection),),
        ).fetchall()
    assert key == "PRIMARY KEY (listen_date, event_id)"
