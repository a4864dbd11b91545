"""Staging in PostgreSQL: vectorised binary COPY, one transaction per load.

A partitioned contract (listens) is a table partitioned by range of its date column, one
partition a day. Replacing a day builds the new partition beside the old one (COPY of the rows
in key order into a plain table, then its primary-key index in one pass: far cheaper than index
upkeep row by row) and swaps it in at the end of the same transaction, so readers see the old
day until COMMIT and a failure anywhere leaves it untouched. Unpartitioned catalogues are
replaced with DELETE + COPY in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager

import polars as pl
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

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
from music_platform.lib.staging import streamed
from music_platform.lib.staging.pg_copy import (
    READ_SESSION_SETTINGS,
    arrow_from_csv,
    binary_copy_chunks,
    pg_type,
)
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

_RowWriter = Callable[[psycopg.Connection, PreparedLoad], int]
"""Writes a prepared load's rows inside the open transaction; returns the rows it replaced."""

# The new partition's primary key is built from rows sent in key order (`_in_key_order`): one
# pass in memory. Parallel workers would add work without saving time: each spills its share to
# temporary files for the leader to merge back.
_INDEX_BUILD_SETTINGS = {"maintenance_work_mem": "256MB", "max_parallel_maintenance_workers": "0"}


def describe_connection_failure(conninfo: str, error: Exception) -> str:
    """Where the connection went, why it failed and what to do; never the password."""
    params = conninfo_to_dict(conninfo)
    host = params.get("host") or os.environ.get("PGHOST") or "the local Unix socket"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    user = params.get("user") or os.environ.get("PGUSER") or getpass.getuser()
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or user
    reason = " ".join(str(error).split())
    password = params.get("password") or os.environ.get("PGPASSWORD")
    if password:
        reason = reason.replace(str(password), "***")
    return (
        f"cannot connect to the PostgreSQL staging database {dbname!r} at {host}:{port} as "
        f"{user!r}: {reason}. Check that the server is running and accepts connections there "
        "(locally: pg_ctlcluster <version> main start), that the database exists "
        f"(createdb {dbname}), and that the staging connection settings point at it."
    )


