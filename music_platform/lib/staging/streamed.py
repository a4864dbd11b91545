"""Streamed events in staging, shared by both stores.

The Kafka consumer lands `listen_events` batch by batch (`StagingStore.write_events`), each with
its record in `stream_batches` and the consumer's next offsets in `consumer_offsets`, in one
transaction. That transaction is what makes delivery exactly once: a consumer resumes from the
offsets stored with the last committed rows, so nothing is lost (uncommitted rows were rolled
back with their offsets) and nothing is doubled. Rows are also deduplicated on (listen_date,
event_id) against the days the batch touches, so an event sent twice is staged once and a batch
costs the same however long the history.

The events were validated and typed when consumed. A day's load of `listens` adds that day's
events inside the database, in the transaction that replaces the day (`include_streamed`): the
statements below, one text for both backends. They apply the listens rules that depend on what
is staged beside the events (known user, a play no longer than its track, no listen in the
future) and drop an event the day's batch rows already hold, with the reasons and labels
`validate` gives, so the day's counts and checks are those of one validation of both. An event
of a track not (yet) in the catalogue is kept, as a batch row is, and counted.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from music_platform.lib.events import LISTEN_EVENTS
from music_platform.lib.schemas import LISTENS, TRACKS, USERS, load_metadata
from music_platform.lib.staging.store import REJECTS_TABLE, PreparedLoad, StreamedRows
from music_platform.lib.staging.validate import (
    DUPLICATE_REASON_PREFIX,
    FUTURE_SKEW,
    MAX_PLAY_TO_TRACK,
)

if TYPE_CHECKING:
    import polars as pl

OFFSETS_TABLE = "consumer_offsets"
OFFSETS_KEY = ("group_id", "topic", "partition")
STREAM_BATCHES_TABLE = "stream_batches"
STREAM_BATCHES_KEY = ("batch_id",)


def offsets_columns() -> dict[str, pl.DataType]:
    import polars as pl

    return {
        "group_id": pl.String(),
        "topic": pl.String(),
        "partition": pl.Int32(),
        "next_offset": pl.Int64(),  # the first offset not yet staged
        "updated_at": pl.Datetime("us", "UTC"),
    }


def stream_batches_columns() -> dict[str, pl.DataType]:
    import polars as pl

    return {
        "batch_id": pl.String(),
        "source": pl.String(),  # "kafka:<topic>" or "file:<path>"
        "received": pl.Int64(),
        "staged": pl.Int64(),
        "duplicates": pl.Int64(),  # event ids already staged, or repeated within the batch
        "rejected": pl.Int64(),
        "late": pl.Int64(),  # staged after their day had ended
        "loaded_at": pl.Datetime("us", "UTC"),
    }


RowsWritten = Callable[[], None]
"""Called inside `write_events`' transaction once the rows are written, before the offsets
(a fault seam)."""


@dataclass(frozen=True)
class EventBatch:
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
class EventsWritten:
    """What `write_events` staged of a batch."""

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


def event_rows(batch: EventBatch, loaded_at: dt.datetime) -> pl.DataFrame:
    """The batch's events, the first of each key (day, event_id), with their load metadata."""
    import polars as pl

    unique = batch.events.unique(
        subset=list(LISTEN_EVENTS.primary_key), keep="first", maintain_order=True
    )
    return unique.with_columns(
        pl.lit(batch.source, load_metadata()["source"]).alias("source"),
        pl.lit(batch.batch_id, load_metadata()["batch_id"]).alias("batch_id"),
        pl.lit(loaded_at, load_metadata()["loaded_at"]).alias("loaded_at"),
    ).select(LISTEN_EVENTS.column_names)


def batch_record(
    batch: EventBatch, loaded_at: dt.datetime, staged: int, late: int
) -> tuple[pl.DataFrame, EventsWritten]:
    """The batch's `stream_batches` row, and what the write reports."""
    import polars as pl

    written = EventsWritten(
        staged=staged,
        duplicates=batch.events.height - staged,
        rejected=batch.rejects.height,
        late=late,
    )
    row = {
        "batch_id": batch.batch_id,
        "source": batch.source,
        "received": batch.received,
        "staged": written.staged,
        "duplicates": written.duplicates,
        "rejected": written.rejected,
        "late": written.late,
        "loaded_at": loaded_at,
    }
    return pl.DataFrame([row], schema=stream_batches_columns()), written


