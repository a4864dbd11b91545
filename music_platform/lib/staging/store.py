"""The staging store interface, its load result, and what both implementations share."""

from __future__ import annotations

import datetime as dt
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Generic, TypeVar

from music_platform.lib.schemas import (
    LISTENS,
    ColumnType,
    TableContract,
    load_metadata,
    polars_schema,
    rejects_columns,
)
from music_platform.lib.staging.validate import (
    SchemaDrift,
    ValidationResult,
    partition_day,
    validate,
)

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from music_platform.lib.staging.streamed import (
        EventBatch,
        EventsWritten,
        RowsWritten,
        StreamStats,
    )

REJECTS_TABLE = "rejects"
LOAD_BATCHES_TABLE = "load_batches"
LOAD_BATCHES_TYPES: dict[str, ColumnType] = {
    "batch_id": ColumnType.STRING,
    "table_name": ColumnType.STRING,
    "partition_key": ColumnType.STRING,  # '' for unpartitioned tables
    "source": ColumnType.STRING,
    "rows": ColumnType.INT64,
    "rejected": ColumnType.INT64,
    "started_at": ColumnType.TIMESTAMP,
    "finished_at": ColumnType.TIMESTAMP,
}
LOAD_BATCHES_KEY = ("batch_id", "table_name", "partition_key")


@cache
def load_batches_columns() -> dict[str, pl.DataType]:
    """The load_batches table's columns: one row per load of a table and partition."""
    return polars_schema(LOAD_BATCHES_TYPES)


class StagingError(RuntimeError):
    """The staging database refused or could not be reached."""


class StagingConnectionError(StagingError):
    """The staging database could not be opened; the message says where and what to do."""


@dataclass(frozen=True)
class StreamedRows:
    """What a day's streamed events added to its listens load (see streamed.py)."""

    received: int
    """The day's events in listen_events."""
    loaded: int
    rejected: int
    reject_reasons: dict[str, int]
    late: int = 0
    """Events staged (in `loaded`) that were consumed after their day had ended."""
    unknown_tracks: int = 0
    """Loaded events of a track not (yet) in the catalogue."""


@dataclass(frozen=True)
class LoadResult:
    """What one replace_partition / replace_table call did."""

    table_name: str
    partition_key: str | None
    batch_id: str
    rows_loaded: int
    rows_rejected: int
    rows_replaced: int
    """Rows of the previous version of the partition (or table) that the load replaced."""
    reject_reasons: dict[str, int]
    """Rows each rule rejected, for example {"duplicate event_id": 3}."""
    drift: SchemaDrift
    seconds: float
    streamed: StreamedRows | None = None
    """The streamed events' share of the counts above, when the load included them."""
    refused: str | None = None
    """Why `accept` refused the load, which then wrote nothing."""

    def as_metadata(self) -> dict[str, object]:
        """Plain values, ready to attach to an asset materialisation."""
        return {
            "table": self.table_name,
            "partition_key": self.partition_key or "",
            "batch_id": self.batch_id,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "rows_replaced": self.rows_replaced,
            "reject_reasons": dict(self.reject_reasons),
            "columns_added": list(self.drift.added),
            "columns_missing": list(self.drift.missing),
            "seconds": round(self.seconds, 3),
        }


BeforeCommit = Callable[[LoadResult], None]
"""Called inside the load's transaction, after all writes and before COMMIT (a fault seam)."""

Accept = Callable[[LoadResult], str | None]
"""Judges a load inside its transaction, on its final counts: a reason refuses it (rolled back,
the previous partition or table stays), None lets it commit."""


@dataclass(frozen=True)
class PreparedLoad:
    """A validated frame made ready to write: rows with load metadata, rejects with batch id."""

    contract: TableContract
    partition_key: str | None
    source: str
    batch_id: str
    started_at: dt.datetime
    validation: ValidationResult
    rows: pl.DataFrame
    rejects: pl.DataFrame
    clock_start: float

    @property
    def partition_value(self) -> dt.date | None:
        return partition_day(self.contract, self.partition_key)

    def batch_row(self, streamed: StreamedRows | None = None) -> dict[str, object]:
        return {
            "batch_id": self.batch_id,
            "table_name": self.contract.name,
            "partition_key": self.partition_key or "",
            "source": self.source,
            "rows": self.rows.height + (streamed.loaded if streamed else 0),
            "rejected": self.rejects.height + (streamed.rejected if streamed else 0),
            "started_at": self.started_at,
            "finished_at": dt.datetime.now(dt.UTC),
        }

    def result(self, rows_replaced: int, streamed: StreamedRows | None = None) -> LoadResult:
        reasons = dict(self.validation.reject_reasons)
        for reason, count in (streamed.reject_reasons if streamed else {}).items():
            reasons[reason] = reasons.get(reason, 0) + count
        return LoadResult(
            table_name=self.contract.name,
            partition_key=self.partition_key,
            batch_id=self.batch_id,
            rows_loaded=self.rows.height + (streamed.loaded if streamed else 0),
            rows_rejected=self.rejects.height + (streamed.rejected if streamed else 0),
            rows_replaced=rows_replaced,
            reject_reasons=reasons,
            drift=self.validation.drift,
            seconds=time.perf_counter() - self.clock_start,
            streamed=streamed,
        )