class PostgresStagingStore(StagingStore):
    """Staging tables in a PostgreSQL schema.

    Each call opens its own connection, so one store can serve several processes.
    `before_commit` is a fault seam for tests (see `BeforeCommit`).
    """

    def __init__(
        self,
        conninfo: str,
        schema: str = "staging",
        *,
        tables: Sequence[TableContract] = ALL_TABLES,
        before_commit: BeforeCommit | None = None,
        connect_timeout: int = 10,
    ) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.tables = tuple(tables)
        self._before_commit = before_commit
        self._connect_timeout = connect_timeout
        self._ensured = False
        self._connections = HeldConnections(self._open)

    def __repr__(self) -> str:
        params = conninfo_to_dict(self.conninfo)
        where = f"{params.get('host', '')}:{params.get('port', '')}/{params.get('dbname', '')}"
        return f"PostgresStagingStore({where!r}, schema={self.schema!r})"

    @contextmanager
    def held_connection(self) -> Iterator[None]:
        """This thread's calls share one open connection until the block ends, instead of
        connecting for each call (the stream consumer)."""
        with self._connections.hold():
            yield

    def _connect(self) -> AbstractContextManager[psycopg.Connection]:
        return self._connections.connect()

    @contextmanager
    def _open(self) -> Iterator[psycopg.Connection]:
        try:
            connection = psycopg.connect(
                self.conninfo, connect_timeout=self._connect_timeout, autocommit=True
            )
        except psycopg.OperationalError as err:
            raise StagingConnectionError(describe_connection_failure(self.conninfo, err)) from None
        with connection:  # transactions are explicit: connection.transaction()
            yield connection

    def _table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    # -- DDL ---------------------------------------------------------------------------------

    def ensure_tables(self) -> None:
        with self._connect() as connection, connection.transaction():
            # Concurrent first loads would race on CREATE ... IF NOT EXISTS: take turns.
            _advisory_lock(connection, f"ddl:{self.schema}")
            # CREATE SCHEMA needs CREATE on the database even when the schema exists: only ask
            # when it is missing, so a least-privilege writer (deploy/db-roles.sql) can load.
            found = connection.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
            if found is None:
                connection.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
            for contract in self.tables:
                partitioning = sql.SQL("")
                if contract.partition_column:
                    partitioning = sql.SQL(" PARTITION BY RANGE ({})").format(
                        sql.Identifier(contract.partition_column)
                    )
                connection.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}){}").format(
                        self._table(contract.name),
                        _table_body(contract.schema, storage_key(contract), with_key=True),
                        partitioning,
                    )
                )
            connection.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                    self._table(REJECTS_TABLE), _table_body(rejects_columns(), (), with_key=False)
                )
            )
            connection.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (table_name, partition_key)").format(
                    sql.Identifier(f"{REJECTS_TABLE}_table_partition"), self._table(REJECTS_TABLE)
                )
            )
            connection.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                    self._table(LOAD_BATCHES_TABLE),
                    _table_body(load_batches_columns(), LOAD_BATCHES_KEY, with_key=True),
                )
            )
            # The streamed events: one table keyed on (listen_date, event_id), so a batch is
            # deduplicated by its index, touching only the index pages of its days, and read a
            # day at a time by the same index.
            _key_listen_events_by_day(connection, self.schema)
            for name, columns, key in (
                (LISTEN_EVENTS.name, LISTEN_EVENTS.schema, LISTEN_EVENTS.primary_key),
                (streamed.OFFSETS_TABLE, streamed.offsets_columns(), streamed.OFFSETS_KEY),
                (
                    streamed.STREAM_BATCHES_TABLE,
                    streamed.stream_batches_columns(),
                    streamed.STREAM_BATCHES_KEY,
                ),
            ):
                connection.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                        self._table(name), _table_body(columns, key, with_key=True)
                    )
                )
        self._ensured = True

    # -- loads -------------------------------------------------------------------------------

    def _write(
        self, prepared: PreparedLoad, include_streamed: bool, accept: Accept | None
    ) -> LoadResult:
        if prepared.partition_key is None:
            return self._load(prepared, self._rewrite_table, include_streamed, accept)
        return self._load(prepared, self._swap_partition, include_streamed, accept)

    def _load(
        self,
        prepared: PreparedLoad,
        write_rows: _RowWriter,
        include_streamed: bool,
        accept: Accept | None,
    ) -> LoadResult:
        if not self._ensured:
            self.ensure_tables()
        contract = prepared.contract
        partition_key = prepared.partition_key or ""
        try:
            with self._connect() as connection, connection.transaction():
                # Two loads of the same partition take turns instead of colliding on its rows.
                _advisory_lock(connection, f"load:{self.schema}.{contract.name}/{partition_key}")
                rows_replaced = write_rows(connection, prepared)
                connection.execute(
                    sql.SQL("DELETE FROM {} WHERE table_name = %s AND partition_key = %s").format(
                        self._table(REJECTS_TABLE)
                    ),
                    (contract.name, partition_key),
                )
                self._copy(connection, self._table(REJECTS_TABLE), prepared.rejects)
                added = self._add_streamed(connection, prepared) if include_streamed else None
                self._record_batch(connection, prepared, added)
                result = prepared.result(rows_replaced, added)
                refused = accept(result) if accept is not None else None
                if refused is not None:
                    result = dataclasses.replace(result, rows_replaced=0, refused=refused)
                    raise psycopg.Rollback()
                if self._before_commit is not None:
                    self._before_commit(result)
                pause_point(STAGING_BEFORE_COMMIT)
        except psycopg.OperationalError as err:
            # A server restarted or a network cut mid-load: psycopg's text alone names neither
            # the load nor what to do about it.
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise StagingConnectionError(
                f"lost the connection to PostgreSQL ({self!r}) while loading {contract.name} "
                f"{partition_key or '(whole table)'}: {reason}. Rerun it once the server is "
                "back: a load replaces its partition whole, so nothing is doubled."
            ) from err
        return result

    def _add_streamed(self, connection: psycopg.Connection, prepared: PreparedLoad) -> StreamedRows:
        """The day's streamed events added to its rows and rejects (see streamed.py). They go
        into the day's partition once it is swapped in, so its key index is built in one pass
        from the batch rows and takes the (few) streamed rows one by one."""
        tables = {
            name: self._table(name).as_string(connection)
            for name in (LISTENS.name, REJECTS_TABLE, LISTEN_EVENTS.name, TRACKS.name, USERS.name)
        }
        writes, counts = streamed.streamed_day_statements(streamed.POSTGRES, tables, prepared)
        for statement in writes:
            connection.execute(statement.text, statement.parameters)
        row = connection.execute(counts.text, counts.parameters).fetchone()
        return streamed.streamed_rows(tuple(row or ()))

    def replace_rejects(self, table_name: str, partition_key: str, rejects: pl.DataFrame) -> None:
        if not self._ensured:
            self.ensure_tables()
        with self._connect() as connection, connection.transaction():
            _advisory_lock(connection, f"rejects:{self.schema}.{table_name}/{partition_key}")
            connection.execute(
                sql.SQL("DELETE FROM {} WHERE table_name = %s AND partition_key = %s").format(
                    self._table(REJECTS_TABLE)
                ),
                (table_name, partition_key),
            )
            self._copy(
                connection, self._table(REJECTS_TABLE), rejects.select(list(rejects_columns()))
            )

    def _rewrite_table(self, connection: psycopg.Connection, prepared: PreparedLoad) -> int:
        table = self._table(prepared.contract.name)
        deleted = connection.execute(sql.SQL("DELETE FROM {}").format(table))
        self._copy(connection, table, prepared.rows)
        return deleted.rowcount

    def _swap_partition(self, connection: psycopg.Connection, prepared: PreparedLoad) -> int:
        contract = prepared.contract
        day = prepared.partition_value
        if day is None or contract.partition_column is None:
            raise ValueError(f"{contract.name} is not partitioned")  # prepare_load checked this
        partition_name = f"{contract.name}_p{day:%Y%m%d}"
        partition = self._table(partition_name)
        loading = self._table(f"{partition_name}_loading")
        key = storage_key(contract)

        for name, value in _INDEX_BUILD_SETTINGS.items():
            connection.execute("SELECT set_config(%s, %s, true)", (name, value))
        # Built apart from the parent, so no lock on it is held while the rows stream in. Values
        # shared by the whole load come from column defaults instead of a million COPY fields.
        constants = {
            "source": prepared.source,
            "batch_id": prepared.batch_id,
            "loaded_at": prepared.started_at,
            contract.partition_column: day,
        }
        # The CHECK, verified row by row as rows arrive, lets ATTACH skip its validation scan.
        bounds_check = sql.SQL("CONSTRAINT {} CHECK ({} >= {} AND {} < {})").format(
            sql.Identifier(f"{partition_name}_bounds"),
            sql.Identifier(contract.partition_column),
            sql.Literal(day),
            sql.Identifier(contract.partition_column),
            sql.Literal(day + dt.timedelta(days=1)),
        )
        connection.execute(
            sql.SQL("CREATE TABLE {} ({}, {})").format(
                loading,
                _table_body(contract.schema, key, with_key=False, defaults=constants),
                bounds_check,
            )
        )
        self._copy(connection, loading, _in_key_order(prepared.rows.drop(list(constants)), key))
        connection.execute(
            sql.SQL("ALTER TABLE {} {}").format(
                loading,
                sql.SQL(", ").join(
                    sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(name))
                    for name in constants
                ),
            )
        )
        connection.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                loading,
                sql.Identifier(f"{partition_name}_pkey_loading"),
                sql.SQL(", ").join(map(sql.Identifier, key)),
            )
        )

        exists = connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (partition.as_string(connection),)
        ).fetchone()
        rows_replaced = 0
        if exists and exists[0]:
            counted = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(partition))
            rows_replaced = int(counted.fetchone()[0])  # type: ignore[index]
            connection.execute(sql.SQL("DROP TABLE {}").format(partition))
        connection.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(loading, sql.Identifier(partition_name))
        )
        connection.execute(
            sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                partition,
                sql.Identifier(f"{partition_name}_pkey_loading"),
                sql.Identifier(f"{partition_name}_pkey"),
            )
        )
        # DDL takes no bind parameters; Literal quotes the dates as psycopg would bind them.
        connection.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                self._table(contract.name),
                partition,
                sql.Literal(day),
                sql.Literal(day + dt.timedelta(days=1)),
            )
        )
        connection.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                partition, sql.Identifier(f"{partition_name}_bounds")
            )
        )
        return rows_replaced

    def _copy(
        self, connection: psycopg.Connection, table: sql.Identifier, frame: pl.DataFrame
    ) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            table, sql.SQL(", ").join(map(sql.Identifier, frame.columns))
        )
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in binary_copy_chunks(frame):
                copy.write(chunk)

    def _record_batch(
        self,
        connection: psycopg.Connection,
        prepared: PreparedLoad,
        streamed_rows: StreamedRows | None,
    ) -> None:
        row = prepared.batch_row(streamed_rows)
        columns = list(load_batches_columns())
        updates = [name for name in columns if name not in LOAD_BATCHES_KEY]
        connection.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}").format(
                self._table(LOAD_BATCHES_TABLE),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder(name) for name in columns),
                sql.SQL(", ").join(map(sql.Identifier, LOAD_BATCHES_KEY)),
                sql.SQL(", ").join(
                    sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(name), sql.Identifier(name))
                    for name in updates
                ),
            ),
            row,
        )

    # -- streamed events ---------------------------------------------------------------------

    def write_events(
        self, batch: streamed.EventBatch, *, rows_written: streamed.RowsWritten | None = None
    ) -> streamed.EventsWritten:
        """COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING, so a
        duplicate costs nothing but its index probe."""
        if not self._ensured:
            self.ensure_tables()
        loaded_at = dt.datetime.now(dt.UTC)
        events = self._table(LISTEN_EVENTS.name)
        columns = sql.SQL(", ").join(map(sql.Identifier, LISTEN_EVENTS.column_names))
        with self._connect() as connection, connection.transaction():
            connection.execute(
                sql.SQL(
                    "CREATE TEMPORARY TABLE events_batch (LIKE {} INCLUDING DEFAULTS) "
                    "ON COMMIT DROP"
                ).format(events)
            )
            self._copy(
                connection, sql.Identifier("events_batch"), streamed.event_rows(batch, loaded_at)
            )
            [(staged, late)] = connection.execute(
                sql.SQL(
                    "WITH inserted AS (INSERT INTO {} ({}) SELECT {} FROM events_batch "
                    "ON CONFLICT (listen_date, event_id) DO NOTHING RETURNING listen_date) "
                    "SELECT count(*), count(*) FILTER (WHERE listen_date < %s) FROM inserted"
                ).format(events, columns, columns),
                (loaded_at.date(),),
            ).fetchall()
            if rows_written is not None:
                rows_written()
            self._copy(connection, self._table(REJECTS_TABLE), batch.rejects)
            record, written = streamed.batch_record(
                batch, loaded_at, staged=int(staged), late=int(late)
            )
            self._copy(connection, self._table(streamed.STREAM_BATCHES_TABLE), record)
            for row in streamed.offset_rows(batch).iter_rows(named=True):
                connection.execute(
                    sql.SQL(
                        "INSERT INTO {} AS stored VALUES (%s, %s, %s, %s, %s) "
                        "ON CONFLICT (group_id, topic, partition) DO UPDATE SET "
                        "next_offset = greatest(stored.next_offset, excluded.next_offset), "
                        "updated_at = excluded.updated_at"
                    ).format(self._table(streamed.OFFSETS_TABLE)),
                    tuple(row.values()),
                )
        return written

    def consumer_offsets(self, group: str, topic: str) -> dict[int, int]:
        if not self._ensured:
            self.ensure_tables()
        with self._connect() as connection:
            found = connection.execute(
                sql.SQL(
                    "SELECT partition, next_offset FROM {} WHERE group_id = %s AND topic = %s"
                ).format(self._table(streamed.OFFSETS_TABLE)),
                (group, topic),
            ).fetchall()
        return {int(partition): int(offset) for partition, offset in found}

    def stream_stats(self) -> streamed.StreamStats:
        if not self._ensured:
            self.ensure_tables()
        with self._connect() as connection:
            events = self._table(LISTEN_EVENTS.name).as_string(connection)
            batches = self._table(streamed.STREAM_BATCHES_TABLE).as_string(connection)
            [(rows, last_played, last_loaded)] = connection.execute(
                streamed.STATS_ROWS.format(events=events)
            ).fetchall()
            days = connection.execute(streamed.STATS_DAYS.format(events=events)).fetchall()
            [totals] = connection.execute(streamed.STATS_TOTALS.format(batches=batches)).fetchall()
        return streamed.stream_stats(rows, last_played, last_loaded, days, totals)

    # -- reads -------------------------------------------------------------------------------

    def read(
        self, contract: TableContract, partition_keys: Sequence[str] | None = None
    ) -> pa.Table:
        where, params = self._partition_filter(contract, partition_keys)
        return self._copy_out(
            self._table(contract.name), contract.schema, where, params, sql.SQL("")
        )

    def _partition_filter(
        self, contract: TableContract, partition_keys: Sequence[str] | None
    ) -> tuple[sql.Composable, tuple[object, ...]]:
        if partition_keys is None:
            return sql.SQL(""), ()
        days = [partition_day(contract, key) for key in partition_keys]
        where = sql.SQL("WHERE {} = ANY(%s)").format(
            sql.Identifier(contract.partition_column or "")
        )
        return where, (days,)

    def _copy_out(
        self,
        table: sql.Identifier,
        columns: Mapping[str, pl.DataType],
        where: sql.Composable,
        params: Sequence[object],
        order_by: sql.Composable,
        *,
        distinct: bool = False,
    ) -> pa.Table:
        statement = sql.SQL("COPY (SELECT {}{} FROM {} {} {}) TO STDOUT (FORMAT CSV)").format(
            sql.SQL("DISTINCT ") if distinct else sql.SQL(""),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            table,
            where,
            order_by,
        )
        data = bytearray()
        with self._connect() as connection, connection.cursor() as cursor:
            for name, value in READ_SESSION_SETTINGS.items():
                cursor.execute("SELECT set_config(%s, %s, false)", (name, value))
            with cursor.copy(statement, params or None) as copy:
                for block in copy:
                    data += block
        return arrow_from_csv(bytes(data), columns, arrow_schema(columns))

    def keys(self, contract: TableContract, column: str) -> pl.Series:
        dtype = column_dtype(contract, column)
        where = sql.SQL("WHERE {} IS NOT NULL").format(sql.Identifier(column))
        table = self._copy_out(
            self._table(contract.name), {column: dtype}, where, (), sql.SQL(""), distinct=True
        )
        return pl.Series(column, table.column(0), dtype=dtype)

    def count(self, contract: TableContract, partition_key: str | None = None) -> int:
        where, params = self._partition_filter(
            contract, None if partition_key is None else [partition_key]
        )
        with self._connect() as connection:
            row = connection.execute(
                sql.SQL("SELECT count(*) FROM {} {}").format(self._table(contract.name), where),
                params,
            ).fetchone()
        return int(row[0]) if row else 0

    def rejects(self, table_name: str, partition_key: str | None = None) -> pl.DataFrame:
        where = sql.SQL("WHERE table_name = %s")
        params: tuple[object, ...] = (table_name,)
        if partition_key is not None:
            where = sql.SQL("{} AND partition_key = %s").format(where)
            params = (*params, partition_key)
        table = self._copy_out(
            self._table(REJECTS_TABLE),
            rejects_columns(),
            where,
            params,
            sql.SQL("ORDER BY rejected_at, record_key"),
        )
        return pl.from_arrow(table)

    def batches(self, table_name: str | None = None) -> pl.DataFrame:
        where, params = sql.SQL(""), ()
        if table_name:
            where, params = sql.SQL("WHERE table_name = %s"), (table_name,)
        table = self._copy_out(
            self._table(LOAD_BATCHES_TABLE),
            load_batches_columns(),
            where,
            params,
            sql.SQL("ORDER BY started_at, batch_id, table_name, partition_key"),
        )
        return pl.from_arrow(table)


