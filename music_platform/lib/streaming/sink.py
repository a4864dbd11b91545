"""Where the consumer lands events: `staging.listen_events`, written together with the consumer's
partition offsets (`staging.consumer_offsets`) in one database transaction.

That transaction is what makes delivery exactly once: after a crash the consumer resumes from
the offsets stored with the last committed rows, so nothing is lost (uncommitted rows were rolled
back with their offsets) and nothing is doubled. Rows are also deduplicated on event_id against
the table, so a producer that sends an event twice still stages it once.

Both staging backends are served through the stores' own connections (DuckDB's file-lock retry,
PostgreSQL's connection errors), so the stream shares their behaviour and settings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl
from psycopg import sql

from music_platform.lib.events import LISTEN_EVENTS
from music_platform.lib.schemas import load_metadata, rejects_columns
from music_platform.lib.staging.duckdb_store import DuckDBStagingStore, _file_lock
from music_platform.lib.staging.postgres_store import (
    PostgresStagingStore,
    _advisory_lock,
    _table_body,
)
from music_platform.lib.staging.store import REJECTS_TABLE, StagingStore

OFFSETS_TABLE = "consumer_offsets"
OFFSETS_COLUMNS: dict[str, pl.DataType] = {
    "group_id": pl.String(),
    "topic": pl.String(),
    "partition": pl.Int32(),
    "next_offset": pl.Int64(),  # the first offset not yet staged
    "updated_at": pl.Datetime("us", "UTC"),
}
OFFSETS_KEY = ("group_id", "topic", "partition")

STREAM_BATCHES_TABLE = "stream_batches"
STREAM_BATCHES_COLUMNS: dict[str, pl.DataType] = {
    "batch_id": pl.String(),
    "source": pl.String(),  # "kafka:<topic>/<group>" or "file:<path>"
    "received": pl.Int64(),
    "staged": pl.Int64(),
    "duplicates": pl.Int64(),  # event ids already staged, or repeated within the batch
    "rejected": pl.Int64(),
    "late": pl.Int64(),  # staged after their day had ended
    "loaded_at": pl.Datetime("us", "UTC"),
}

FaultSeam = Callable[[str], None]
"""Called with "rows-written" inside the transaction, before the offsets are stored (tests)."""


@dataclass(frozen=True)
class StreamBatch:
    """Valid events, rejected ones and the offsets they advance, to be written atomically."""

    events: pl.DataFrame  # LISTEN_EVENTS columns, without load metadata
    rejects: pl.DataFrame  # rejects_columns()
    source: str
    offsets: Mapping[tuple[str, int], int] = field(default_factory=dict)
    """(topic, partition) -> next offset to read, for `group`."""
    group: str = ""
    batch_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def received(self) -> int:
        return self.events.height + self.rejects.height


@dataclass(frozen=True)
class StreamWrite:
    staged: int
    duplicates: int
    rejected: int
    late: int


@dataclass(frozen=True)
class StreamStats:
    """What the streamed table holds, for observations and the sensor."""

    rows: int
    last_played_at: dt.datetime | None
    last_loaded_at: dt.datetime | None
    rows_by_day: dict[str, int]
    received: int
    duplicates: int
    rejected: int
    late: int


def rejects_frame(
    records: list[tuple[str, str, str]], *, batch_id: str, partition_key: str = ""
) -> pl.DataFrame:
    """REJECTS rows of listen_events from (record key, reason, original record)."""
    now = dt.datetime.now(dt.UTC)
    return pl.DataFrame(
        {
            "table_name": [LISTEN_EVENTS.name] * len(records),
            "partition_key": [partition_key] * len(records),
            "record_key": [key for key, _, _ in records],
            "reason": [reason for _, reason, _ in records],
            "record": [record for _, _, record in records],
            "batch_id": [batch_id] * len(records),
            "rejected_at": [now] * len(records),
        },
        schema=rejects_columns(),
    )


class EventSink(ABC):
    """Stages event batches with their offsets in one transaction; reads back offsets and stats."""

    def __init__(self, fault: FaultSeam | None = None) -> None:
        self._fault = fault
        self._ensured = False

    @abstractmethod
    def ensure_tables(self) -> None:
        """Create listen_events, consumer_offsets, stream_batches (and staging's own tables)."""

    @abstractmethod
    def offsets(self, group: str, topic: str) -> dict[int, int]:
        """partition -> next offset to read, as stored with the last committed batch."""

    @abstractmethod
    def _write(self, batch: StreamBatch, rows: pl.DataFrame, batch_row: dict) -> tuple[int, int]:
        """Insert new rows, rejects, the batch record and offsets in one transaction; return
        (rows staged, of which late)."""

    @abstractmethod
    def stats(self) -> StreamStats: ...

    @abstractmethod
    def read_days(self, days: list[dt.date]) -> pl.DataFrame:
        """Staged events of these days, LISTEN_EVENTS columns."""

    def write(self, batch: StreamBatch) -> StreamWrite:
        if not self._ensured:
            self.ensure_tables()
            self._ensured = True
        loaded_at = dt.datetime.now(dt.UTC)
        unique = batch.events.unique(subset=["event_id"], keep="first", maintain_order=True)
        rows = unique.with_columns(
            pl.lit(batch.source, load_metadata()["source"]).alias("source"),
            pl.lit(batch.batch_id, load_metadata()["batch_id"]).alias("batch_id"),
            pl.lit(loaded_at, load_metadata()["loaded_at"]).alias("loaded_at"),
        ).select(LISTEN_EVENTS.column_names)
        batch_row = {
            "batch_id": batch.batch_id,
            "source": batch.source,
            "received": batch.received,
            "staged": 0,
            "duplicates": 0,
            "rejected": batch.rejects.height,
            "late": 0,
            "loaded_at": loaded_at,
        }
        staged, late = self._write(batch, rows, batch_row)
        return StreamWrite(
            staged=staged,
            duplicates=batch.events.height - staged,
            rejected=batch.rejects.height,
            late=late,
        )

    def _seam(self, point: str) -> None:
        if self._fault is not None:
            self._fault(point)


def _offset_rows(batch: StreamBatch) -> pl.DataFrame:
    now = dt.datetime.now(dt.UTC)
    items = sorted(batch.offsets.items())
    return pl.DataFrame(
        {
            "group_id": [batch.group] * len(items),
            "topic": [topic for (topic, _), _ in items],
            "partition": [partition for (_, partition), _ in items],
            "next_offset": [offset for _, offset in items],
            "updated_at": [now] * len(items),
        },
        schema=OFFSETS_COLUMNS,
    )


def _stats_from(
    rows: int,
    last_played: dt.datetime | None,
    last_loaded: dt.datetime | None,
    days: list[tuple[dt.date, int]],
    totals: tuple[int | None, ...],
) -> StreamStats:
    received, duplicates, rejected, late = (int(value or 0) for value in totals)
    return StreamStats(
        rows=int(rows),
        last_played_at=last_played,
        last_loaded_at=last_loaded,
        rows_by_day={day.isoformat(): int(count) for day, count in days},
        received=received,
        duplicates=duplicates,
        rejected=rejected,
        late=late,
    )


_STATS_TOTALS = "SELECT sum(received), sum(duplicates), sum(rejected), sum(late) FROM {}"


class DuckDBEventSink(EventSink):
    """listen_events in the DuckDB staging file. DuckDB keeps no primary-key index here (see
    DuckDBStagingStore): a batch is deduplicated with an anti-join on event_id, a hash join
    built on the batch and probed by one scan of the ids."""

    def __init__(self, store: DuckDBStagingStore, fault: FaultSeam | None = None) -> None:
        super().__init__(fault)
        self.store = store

    def ensure_tables(self) -> None:
        self.store.ensure_tables()
        store = self.store
        with store._connect() as connection:
            for name, columns, key, declare in (
                (LISTEN_EVENTS.name, LISTEN_EVENTS.schema, LISTEN_EVENTS.primary_key, False),
                (OFFSETS_TABLE, OFFSETS_COLUMNS, OFFSETS_KEY, True),
                (STREAM_BATCHES_TABLE, STREAM_BATCHES_COLUMNS, ("batch_id",), True),
            ):
                connection.execute(store._create_table_sql(name, columns, key, declare_key=declare))

    def offsets(self, group: str, topic: str) -> dict[int, int]:
        self.ensure_tables()
        with self.store._connect() as connection:
            found = connection.execute(
                f"SELECT partition, next_offset FROM {self.store._table(OFFSETS_TABLE)} "
                "WHERE group_id = ? AND topic = ?",
                [group, topic],
            ).fetchall()
        return {int(partition): int(offset) for partition, offset in found}

    def _write(self, batch: StreamBatch, rows: pl.DataFrame, batch_row: dict) -> tuple[int, int]:
        store = self.store
        table = store._table(LISTEN_EVENTS.name)
        columns = ", ".join(f'"{name}"' for name in LISTEN_EVENTS.column_names)
        today = batch_row["loaded_at"].date()
        # Writers in one process take turns on the file, as the store's own loads do.
        with _file_lock(store.path), store._connect() as connection:
            connection.begin()
            try:
                connection.register("events_batch", rows.to_arrow())
                inserted = connection.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM events_batch b "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.event_id = b.event_id) "
                    # DuckDB cannot bind parameters in RETURNING; a date's isoformat is safe.
                    f"RETURNING listen_date < DATE '{today.isoformat()}'"
                ).fetchall()
                connection.unregister("events_batch")
                staged, late = len(inserted), sum(1 for (is_late,) in inserted if is_late)
                self._seam("rows-written")
                store._insert(connection, REJECTS_TABLE, batch.rejects)
                done = {**batch_row, "staged": staged, "late": late}
                done["duplicates"] = batch.events.height - staged
                store._insert(
                    connection,
                    STREAM_BATCHES_TABLE,
                    pl.DataFrame([done], schema=STREAM_BATCHES_COLUMNS),
                )
                if batch.offsets:
                    connection.register("offsets_batch", _offset_rows(batch).to_arrow())
                    connection.execute(
                        f"INSERT INTO {store._table(OFFSETS_TABLE)} SELECT * FROM offsets_batch "
                        "ON CONFLICT (group_id, topic, partition) DO UPDATE SET "
                        "next_offset = greatest(next_offset, excluded.next_offset), "
                        "updated_at = excluded.updated_at"
                    )
                    connection.unregister("offsets_batch")
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
        return staged, late

    def stats(self) -> StreamStats:
        self.ensure_tables()
        table = self.store._table(LISTEN_EVENTS.name)
        with self.store._connect() as connection:
            [(rows, last_played, last_loaded)] = connection.execute(
                f"SELECT count(*), max(played_at), max(loaded_at) FROM {table}"
            ).fetchall()
            days = connection.execute(
                f"SELECT listen_date, count(*) FROM {table} GROUP BY 1 ORDER BY 1"
            ).fetchall()
            [totals] = connection.execute(
                _STATS_TOTALS.format(self.store._table(STREAM_BATCHES_TABLE))
            ).fetchall()
        return _stats_from(rows, last_played, last_loaded, days, totals)

    def read_days(self, days: list[dt.date]) -> pl.DataFrame:
        self.ensure_tables()
        if not days:
            return pl.DataFrame(schema=LISTEN_EVENTS.schema)
        placeholders = ", ".join("?" for _ in days)
        with self.store._connect() as connection:
            table = connection.sql(
                f"SELECT * FROM {self.store._table(LISTEN_EVENTS.name)} "
                f"WHERE listen_date IN ({placeholders}) ORDER BY played_at, event_id",
                params=days,
            ).to_arrow_table()
        return pl.from_arrow(table).cast(LISTEN_EVENTS.schema)  # type: ignore[return-value]