def prepare_load(
    contract: TableContract,
    frame: pl.DataFrame,
    *,
    partition_key: str | None,
    source: str,
    batch_id: str,
    known_keys: Mapping[str, pl.Series] | None,
    track_durations: pl.DataFrame | None = None,
) -> PreparedLoad:
    """Validate the frame and add the load metadata columns every staged row carries."""
    import polars as pl

    clock_start = time.perf_counter()
    if partition_key is None and contract.partition_column is not None:
        raise ValueError(
            f"{contract.name} is partitioned by {contract.partition_column}: "
            "use replace_partition with a partition_key"
        )
    if partition_key is not None and contract.partition_column is None:
        raise ValueError(f"{contract.name} is not partitioned: use replace_table")
    started_at = dt.datetime.now(dt.UTC)
    validation = validate(
        contract,
        frame,
        partition_key=partition_key,
        known_keys=known_keys,
        track_durations=track_durations,
    )
    rows = validation.valid.with_columns(
        pl.lit(source, load_metadata()["source"]).alias("source"),
        pl.lit(batch_id, load_metadata()["batch_id"]).alias("batch_id"),
        pl.lit(started_at, load_metadata()["loaded_at"]).alias("loaded_at"),
    )
    rejects = validation.rejects.with_columns(
        pl.lit(batch_id, rejects_columns()["batch_id"]).alias("batch_id"),
        pl.lit(started_at, rejects_columns()["rejected_at"]).alias("rejected_at"),
    ).select(list(rejects_columns()))
    return PreparedLoad(
        contract=contract,
        partition_key=partition_key,
        source=source,
        batch_id=batch_id,
        started_at=started_at,
        validation=validation,
        rows=rows.select(contract.column_names),
        rejects=rejects,
        clock_start=clock_start,
    )


def storage_key(contract: TableContract) -> tuple[str, ...]:
    """The primary key the database enforces: the contract's, plus the partition column.

    A partitioned table's key must include its partition column (PostgreSQL requires it of
    partitioned tables; DuckDB follows for the same behaviour), so the database enforces the
    contract key within a partition and validation enforces it within a batch.
    """
    if contract.partition_column and contract.partition_column not in contract.primary_key:
        return (*contract.primary_key, contract.partition_column)
    return contract.primary_key


def arrow_schema(columns: Mapping[str, pl.DataType]) -> pa.Schema:
    """The Arrow schema `read` returns for these columns, the same from every backend."""
    import pyarrow as pa

    return pa.schema([pa.field(name, _arrow_type(dtype)) for name, dtype in columns.items()])


def _arrow_type(dtype: pl.DataType) -> pa.DataType:
    import polars as pl
    import pyarrow as pa

    if isinstance(dtype, pl.Datetime):
        return pa.timestamp(dtype.time_unit, dtype.time_zone)
    return {
        pl.String: pa.string(),
        pl.Int32: pa.int32(),
        pl.Int64: pa.int64(),
        pl.Float64: pa.float64(),
        pl.Boolean: pa.bool_(),
        pl.Date: pa.date32(),
    }[dtype.base_type()]


def column_dtype(contract: TableContract, column: str) -> pl.DataType:
    """The dtype of a contract or load metadata column; a clear error for anything else."""
    try:
        return contract.schema[column]
    except KeyError:
        raise ValueError(f"{contract.name} has no column {column!r}") from None


Connection = TypeVar("Connection")