def _in_key_order(rows: pl.DataFrame, key: Sequence[str]) -> pl.DataFrame:
    """The rows sorted by the key columns they carry, so that PostgreSQL builds the primary key
    from presorted input in one pass; a million shuffled ids cost the server about as much to
    sort as the whole COPY (abbreviated keys cannot shortcut ids sharing a prefix such as
    'ev-00000'). polars orders text by its bytes, as the key's COLLATE "C" does. One thread:
    as fast here as several, at half the CPU, which the server needs too."""
    return rows.sort([name for name in key if name in rows.columns], multithreaded=False)


def _key_listen_events_by_day(connection: psycopg.Connection, schema: str) -> None:
    """Re-key a listen_events table created keyed on event_id alone (and indexed on
    listen_date) to (listen_date, event_id); nothing to do for a new or re-keyed one."""
    table = sql.Identifier(schema, LISTEN_EVENTS.name)
    found = connection.execute(
        "SELECT conname FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype = 'p' AND cardinality(conkey) = 1",
        (table.as_string(connection),),
    ).fetchone()
    if found is None:
        return
    connection.execute(
        sql.SQL(
            "ALTER TABLE {} DROP CONSTRAINT {}, ADD PRIMARY KEY (listen_date, event_id)"
        ).format(table, sql.Identifier(found[0]))
    )
    old_index = sql.Identifier(schema, f"{LISTEN_EVENTS.name}_listen_date")
    connection.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(old_index))


