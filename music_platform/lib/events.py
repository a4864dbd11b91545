"""The listening event: one schema for the Kafka producer and consumer, the JSON-lines events
file and the staging table they land in (`LISTEN_EVENTS`).

On the wire an event is a JSON object with these field names. `decode_event` turns bytes into a
validated `ListenEvent` or a one-line reason naming the field and the value, which is what the
dead-letter topic and the rejects table keep.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import types
import typing
from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from music_platform.lib.quality.text import (
    CONTROL_PATTERN,
    MOJIBAKE_PATTERN,
    REPLACEMENT_CHARACTER,
)
from music_platform.lib.schemas import ColumnType, TableContract, polars_schema

if TYPE_CHECKING:
    import polars as pl

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({SCHEMA_VERSION})
MAX_MS_PLAYED = 3 * 60 * 60 * 1000
"""Longest believable single play, as staging's listens rule (validate.MAX_MS_PLAYED)."""
# Encoding damage in an id, refused as staging refuses it in every other text column
# (lib/quality/text.py): a streamed event is validated here, once, and staged as it is.
DAMAGED_TEXT = f"{REPLACEMENT_CHARACTER}|{MOJIBAKE_PATTERN}|{CONTROL_PATTERN}"
_DAMAGE = {
    "invalid UTF-8": re.compile(REPLACEMENT_CHARACTER),
    "mojibake (UTF-8 read as Latin-1)": re.compile(MOJIBAKE_PATTERN),
    "control character": re.compile(CONTROL_PATTERN),
}


class Action(StrEnum):
    PLAY = "play"
    PAUSE = "pause"
    SKIP = "skip"
    LIKE = "like"
    STOP = "stop"