def offset_rows(batch: EventBatch) -> pl.DataFrame:
    """The batch's `consumer_offsets` rows: one per (topic, partition) it read."""
    import polars as pl

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
        schema=offsets_columns(),
    )


# Queries both backends run as they are, formatted with their quoted table names.
STATS_ROWS = "SELECT count(*), max(played_at), max(loaded_at) FROM {events}"
STATS_DAYS = "SELECT listen_date, count(*) FROM {events} GROUP BY 1 ORDER BY 1"
STATS_TOTALS = "SELECT sum(received), sum(duplicates), sum(rejected), sum(late) FROM {batches}"


def stream_stats(
    rows: int,
    last_played: dt.datetime | None,
    last_loaded: dt.datetime | None,
    days: list[tuple[dt.date, int]],
    totals: tuple[int | None, ...],
) -> StreamStats:
    """StreamStats from the results of STATS_ROWS, STATS_DAYS and STATS_TOTALS."""
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


# -- a day's streamed events, added to its listens load -------------------------------------


@dataclass(frozen=True)
class SqlDialect:
    """What the inclusion statements spell differently in PostgreSQL and DuckDB."""

    create_temporary: str
    """CREATE ... AS for a temporary table gone at the end of the load."""
    json_object: str
    timestamp_format: str
    """A template turning `{}` (a timestamp) into ISO 8601 UTC text."""
    parameter: str
    """A template for a named bind parameter `{}`."""