def _advisory_lock(connection: psycopg.Connection, name: str) -> None:
    """A transaction-scoped lock on a name, released at COMMIT or ROLLBACK (or disconnect)."""
    connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (name,))


def _table_body(
    columns: Mapping[str, pl.DataType],
    key: Sequence[str],
    *,
    with_key: bool,
    defaults: Mapping[str, object] | None = None,
) -> sql.Composable:
    """Column definitions (NOT NULL on the key, `defaults` as DEFAULT values) and, if
    `with_key`, the primary key."""
    defaults = defaults or {}
    definitions: list[sql.Composable] = []
    for name, dtype in columns.items():
        definition = sql.SQL("{} {}").format(sql.Identifier(name), pg_type(dtype))
        if name in key and dtype == pl.String():
            # Byte order for key text: ids need no linguistic order, and the C collation
            # sorts several times faster when the primary-key index is built.
            definition = sql.SQL('{} COLLATE "C"').format(definition)
        if name in key:
            definition = sql.SQL("{} NOT NULL").format(definition)
        if name in defaults:
            definition = sql.SQL("{} DEFAULT {}").format(definition, sql.Literal(defaults[name]))
        definitions.append(definition)
    if with_key and key:
        definitions.append(
            sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, key)))
        )
    return sql.SQL(", ").join(definitions)