class ListenEvent(BaseModel):
    """One play of a track by a user. Unknown extra fields are ignored (a newer producer may
    add some); a schema_version this code does not know is refused."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(min_length=1, max_length=200)
    user_id: str = Field(min_length=1, max_length=200)
    track_id: str = Field(min_length=1, max_length=200)
    played_at: AwareDatetime
    ms_played: int = Field(ge=0, le=MAX_MS_PLAYED)
    artist: str | None = None
    track: str | None = None
    album: str | None = None
    genre: str | None = None
    session_id: str | None = None
    position_ms: int | None = Field(None, ge=0)
    action: Action | None = None
    device: str | None = None
    platform: str | None = None
    is_premium: bool | None = None
    schema_version: int = SCHEMA_VERSION

    @field_validator("played_at")
    @classmethod
    def _in_utc(cls, value: dt.datetime) -> dt.datetime:
        return value.astimezone(dt.UTC)

    @field_validator("event_id", "user_id", "track_id")
    @classmethod
    def _undamaged(cls, value: str) -> str:
        for label, pattern in _DAMAGE.items():
            if pattern.search(value):
                raise ValueError(label)
        return value

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value not in SUPPORTED_SCHEMA_VERSIONS:
            known = ", ".join(map(str, sorted(SUPPORTED_SCHEMA_VERSIONS)))
            raise ValueError(f"schema_version {value} is not supported (known: {known})")
        return value


EVENT_FIELDS: tuple[str, ...] = tuple(ListenEvent.model_fields)

_COLUMN_TYPES: dict[object, ColumnType] = {
    str: ColumnType.STRING,
    int: ColumnType.INT64,
    bool: ColumnType.BOOLEAN,
    Action: ColumnType.STRING,
    AwareDatetime: ColumnType.TIMESTAMP,
}


def _column_type(annotation: object) -> ColumnType:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return _COLUMN_TYPES[annotation]


# Where each event came from: the Kafka partition and offset, null for file events.
PROVENANCE_TYPES: dict[str, ColumnType] = {
    "kafka_partition": ColumnType.INT32,
    "kafka_offset": ColumnType.INT64,
}

LISTEN_EVENTS = TableContract(
    name="listen_events",
    column_types={
        **{name: _column_type(f.annotation) for name, f in ListenEvent.model_fields.items()},
        "listen_date": ColumnType.DATE,  # played_at's UTC day: the daily partition it belongs to
        **PROVENANCE_TYPES,
    },
    # An event is identified within its day, so deduplicating a batch looks only at the days
    # it touches, not at the whole history.
    primary_key=("listen_date", "event_id"),
    partition_column="listen_date",
)
"""The staged stream: every field of the event, its day and where it was read from."""


def decode_event(value: bytes | str | None) -> ListenEvent | str:
    """The validated event, or why it is not one (one line naming the field and value)."""
    if value is None:
        return "empty message: no event JSON"
    try:
        return ListenEvent.model_validate_json(value)
    except ValidationError as error:
        return describe_invalid(error)


# How each field arrives in the JSON: played_at and action as strings, typed further below.
_STRING_FIELDS = [
    name
    for name in EVENT_FIELDS
    if LISTEN_EVENTS.column_types[name] in (ColumnType.STRING, ColumnType.TIMESTAMP)
]
_REQUIRED_FIELDS = [name for name, f in ListenEvent.model_fields.items() if f.is_required()]
_ID_FIELDS = ("event_id", "user_id", "track_id")
# The one timestamp shape the vectorised pass parses; any other (which pydantic may still
# accept) goes to `decode_event`.
_CANONICAL_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
)
# Below this many rows a batch that polars cannot read is left to `decode_event` whole,
# rather than halved further to find the bad rows.
_SMALLEST_SPLIT = 64


def decode_events(values: Sequence[bytes | None]) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """A batch of message values decoded at once: the valid events (EVENT_FIELDS typed as in
    LISTEN_EVENTS, plus `row`, the value's position in `values`, in order) and (row, reason)
    for the invalid ones. Equal, value for value, to `decode_event` on each.

    Polars reads the values as one JSON-lines buffer and vectorised rules stand in for the
    model. The rules only accept what the model surely accepts with the same values: a value
    they leave out (an unusual timestamp, an explicit null, a duplicate or unknown key, a
    number where a string belongs...) is decoded alone by `decode_event`, so it is still
    accepted if valid and its reason is exactly the model's if not.
    """
    import polars as pl

    raw = _as_text(values)
    # A line break inside a value would split it in two lines; an empty one would vanish.
    readable = raw.is_not_null() & ~raw.str.contains(r"[\r\n]") & (raw.str.strip_chars() != "")
    rows = readable.arg_true().to_list()
    frames, unread = _read_lines(values, rows)
    fast = pl.concat(frames) if frames else pl.DataFrame(schema={**_wire_schema(), "row": pl.Int64})
    fast = fast.with_columns(
        raw.gather(fast["row"]).alias("raw"),
        pl.col("played_at")
        .str.replace(r"Z$", "+00:00")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC", strict=False)
        .alias("played_at_utc"),
    )
    fast = fast.with_columns(_surely_valid().alias("accepted"))
    accepted = fast.filter("accepted")
    flagged = sorted(
        [
            *(~readable).arg_true().to_list(),
            *unread,
            *fast.filter(~pl.col("accepted"))["row"].to_list(),
        ]
    )

    slow_events: list[ListenEvent] = []
    slow_rows: list[int] = []
    rejects: list[tuple[int, str]] = []
    for row in flagged:
        decoded = decode_event(values[row])
        if isinstance(decoded, ListenEvent):
            slow_events.append(decoded)
            slow_rows.append(row)
        else:
            rejects.append((row, decoded))
    typed = accepted.select(
        *(
            pl.col("played_at_utc").alias(name)
            if name == "played_at"
            # A missing schema_version is the model's default (an explicit null was flagged).
            else pl.col(name).fill_null(SCHEMA_VERSION)
            if name == "schema_version"
            else pl.col(name)
            for name in EVENT_FIELDS
        ),
        pl.col("row"),
    ).cast(_event_schema())
    slow = model_frame(slow_events).with_columns(pl.Series("row", slow_rows, dtype=pl.Int64))
    return pl.concat([typed, slow]).sort("row"), rejects


@cache
def _wire_schema() -> dict[str, pl.DataType]:
    return polars_schema(
        {
            name: ColumnType.STRING if name in _STRING_FIELDS else LISTEN_EVENTS.column_types[name]
            for name in EVENT_FIELDS
        }
    )


@cache
def _event_schema() -> dict[str, pl.DataType]:
    return polars_schema(
        {
            **{name: LISTEN_EVENTS.column_types[name] for name in EVENT_FIELDS},
            "row": ColumnType.INT64,
        }
    )


def _as_text(values: Sequence[bytes | None]) -> pl.Series:
    """The values as strings; null where a value is missing or not UTF-8."""
    import polars as pl

    binary = pl.Series("raw", values, dtype=pl.Binary)
    try:
        return binary.cast(pl.String)
    except pl.exceptions.ComputeError:
        # Some value is not UTF-8 (rare): find which, one by one.
        text: list[str | None] = []
        for value in values:
            try:
                text.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                text.append(None)
        return pl.Series("raw", text, dtype=pl.String)


def _read_lines(
    values: Sequence[bytes | None], rows: list[int]
) -> tuple[list[pl.DataFrame], list[int]]:
    """These rows' values read as JSON lines with the wire schema: frames (with `row`), and
    the rows polars could not read. A batch polars refuses (malformed JSON, a string where a
    number belongs...) is halved until the rows it refuses are isolated."""
    import polars as pl

    if not rows:
        return [], []
    buffer = b"\n".join(values[row] for row in rows)  # type: ignore[misc]
    try:
        frame = pl.read_ndjson(io.BytesIO(buffer), schema=_wire_schema())
        if frame.height == len(rows):
            return [frame.with_columns(pl.Series("row", rows, dtype=pl.Int64))], []
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        pass
    if len(rows) <= _SMALLEST_SPLIT:
        return [], rows
    middle = len(rows) // 2
    left_frames, left_unread = _read_lines(values, rows[:middle])
    right_frames, right_unread = _read_lines(values, rows[middle:])
    return left_frames + right_frames, left_unread + right_unread


def _surely_valid() -> pl.Expr:
    """True for read rows the model accepts with the values polars read."""
    import polars as pl

    present = pl.sum_horizontal(pl.col(name).is_not_null() for name in EVENT_FIELDS)
    present_strings = pl.sum_horizontal(pl.col(name).is_not_null() for name in _STRING_FIELDS)
    # Every key in the text is one read field with a value: no duplicate key (polars keeps
    # the first, the model the last), no unknown key, no explicit null (which the model
    # refuses where polars cannot tell it from a missing field). And every string field held
    # a JSON string, where polars would have turned a number or a boolean into text. A key
    # look-alike inside a string value only sends its row to the model.
    keys = pl.col("raw").str.count_matches(r'"\s*:')
    string_keys = pl.col("raw").str.count_matches(r'"\s*:\s*"')
    rules = [
        keys == present,
        # A UTF-16 surrogate escape: polars reads a lone one that the model refuses.
        ~pl.col("raw").str.contains(r"\\u[dD][89abAB]"),
        string_keys == present_strings,
        *(pl.col(name).is_not_null() for name in _REQUIRED_FIELDS),
        *(pl.col(name).str.len_chars().is_between(1, 200) for name in _ID_FIELDS),
        *(~pl.col(name).str.contains(DAMAGED_TEXT) for name in _ID_FIELDS),
        pl.col("played_at").str.contains(_CANONICAL_TIMESTAMP),
        pl.col("played_at_utc").is_not_null(),
        pl.col("ms_played").is_between(0, MAX_MS_PLAYED),
        pl.col("position_ms").is_null() | (pl.col("position_ms") >= 0),
        pl.col("action").is_null() | pl.col("action").is_in([action.value for action in Action]),
        pl.col("schema_version").is_null()
        | pl.col("schema_version").is_in(sorted(SUPPORTED_SCHEMA_VERSIONS)),
    ]
    return pl.all_horizontal(rules).fill_null(False)


def describe_invalid(error: ValidationError) -> str:
    reasons = []
    for problem in error.errors(include_url=False):
        field = ".".join(str(part) for part in problem["loc"]) or "event"
        if problem["type"] == "json_invalid":
            reasons.append(f"malformed JSON: {problem['msg'].removeprefix('Invalid JSON: ')}")
        elif problem["type"] == "missing":
            reasons.append(f"{field}: missing")
        else:
            message = problem["msg"].removeprefix("Value error, ")
            given = json.dumps(problem.get("input"), default=str)[:80]
            reasons.append(f"{field}: {message} (got {given})")
    return "; ".join(reasons)


def encode_events(frame: pl.DataFrame) -> pl.Series:
    """Each row of an events frame (event field columns) as its JSON object, vectorised."""
    import polars as pl

    fields = [name for name in EVENT_FIELDS if name in frame.columns]
    played_at = (
        pl.col("played_at").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
    return frame.select(
        pl.struct([played_at if name == "played_at" else pl.col(name) for name in fields])
        .struct.json_encode()
        .alias("json")
    ).to_series()


def events_frame(
    events: pl.DataFrame,
    *,
    partitions: Sequence[int | None] | None = None,
    offsets: Sequence[int | None] | None = None,
) -> pl.DataFrame:
    """Decoded events (EVENT_FIELDS columns, as `decode_events` gives them) as a frame with
    LISTEN_EVENTS' columns (without load metadata): their day and where they were read from."""
    import polars as pl

    n = events.height
    return events.with_columns(
        pl.col("played_at").dt.date().alias("listen_date"),
        pl.Series(
            "kafka_partition", partitions or [None] * n, LISTEN_EVENTS.columns["kafka_partition"]
        ),
        pl.Series("kafka_offset", offsets or [None] * n, LISTEN_EVENTS.columns["kafka_offset"]),
    ).select(list(LISTEN_EVENTS.columns))


def model_frame(events: Sequence[ListenEvent]) -> pl.DataFrame:
    """Events the model validated, as EVENT_FIELDS columns typed as in LISTEN_EVENTS (what
    `decode_events` gives and `events_frame` takes)."""
    import polars as pl

    columns = {name: [getattr(event, name) for event in events] for name in EVENT_FIELDS}
    return pl.DataFrame(columns, schema={name: _event_schema()[name] for name in EVENT_FIELDS})


def as_listens(events: pl.DataFrame) -> pl.DataFrame:
    """Staged events in staging/staged_listens' raw shape (LISTENS columns, untyped checks to
    follow)."""
    import polars as pl

    return events.select(
        "event_id",
        "user_id",
        "track_id",
        pl.col("played_at").alias("listened_at"),
        pl.col("ms_played").cast(pl.Int32, strict=False),
        "listen_date",
    )