POSTGRES = SqlDialect(
    create_temporary="CREATE TEMPORARY TABLE {} ON COMMIT DROP AS",
    json_object="json_build_object",
    timestamp_format="""to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    parameter="%({})s",
)
DUCKDB = SqlDialect(
    create_temporary="CREATE OR REPLACE TEMPORARY TABLE {} AS",
    json_object="json_object",
    timestamp_format="strftime({}, '%Y-%m-%dT%H:%M:%S.%fZ')",
    parameter="${}",
)

_DAY_TABLE = "streamed_day"
_PARAMETER = re.compile(r":([a-z_]+)\b")


# Listens rules an event validated at consume time can still fail at staging, in the order
# validate applies them (and so joins their reasons): the boolean column of the day's table
# flagging a failure, and the rule's label as validate counts it.
_RULES = {
    "unknown_user": "user_id: unknown",
    "in_future": "listened_at: in the future",
    "too_long": "ms_played: longer than its track",
    "duplicate": f"{DUPLICATE_REASON_PREFIX}event_id",
}


def _reasons(dialect: SqlDialect) -> dict[str, str]:
    """Each rule's reason as SQL text, worded as validate words it."""
    listened_at = dialect.timestamp_format.format("listened_at")
    return {
        "unknown_user": "'unknown user_id ''' || user_id || ''''",
        "in_future": (
            f"'listened_at ' || {listened_at} || ' is in the future (now ' || :now_text || ')'"
        ),
        "too_long": (
            f"'ms_played ' || CAST(ms_played AS VARCHAR) || ' is over {MAX_PLAY_TO_TRACK} times "
            "the track''s duration_ms ' || CAST(track_duration_ms AS VARCHAR)"
        ),
        "duplicate": f"'{_RULES['duplicate']}'",
    }


@dataclass(frozen=True)
class Statement:
    """SQL text in one dialect, with the bind parameters it names."""

    text: str
    parameters: dict[str, object]


def streamed_day_statements(
    dialect: SqlDialect, tables: Mapping[str, str], prepared: PreparedLoad
) -> tuple[list[Statement], Statement]:
    """The statements adding the day's streamed events to `prepared`'s load, to run after its
    batch rows and rejects are written: the writes, then the count query whose one row
    `streamed_rows` reads. `tables` maps each table name to its quoted, qualified name."""
    day = prepared.partition_value
    if prepared.contract.name != LISTENS.name or day is None:
        raise ValueError(f"only a day of {LISTENS.name} takes streamed events")
    failed = " OR ".join(flag for flag in _RULES if flag != "duplicate")
    listens, rejects = tables[LISTENS.name], tables[REJECTS_TABLE]
    classify = f"""
        {dialect.create_temporary.format(_DAY_TABLE)}
        SELECT *, ({failed}) OR in_batch AS rejected, NOT ({failed}) AND in_batch AS duplicate
        FROM (
            SELECT e.event_id, e.user_id, e.track_id, e.played_at AS listened_at,
                CAST(e.ms_played AS INTEGER) AS ms_played, e.listen_date,
                t.duration_ms AS track_duration_ms,
                t.track_id IS NULL AS unknown_track,
                u.user_id IS NULL AS unknown_user,
                e.played_at > :future_after AS in_future,
                coalesce(e.ms_played > CAST(t.duration_ms AS BIGINT) * {MAX_PLAY_TO_TRACK}, false)
                    AS too_long,
                b.event_id IS NOT NULL AS in_batch,
                -- Consumed after its UTC day had ended, as the consumer counts `late`.
                e.listen_date < CAST(e.loaded_at AT TIME ZONE 'UTC' AS DATE) AS late
            FROM {tables[LISTEN_EVENTS.name]} e
            LEFT JOIN {tables[TRACKS.name]} t ON t.track_id = e.track_id
            LEFT JOIN {tables[USERS.name]} u ON u.user_id = e.user_id
            -- The day's rows so far are the batch's: a join, not a subquery per event.
            LEFT JOIN {listens} b ON b.event_id = e.event_id AND b.listen_date = :day
            WHERE e.listen_date = :day
        ) AS checked"""
    columns = ", ".join(LISTENS.columns)
    insert_rows = f"""
        INSERT INTO {listens} ({columns}, source, batch_id, loaded_at)
        SELECT {columns}, :source, :batch_id, :loaded_at FROM {_DAY_TABLE} WHERE NOT rejected"""
    reasons = ", ".join(
        f"CASE WHEN {flag} THEN {reason} END" for flag, reason in _reasons(dialect).items()
    )
    record = ", ".join(f"'{name}', {name}" for name in LISTENS.columns)
    insert_rejects = f"""
        INSERT INTO {rejects}
            (table_name, partition_key, record_key, reason, record, batch_id, rejected_at)
        SELECT :table_name, :partition_key, event_id, concat_ws('; ', {reasons}),
            CAST({dialect.json_object}({record}) AS VARCHAR), :batch_id, :loaded_at
        FROM {_DAY_TABLE} WHERE rejected"""
    counts = ", ".join(
        [
            "count(*)",
            "count(*) FILTER (WHERE NOT rejected)",
            "count(*) FILTER (WHERE rejected)",
            "count(*) FILTER (WHERE late AND NOT rejected)",
        ]
        + [f"count(*) FILTER (WHERE {flag})" for flag in _RULES]
        + ["count(*) FILTER (WHERE unknown_track AND NOT rejected)"]
    )
    now = prepared.started_at
    values: dict[str, object] = {
        "day": day,
        "future_after": now + FUTURE_SKEW,
        "now_text": f"{now:%Y-%m-%dT%H:%M}Z",
        "source": prepared.source,
        "batch_id": prepared.batch_id,
        "loaded_at": now,
        "table_name": LISTENS.name,
        "partition_key": prepared.partition_key,
    }
    writes = [_bind(dialect, text, values) for text in (classify, insert_rows, insert_rejects)]
    return writes, _bind(dialect, f"SELECT {counts} FROM {_DAY_TABLE}", values)


def streamed_rows(counts: tuple[int, ...]) -> StreamedRows:
    """What the day's streamed events added, from the count query's row."""
    received, loaded, rejected, late, *by_rule, unknown_tracks = (int(count) for count in counts)
    return StreamedRows(
        received=received,
        loaded=loaded,
        rejected=rejected,
        late=late,
        reject_reasons={
            label: count for label, count in zip(_RULES.values(), by_rule, strict=True) if count
        },
        unknown_tracks=unknown_tracks,
    )


def _bind(dialect: SqlDialect, text: str, values: Mapping[str, object]) -> Statement:
    """The text with `:name` written as the dialect's parameters, and those parameters."""
    names = _PARAMETER.findall(text)
    return Statement(
        _PARAMETER.sub(lambda match: dialect.parameter.format(match.group(1)), text),
        {name: values[name] for name in names},
    )
