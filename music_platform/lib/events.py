"""The listening event: one schema for the Kafka producer and consumer, the JSON-lines events
file and the staging table they land in (`LISTEN_EVENTS`).

On the wire an event is a JSON object with these field names. `decode_event` turns bytes into a
validated `ListenEvent` or a one-line reason naming the field and the value, which is what the
dead-letter topic and the rejects table keep.
"""

from __future__ import annotations

import datetime as dt
import json
import types
import typing
from collections.abc import Iterable, Sequence
from enum import StrEnum

import polars as pl
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from music_platform.lib.schemas import TableContract

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({SCHEMA_VERSION})
MAX_MS_PLAYED = 3 * 60 * 60 * 1000
"""Longest believable single play, as staging's listens rule (validate.MAX_MS_PLAYED)."""


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

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value not in SUPPORTED_SCHEMA_VERSIONS:
            known = ", ".join(map(str, sorted(SUPPORTED_SCHEMA_VERSIONS)))
            raise ValueError(f"schema_version {value} is not supported (known: {known})")
        return value


EVENT_FIELDS: tuple[str, ...] = tuple(ListenEvent.model_fields)

_POLARS_TYPES: dict[object, pl.DataType] = {
    str: pl.String(),
    int: pl.Int64(),
    bool: pl.Boolean(),
    Action: pl.String(),
    AwareDatetime: pl.Datetime("us", "UTC"),
}


def _polars_type(annotation: object) -> pl.DataType:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return _POLARS_TYPES[annotation]


# Where each event came from: the Kafka partition and offset, null for file events.
PROVENANCE_COLUMNS: dict[str, pl.DataType] = {
    "kafka_partition": pl.Int32(),
    "kafka_offset": pl.Int64(),
}

LISTEN_EVENTS = TableContract(
    name="listen_events",
    columns={
        **{name: _polars_type(f.annotation) for name, f in ListenEvent.model_fields.items()},
        "listen_date": pl.Date(),  # played_at's UTC day: the daily partition it belongs to
        **PROVENANCE_COLUMNS,
    },
    primary_key=("event_id",),
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
    events: Sequence[ListenEvent],
    *,
    partitions: Iterable[int | None] | None = None,
    offsets: Iterable[int | None] | None = None,
) -> pl.DataFrame:
    """Validated events as a frame with LISTEN_EVENTS' columns (without load metadata)."""
    columns: dict[str, list] = {name: [getattr(e, name) for e in events] for name in EVENT_FIELDS}
    n = len(events)
    columns["kafka_partition"] = list(partitions) if partitions is not None else [None] * n
    columns["kafka_offset"] = list(offsets) if offsets is not None else [None] * n
    schema = {k: v for k, v in LISTEN_EVENTS.columns.items() if k != "listen_date"}
    frame = pl.DataFrame(columns, schema=schema)
    return frame.with_columns(pl.col("played_at").dt.date().alias("listen_date")).select(
        list(LISTEN_EVENTS.columns)
    )


def as_listens(events: pl.DataFrame) -> pl.DataFrame:
    """Staged events in staging/listens' raw shape (LISTENS columns, untyped checks to follow)."""
    return events.select(
        "event_id",
        "user_id",
        "track_id",
        pl.col("played_at").alias("listened_at"),
        pl.col("ms_played").cast(pl.Int32, strict=False),
        "listen_date",
    )
