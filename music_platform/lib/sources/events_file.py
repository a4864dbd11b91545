"""A listening-events file: JSON lines in the streaming event schema (`lib/events.py`).

Every line goes through `decode_event`, as a streamed message does: a valid event is kept as the
line it was (raw lands unchanged), on the UTC day of its played_at; an invalid one is rejected
with decode_event's reason, which names the field and the value; an event id seen before is
dropped and counted, as the stream's exactly-once landing does. An event played in the future is
rejected too: its day is no partition yet, so it would otherwise wait unseen (staging rejects
future listens for the same reason).
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from music_platform.lib.events import ListenEvent, decode_event, events_frame, model_frame
from music_platform.lib.quality.files import FUTURE_SKEW, ScreenedFile
from music_platform.lib.schemas import ColumnType, polars_schema

if TYPE_CHECKING:
    import polars as pl

EVENTS_FILE_REJECTS = "file:listen_events"
"""The `table_name` the file's rejects carry in the rejects table, as other files' do."""
LINES_SCHEMA: dict[str, ColumnType] = {
    "event_id": ColumnType.STRING,
    "listen_date": ColumnType.DATE,
    "line": ColumnType.STRING,
}
_REJECTS_SCHEMA: dict[str, ColumnType] = {
    "line": ColumnType.INT64,
    "record_key": ColumnType.STRING,
    "reason": ColumnType.STRING,
    "record": ColumnType.STRING,
}


def _label(reason: str) -> str:
    """A reason without its value, to count alike rejects together."""
    return "; ".join(
        part.split(": ", 1)[0] if part.startswith("malformed JSON") else part.split(" (got ")[0]
        for part in reason.split("; ")
    )


def _screen(line: bytes, latest: dt.datetime) -> ListenEvent | str:
    decoded = decode_event(line)
    if isinstance(decoded, ListenEvent) and decoded.played_at > latest:
        return f'played_at: in the future (got "{decoded.played_at.isoformat()}")'
    return decoded


def screen_events_file(
    paths: Sequence[Path], *, now: dt.datetime | None = None
) -> tuple[pl.DataFrame, ScreenedFile]:
    """Each valid, first-seen event's line (LINES_SCHEMA), and the screening of every line.

    `ScreenedFile.rows` holds the valid events as LISTEN_EVENTS columns."""
    import polars as pl

    latest = (now or dt.datetime.now(dt.UTC)) + FUTURE_SKEW
    lines: list[tuple[str, dt.date, str]] = []
    events: list[ListenEvent] = []
    rejects: list[tuple[int, str, str, str]] = []
    reasons: dict[str, int] = {}
    seen: set[str] = set()
    duplicates = 0
    for path in paths:
        with Path(path).open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                text = raw.rstrip(b"\r\n")
                if number == 1:
                    text = text.removeprefix(codecs.BOM_UTF8)  # as Windows editors save it
                if not text.strip():
                    continue  # a blank line carries no event
                decoded = _screen(text, latest)
                if isinstance(decoded, str):
                    record = text.decode("utf-8", errors="replace")
                    rejects.append((number, f"{path.name}:{number}", decoded, record))
                    label = _label(decoded)
                    reasons[label] = reasons.get(label, 0) + 1
                elif decoded.event_id in seen:
                    duplicates += 1
                else:
                    seen.add(decoded.event_id)
                    events.append(decoded)
                    line = text.decode("utf-8")  # valid JSON is valid UTF-8
                    lines.append((decoded.event_id, decoded.played_at.date(), line))
    screened = ScreenedFile(
        rows=events_frame(model_frame(events)),
        rejects=pl.DataFrame(rejects, schema=polars_schema(_REJECTS_SCHEMA), orient="row"),
        reject_reasons=reasons,
        deduplicated=duplicates,
        drift=[],
    )
    return pl.DataFrame(lines, schema=polars_schema(LINES_SCHEMA), orient="row"), screened


def decode_lines(lines: pl.Series) -> pl.DataFrame:
    """Landed lines back as LISTEN_EVENTS rows. They passed `decode_event` when they landed; one
    that no longer does (its schema version dropped since) fails loudly with the reason."""
    events = []
    for line in lines:
        decoded = decode_event(line)
        if isinstance(decoded, str):
            raise ValueError(f"a landed event no longer decodes: {decoded}: {line[:200]}")
        events.append(decoded)
    return events_frame(model_frame(events))


def days_held(paths: Sequence[Path]) -> list[str]:
    """The UTC days of the valid events in `paths`, sorted."""
    lines, _ = screen_events_file(paths)
    return sorted(str(day) for day in lines["listen_date"].unique())