class PostgresEventSink(EventSink):
    """listen_events in PostgreSQL, keyed on event_id: COPY into a temporary table, then one
    INSERT ... ON CONFLICT DO NOTHING, so duplicates cost nothing but their index probe."""

    def __init__(self, store: PostgresStagingStore, fault: FaultSeam | None = None) -> None:
        super().__init__(fault)
        self.store = store

    def ensure_tables(self) -> None:
        self.store.ensure_tables()
        store = self.store
        with store._connect() as connection, connection.transaction():
            _advisory_lock(connection, f"ddl:{store.schema}")
            for name, columns, key in (
                (LISTEN_EVENTS.name, LISTEN_EVENTS.schema, LISTEN_EVENTS.primary_key),
                (OFFSETS_TABLE, OFFSETS_COLUMNS, OFFSETS_KEY),
                (STREAM_BATCHES_TABLE, STREAM_BATCHES_COLUMNS, ("batch_id",)),
            ):
                connection.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                        store._table(name), _table_body(columns, key, with_key=True)
                    )
                )
            connection.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (listen_date)").format(
                    sql.Identifier(f"{LISTEN_EVENTS.name}_listen_date"),
                    store._table(LISTEN_EVENTS.name),
                )
            )

    def offsets(self, group: str, topic: str) -> dict[int, int]:
        self.ensure_tables()
        with self.store._connect() as connection:
            found = connection.execute(
                sql.SQL(
                    "SELECT partition, next_offset FROM {} WHERE group_id = %s AND topic = %s"
                ).format(self.store._table(OFFSETS_TABLE)),
                (group, topic),
            ).fetchall()
        return {int(partition): int(offset) for partition, offset in found}

    def _write(self, batch: StreamBatch, rows: pl.DataFrame, batch_row: dict) -> tuple[int, int]:
        store = self.store
        columns = sql.SQL(", ").join(map(sql.Identifier, LISTEN_EVENTS.column_names))
        today = batch_row["loaded_at"].date()
        with store._connect() as connection, connection.transaction():
            connection.execute(
                sql.SQL(
                    "CREATE TEMPORARY TABLE events_batch (LIKE {} INCLUDING DEFAULTS) "
                    "ON COMMIT DROP"
                ).format(store._table(LISTEN_EVENTS.name))
            )
            store._copy(connection, sql.Identifier("events_batch"), rows)
            [(staged, late)] = connection.execute(
                sql.SQL(
                    "WITH inserted AS (INSERT INTO {} ({}) SELECT {} FROM events_batch "
                    "ON CONFLICT (event_id) DO NOTHING RETURNING listen_date) "
                    "SELECT count(*), count(*) FILTER (WHERE listen_date < %s) FROM inserted"
                ).format(store._table(LISTEN_EVENTS.name), columns, columns),
                (today,),
            ).fetchall()
            self._seam("rows-written")
            store._copy(connection, store._table(REJECTS_TABLE), batch.rejects)
            done = {**batch_row, "staged": staged, "late": late}
            done["duplicates"] = batch.events.height - staged
            store._copy(
                connection,
                store._table(STREAM_BATCHES_TABLE),
                pl.DataFrame([done], schema=STREAM_BATCHES_COLUMNS),
            )
            for row in _offset_rows(batch).iter_rows(named=True):
                connection.execute(
                    sql.SQL(
                        "INSERT INTO {} AS stored VALUES (%s, %s, %s, %s, %s) "
                        "ON CONFLICT (group_id, topic, partition) DO UPDATE SET "
                        "next_offset = greatest(stored.next_offset, excluded.next_offset), "
                        "updated_at = excluded.updated_at"
                    ).format(store._table(OFFSETS_TABLE)),
                    tuple(row.values()),
                )
        return int(staged), int(late)

    def stats(self) -> StreamStats:
        self.ensure_tables()
        table = self.store._table(LISTEN_EVENTS.name)
        with self.store._connect() as connection:
            [(rows, last_played, last_loaded)] = connection.execute(
                sql.SQL("SELECT count(*), max(played_at), max(loaded_at) FROM {}").format(table)
            ).fetchall()
            days = connection.execute(
                sql.SQL("SELECT listen_date, count(*) FROM {} GROUP BY 1 ORDER BY 1").format(table)
            ).fetchall()
            [totals] = connection.execute(
                sql.SQL(_STATS_TOTALS).format(self.store._table(STREAM_BATCHES_TABLE))
            ).fetchall()
        return _stats_from(rows, last_played, last_loaded, days, totals)

    def read_days(self, days: list[dt.date]) -> pl.DataFrame:
        self.ensure_tables()
        store = self.store
        table = store._copy_out(
            store._table(LISTEN_EVENTS.name),
            LISTEN_EVENTS.schema,
            sql.SQL("WHERE listen_date = ANY(%s)"),
            (list(days),),
            sql.SQL("ORDER BY played_at, event_id"),
        )
        return pl.from_arrow(table)  # type: ignore[return-value]


def event_sink(store: StagingStore, fault: FaultSeam | None = None) -> EventSink:
    """The sink writing into `store`'s database."""
    if isinstance(store, DuckDBStagingStore):
        return DuckDBEventSink(store, fault)
    if isinstance(store, PostgresStagingStore):
        return PostgresEventSink(store, fault)
    raise TypeError(f"no event sink for {type(store).__name__}")