class HeldConnections(Generic[Connection]):
    """A store's connections: a new one from `open_` for each `connect()`, unless this thread
    holds one (`hold()`), which every `connect()` inside that block then shares."""

    def __init__(self, open_: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._open = open_
        self._local = threading.local()

    @contextmanager
    def hold(self) -> Iterator[Connection | None]:
        """Hold one connection for this thread until the block ends. Yields it, or None when an
        outer block already holds one."""
        if getattr(self._local, "connection", None) is not None:
            yield None
            return
        with self._open() as connection:
            self._local.connection = connection
            try:
                yield connection
            finally:
                self._local.connection = None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        held = getattr(self._local, "connection", None)
        if held is not None:
            yield held
            return
        with self._open() as connection:
            yield connection


class StagingStore(ABC):
    """Typed staging tables with idempotent, all-or-nothing partition and table replacement.

    Loads validate against the contract here; a store implements `_write` and the reads.
    Streamed events land through `write_events` (see streamed.py).
    """

    @abstractmethod
    def held_connection(self) -> AbstractContextManager[None]:
        """Within the block, this thread's calls share one open connection."""

    @abstractmethod
    def ensure_tables(self) -> None:
        """Create the schema, the contract tables, `rejects`, `load_batches` and the streamed
        events' tables if missing."""

    def replace_partition(
        self,
        contract: TableContract,
        frame: pl.DataFrame,
        *,
        partition_key: str,
        source: str,
        batch_id: str,
        known_keys: Mapping[str, pl.Series] | None = None,
        track_durations: pl.DataFrame | None = None,
        include_streamed: bool = False,
    ) -> LoadResult:
        """Validate `frame` and make it the partition's whole content, in one transaction;
        with `include_streamed` (listens), together with the day's streamed events."""
        return self.write(
            prepare_load(
                contract,
                frame,
                partition_key=partition_key,
                source=source,
                batch_id=batch_id,
                known_keys=known_keys,
                track_durations=track_durations,
            ),
            include_streamed=include_streamed,
        )

    def replace_table(
        self,
        contract: TableContract,
        frame: pl.DataFrame,
        *,
        source: str,
        batch_id: str,
        known_keys: Mapping[str, pl.Series] | None = None,
    ) -> LoadResult:
        """Validate `frame` and make it the unpartitioned table's whole content, atomically."""
        return self.write(
            prepare_load(
                contract,
                frame,
                partition_key=None,
                source=source,
                batch_id=batch_id,
                known_keys=known_keys,
            )
        )

    def write(
        self,
        prepared: PreparedLoad,
        *,
        include_streamed: bool = False,
        accept: Accept | None = None,
    ) -> LoadResult:
        """Make a load prepared (and inspected) beforehand the partition's whole content.

        With `include_streamed`, a day of listens also takes that day's events from
        listen_events, inside the same transaction: those the listens rules refuse, and those
        the prepared rows already hold (by event_id), become its rejects. `accept` judges the
        load on its final counts before it commits."""
        if include_streamed and (
            prepared.contract.name != LISTENS.name or prepared.partition_key is None
        ):
            raise ValueError(f"only a day of {LISTENS.name} takes streamed events")
        return self._write(prepared, include_streamed, accept)

    @abstractmethod
    def replace_rejects(self, table_name: str, partition_key: str, rejects: pl.DataFrame) -> None:
        """Make `rejects` (rejects_columns()) the whole rejects record of a table and partition,
        in one transaction: the rows a source refused before staging (a screened file)."""

    @abstractmethod
    def _write(
        self, prepared: PreparedLoad, include_streamed: bool, accept: Accept | None
    ) -> LoadResult:
        """Make the prepared rows the partition's whole content (the table's, when
        `prepared.partition_key` is None), with its rejects and batch record, in one
        transaction (see `write`)."""

    @abstractmethod
    def write_events(
        self, batch: EventBatch, *, rows_written: RowsWritten | None = None
    ) -> EventsWritten:
        """Stage a batch of consumed events in listen_events (each event_id once: one already
        staged, or earlier in the batch, is a duplicate), with its rejects, its stream_batches
        record and the consumer's offsets, in one transaction."""

    @abstractmethod
    def consumer_offsets(self, group: str, topic: str) -> dict[int, int]:
        """partition -> next offset to read, as stored with the group's last committed batch."""

    @abstractmethod
    def stream_stats(self) -> StreamStats:
        """What listen_events holds, and the totals of every batch written to it."""

    @abstractmethod
    def read(
        self, contract: TableContract, partition_keys: Sequence[str] | None = None
    ) -> pa.Table:
        """The staged rows (contract columns and load metadata), optionally some partitions."""

    @abstractmethod
    def keys(self, contract: TableContract, column: str) -> pl.Series:
        """The distinct non-null values of a column, for example every staged track_id."""

    @abstractmethod
    def count(self, contract: TableContract, partition_key: str | None = None) -> int:
        """Rows staged in the table, or in one partition of it."""

    @abstractmethod
    def rejects(self, table_name: str, partition_key: str | None = None) -> pl.DataFrame:
        """Rejected rows of a table (and partition), with their reasons and original records."""

    @abstractmethod
    def batches(self, table_name: str | None = None) -> pl.DataFrame:
        """The load_batches record: one row per (batch, table, partition) loaded."""
