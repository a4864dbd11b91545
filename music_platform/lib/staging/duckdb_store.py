"""Staging in a DuckDB file: Arrow bulk inserts, one transaction per load."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from music_platform.lib.events import LISTEN_EVENTS
from music_platform.lib.fault_points import STAGING_BEFORE_COMMIT, pause_point
from music_platform.lib.schemas import (
    ALL_TABLES,
    LISTENS,
    TRACKS,
    USERS,
    TableContract,
    rejects_columns,
)
from music_platform.lib.sql import quote_identifier
from music_platform.lib.staging import streamed
from music_platform.lib.staging.store import (
    LOAD_BATCHES_KEY,
    LOAD_BATCHES_TABLE,
    REJECTS_TABLE,
    Accept,
    BeforeCommit,
    HeldConnections,
    LoadResult,
    PreparedLoad,
    StagingConnectionError,
    StagingStore,
    StreamedRows,
    arrow_schema,
    column_dtype,
    load_batches_columns,
    storage_key,
)
from music_platform.lib.staging.validate import partition_day

_DUCKDB_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "VARCHAR",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
    pl.Datetime: "TIMESTAMPTZ",
}

_LOCK_RETRY_SECONDS = 0.2
_HELD_MEMORY_LIMIT = "128MB"
# Where tables lived before they moved to the file's own schema "main" (see ensure_tables).
_LEGACY_SCHEMA = "staging"

# DuckDB's file lock keeps other processes out; within a process, connections share the database
# and concurrent loads of one table could conflict, so they take turns on a lock per file.
_FILE_LOCKS: dict[Path, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.Lock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path.resolve(), threading.Lock())


def _column_list(names: Sequence[str]) -> str:
    return ", ".join(quote_identifier(name) for name in names)


class DuckDBStagingStore(StagingStore):
    """Staging tables in one DuckDB file.

    Each call opens the file and closes it again, so several processes (Dagster steps) can take
    turns; a call that finds the file locked by another process retries for `lock_timeout`
    seconds. `held_connection` keeps one connection open across calls (the stream consumer).
    `before_commit` is a fault seam for tests (see `BeforeCommit`).
    """

    def __init__(
        self,
        path: Path,
        schema: str = "main",
        *,
        tables: Sequence[TableContract] = ALL_TABLES,
        before_commit: BeforeCommit | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.schema = schema
        self.tables = tuple(tables)
        self._before_commit = before_commit
        self._lock_timeout = lock_timeout
        self._ensured = False
        self._catalog = self.path.stem
        self._connections = HeldConnections(self._open)

    def __repr__(self) -> str:
        return f"DuckDBStagingStore({str(self.path)!r}, schema={self.schema!r})"

    @contextmanager
    def held_connection(self) -> Iterator[None]:
        """This thread's calls share one open connection until the block ends, instead of
        opening the file for each call. The file stays locked against other processes
        meanwhile: hold it for bounded stretches (see the consumer)."""
        with self._connections.hold() as connection:
            if connection is None:
                yield
                return
            # DuckDB caches the blocks it reads and writes up to 80% of RAM: over a stretch of
            # batch writes that cache grew the consumer with the table (447 MB after 1M rows
            # against 357 MB with this limit, at the same speed).
            connection.execute(f"SET memory_limit = '{_HELD_MEMORY_LIMIT}'")
            try:
                yield
            finally:
                connection.execute("RESET memory_limit")

    def _connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self._connections.connect()

    @contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self._lock_timeout
        while True:
            try:
                connection = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as err:
                if "lock" not in str(err).lower() or time.monotonic() > deadline:
                    raise StagingConnectionError(
                        f"cannot open the DuckDB staging file {self.path}: {err}. If another "
                        "process holds it, wait for it to finish or point this one at "
                        "another file."
                    ) from err
                time.sleep(_LOCK_RETRY_SECONDS)
        try:
            connection.execute("SET TimeZone = 'UTC'")
            # Names are qualified with the catalog, as any file name is safe then.
            # DuckDB 2 refuses new work while a result is unread, hence fetchall over fetchone.
            [(catalog,)] = connection.execute("SELECT current_database()").fetchall()
            self._catalog = str(catalog)
            yield connection
        finally:
            connection.close()

    def _table(self, name: str) -> str:
        return quote_identifier(self._catalog, self.schema, name)

    def ensure_tables(self) -> None:
        with _file_lock(self.path), self._connect() as connection:
            connection.execute(
                f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(self._catalog, self.schema)}"
            )
            connection.begin()
            try:
                self._create_tables(connection)
                self._move_legacy_schema(connection)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
        self._ensured = True

    def _move_legacy_schema(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Move the tables of a file written with the old schema "staging" into this one, so
        that `staging.listens` is no longer ambiguous between the file's catalog and the schema
        (DuckDB asked for `staging.staging.listens`)."""
        if self.schema == _LEGACY_SCHEMA:
            return
        legacy = connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = ? AND table_schema = ?",
            [self._catalog, _LEGACY_SCHEMA],
        ).fetchall()
        created = {
            name
            for (name,) in connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = ? AND table_schema = ?",
                [self._catalog, self.schema],
            ).fetchall()
        }
        for (name,) in legacy:
            old = quote_identifier(self._catalog, _LEGACY_SCHEMA, name)
            if name in created:
                connection.execute(f"INSERT INTO {self._table(name)} BY NAME SELECT * FROM {old}")
            else:  # a table this store does not manage: moved as it is
                connection.execute(f"CREATE TABLE {self._table(name)} AS SELECT * FROM {old}")
            connection.execute(f"DROP TABLE {old}")
        if legacy:
            # DuckDB refuses catalog.schema here when both are called "staging"; the current
            # catalog is this file's.
            connection.execute(f"DROP SCHEMA {quote_identifier(_LEGACY_SCHEMA)}")

    def _create_tables(self, connection: duckdb.DuckDBPyConnection) -> None:
        for contract in self.tables:
            connection.execute(
                self._create_table_sql(
                    contract.name, contract.schema, storage_key(contract), declare_key=False
                )
            )
        connection.execute(self._create_table_sql(REJECTS_TABLE, rejects_columns(), ()))
        connection.execute(
            self._create_table_sql(LOAD_BATCHES_TABLE, load_batches_columns(), LOAD_BATCHES_KEY)
        )
        # The streamed events, like the contract tables, keep their key undeclared.
        connection.execute(
            self._create_table_sql(
                LISTEN_EVENTS.name,
                LISTEN_EVENTS.schema,
                LISTEN_EVENTS.primary_key,
                declare_key=False,
            )
        )
        connection.execute(
            self._create_table_sql(
                streamed.OFFSETS_TABLE, streamed.offsets_columns(), streamed.OFFSETS_KEY
            )
        )
        connection.execute(
            self._create_table_sql(
                streamed.STREAM_BATCHES_TABLE,
                streamed.stream_batches_columns(),
                streamed.STREAM_BATCHES_KEY,
            )
        )

    def _create_table_sql(
        self,
        name: str,
        columns: Mapping[str, pl.DataType],
        key: Sequence[str],
        *,
        declare_key: bool = True,
    ) -> str:
        """CREATE TABLE with typed columns, NOT NULL keys and, if `declare_key`, the key itself.

        Contract tables leave the PRIMARY KEY undeclared: DuckDB's ART index made a 1M-row load
        5x slower and replacing a loaded partition 60x slower (measured: 6 s and 77 s against
        1.2 s). Keys stay unique by construction: validation keeps one row per key in a batch
        and every load replaces the whole partition or table.
        """
        definitions = [
            f"{quote_identifier(column)} {_DUCKDB_TYPES[dtype.base_type()]}"
            + (" NOT NULL" if column in key else "")
            for column, dtype in columns.items()
        ]
        if key and declare_key:
            definitions.append(f"PRIMARY KEY ({_column_list(key)})")
        return f"CREATE TABLE IF NOT EXISTS {self._table(name)} ({', '.join(definitions)})"

    def _write(
        self, prepared: PreparedLoad, include_streamed: bool, accept: Accept | None
    ) -> LoadResult:
        if prepared.partition_key is None:
            return self._replace(prepared, "", [], include_streamed, accept)
        where = f"WHERE {quote_identifier(prepared.contract.partition_column or '')} = ?"
        return self._replace(prepared, where, [prepared.partition_value], include_streamed, accept)

    def _replace(
        self,
        prepared: PreparedLoad,
        where: str,
        params: list[object],
        include_streamed: bool,
        accept: Accept | None,
    ) -> LoadResult:
        if not self._ensured:
            self.ensure_tables()
        contract = prepared.contract
        with _file_lock(self.path), self._connect() as connection:
            connection.begin()
            try:
                [(rows_replaced,)] = connection.execute(
                    f"DELETE FROM {self._table(contract.name)} {where}", params
                ).fetchall()
                connection.execute(
                    f"DELETE FROM {self._table(REJECTS_TABLE)} "
                    "WHERE table_name = ? AND partition_key = ?",
                    [contract.name, prepared.partition_key or ""],
                )
                self._insert(connection, contract.name, prepared.rows)
                self._insert(connection, REJECTS_TABLE, prepared.rejects)
                added = self._add_streamed(connection, prepared) if include_streamed else None
                self._insert(
                    connection,
                    LOAD_BATCHES_TABLE,
                    pl.DataFrame([prepared.batch_row(added)], schema=load_batches_columns()),
                    replace=True,
                )
                result = prepared.result(rows_replaced, added)
                refused = accept(result) if accept is not None else None
                if refused is not None:
                    connection.rollback()
                    return dataclasses.replace(result, rows_replaced=0, refused=refused)
                if self._before_commit is not None:
                    self._before_commit(result)
                pause_point(STAGING_BEFORE_COMMIT)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
        return result

    def _add_streamed(
        self, connection: duckdb.DuckDBPyConnection, prepared: PreparedLoad
    ) -> StreamedRows:
        """The day's streamed events added to its rows and rejects (see streamed.py)."""
        tables = {
            name: self._table(name)
            for name in (LISTENS.name, REJECTS_TABLE, LISTEN_EVENTS.name, TRACKS.name, USERS.name)
        }
        writes, counts = streamed.streamed_day_statements(streamed.DUCKDB, tables, prepared)
        for statement in writes:
            connection.execute(statement.text, statement.parameters)
        [row] = connection.execute(counts.text, counts.parameters).fetchall()
        return streamed.streamed_rows(row)

    # -- streamed events ---------------------------------------------------------------------

    def write_events(
        self, batch: streamed.EventBatch, *, rows_written: streamed.RowsWritten | None = None
    ) -> streamed.EventsWritten:
        """DuckDB keeps no key index on listen_events (see `_create_table_sql`): the batch is
        deduplicated with a join on (listen_date, event_id) against the stored rows of the
        days it touches only. The days are constants of the query, so the scan skips every
        row group whose min/max listen_date lies outside them: a batch costs the same with 10M
        rows of history as with none."""
        if not self._ensured:
            self.ensure_tables()
        loaded_at = dt.datetime.now(dt.UTC)
        table = self._table(LISTEN_EVENTS.name)
        columns = _column_list(LISTEN_EVENTS.column_names)
        # Writers in one process take turns on the file, as loads do.
        with _file_lock(self.path), self._connect() as connection:
            connection.begin()
            try:
                rows = streamed.event_rows(batch, loaded_at)
                days = rows["listen_date"].unique().to_list()
                staged = late = 0
                if days:
                    connection.register("events_batch", rows.to_arrow())
                    # The stored keys of the batch's days that the batch repeats (few, mostly
                    # none): a hash table of the batch probed by one scan of those days. The
                    # rows are then inserted straight from the batch without them. NOT EXISTS
                    # would hash the stored days instead: 4x the time, and memory growing
                    # with the table.
                    connection.execute(
                        "CREATE OR REPLACE TEMPORARY TABLE repeated_events AS "
                        f"SELECT t.listen_date, t.event_id FROM {table} t "
                        "SEMI JOIN events_batch USING (listen_date, event_id) "
                        f"WHERE t.listen_date IN ({', '.join('?' for _ in days)})",
                        days,
                    )
                    [(staged,)] = connection.execute(
                        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM events_batch "
                        "ANTI JOIN repeated_events USING (listen_date, event_id)"
                    ).fetchall()
                    [(late_repeated,)] = connection.execute(
                        "SELECT count(*) FILTER (WHERE listen_date < ?) FROM repeated_events",
                        [loaded_at.date()],
                    ).fetchall()
                    connection.execute("DROP TABLE repeated_events")
                    connection.unregister("events_batch")
                    late_in_batch = rows.filter(pl.col("listen_date") < loaded_at.date()).height
                    late = late_in_batch - late_repeated
                if rows_written is not None:
                    rows_written()
                self._insert(connection, REJECTS_TABLE, batch.rejects)
                record, written = streamed.batch_record(
                    batch, loaded_at, staged=int(staged), late=int(late)
                )
                self._insert(connection, streamed.STREAM_BATCHES_TABLE, record)
                if batch.offsets:
                    connection.register("offsets_batch", streamed.offset_rows(batch).to_arrow())
                    connection.execute(
                        f"INSERT INTO {self._table(streamed.OFFSETS_TABLE)} "
                        "SELECT * FROM offsets_batch "
                        "ON CONFLICT (group_id, topic, partition) DO UPDATE SET "
                        "next_offset = greatest(next_offset, excluded.next_offset), "
                        "updated_at = excluded.updated_at"
                    )
                    connection.unregister("offsets_batch")
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
        return written

    def consumer_offsets(self, group: str, topic: str) -> dict[int, int]:
        if not self._ensured:
            self.ensure_tables()
        with self._connect() as connection:
            found = connection.execute(
                f"SELECT partition, next_offset FROM {self._table(streamed.OFFSETS_TABLE)} "
                "WHERE group_id = ? AND topic = ?",
                [group, topic],
            ).fetchall()
        return {int(partition): int(offset) for partition, offset in found}

    def stream_stats(self) -> streamed.StreamStats:
        if not self._ensured:
            self.ensure_tables()
        events = self._table(LISTEN_EVENTS.name)
        batches = self._table(streamed.STREAM_BATCHES_TABLE)
        with self._connect() as connection:
            [(rows, last_played, last_loaded)] = connection.execute(
                streamed.STATS_ROWS.format(events=events)
            ).fetchall()
            days = connection.execute(streamed.STATS_DAYS.format(events=events)).fetchall()
            [totals] = connection.execute(streamed.STATS_TOTALS.format(batches=batches)).fetchall()
        return streamed.stream_stats(rows, last_played, last_loaded, days, totals)

    def replace_rejects(self, table_name: str, partition_key: str, rejects: pl.DataFrame) -> None:
        if not self._ensured:
            self.ensure_tables()
        with _file_lock(self.path), self._connect() as connection:
            connection.begin()
            try:
                connection.execute(
                    f"DELETE FROM {self._table(REJECTS_TABLE)} "
                    "WHERE table_name = ? AND partition_key = ?",
                    [table_name, partition_key],
                )
                self._insert(connection, REJECTS_TABLE, rejects.select(list(rejects_columns())))
                connection.commit()
            except BaseException:
                connection.rollback()
                raise

    def _insert(
        self,
        connection: duckdb.DuckDBPyConnection,
        table: str,
        frame: pl.DataFrame,
        *,
        replace: bool = False,
    ) -> None:
        columns = _column_list(frame.columns)
        connection.register("staging_frame", frame.to_arrow())
        try:
            connection.execute(
                f"INSERT {'OR REPLACE ' if replace else ''}INTO {self._table(table)} ({columns}) "
                f"SELECT {columns} FROM staging_frame"
            )
        finally:
            connection.unregister("staging_frame")

    def read(
        self, contract: TableContract, partition_keys: Sequence[str] | None = None
    ) -> pa.Table:
        where, params = self._partition_filter(contract, partition_keys)
        with self._connect() as connection:
            table = connection.sql(
                f"SELECT {_column_list(contract.column_names)} "
                f"FROM {self._table(contract.name)} {where}",
                params=params,
            ).to_arrow_table()
        return table.cast(arrow_schema(contract.schema))

    def _partition_filter(
        self, contract: TableContract, partition_keys: Sequence[str] | None
    ) -> tuple[str, list[object]]:
        if partition_keys is None:
            return "", []
        days = [partition_day(contract, key) for key in partition_keys]
        if not days:
            return "WHERE false", []
        placeholders = ", ".join("?" for _ in days)
        return (
            f"WHERE {quote_identifier(contract.partition_column or '')} IN ({placeholders})",
            list(days),
        )

    def keys(self, contract: TableContract, column: str) -> pl.Series:
        dtype = column_dtype(contract, column)
        with self._connect() as connection:
            table = connection.sql(
                f"SELECT DISTINCT {quote_identifier(column)} FROM {self._table(contract.name)} "
                f"WHERE {quote_identifier(column)} IS NOT NULL"
            ).to_arrow_table()
        return pl.Series(column, table.column(0), dtype=dtype)

    def count(self, contract: TableContract, partition_key: str | None = None) -> int:
        where, params = self._partition_filter(
            contract, None if partition_key is None else [partition_key]
        )
        with self._connect() as connection:
            [(rows,)] = connection.execute(
                f"SELECT count(*) FROM {self._table(contract.name)} {where}", params
            ).fetchall()
        return int(rows)

    def rejects(self, table_name: str, partition_key: str | None = None) -> pl.DataFrame:
        where = "WHERE table_name = ?"
        params: list[object] = [table_name]
        if partition_key is not None:
            where += " AND partition_key = ?"
            params.append(partition_key)
        with self._connect() as connection:
            table = connection.sql(
                f"SELECT {_column_list(list(rejects_columns()))} FROM {self._table(REJECTS_TABLE)} "
                f"{where} ORDER BY rejected_at, record_key",
                params=params,
            ).to_arrow_table()
        return pl.from_arrow(table.cast(arrow_schema(rejects_columns())))

    def batches(self, table_name: str | None = None) -> pl.DataFrame:
        where, params = ("WHERE table_name = ?", [table_name]) if table_name else ("", [])
        with self._connect() as connection:
            table = connection.sql(
                f"SELECT {_column_list(list(load_batches_columns()))} "
                f"FROM {self._table(LOAD_BATCHES_TABLE)} {where} "
                "ORDER BY started_at, batch_id, table_name, partition_key",
                params=params,
            ).to_arrow_table()
        return pl.from_arrow(table.cast(arrow_schema(load_batches_columns())))
