"""Screening a listening-events file line by line, without Dagster: what the raw asset lands,
rejects and counts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from music_platform.lib.sources.events_file import days_held, screen_events_file

NOW = dt.datetime(2024, 3, 5, 12, tzinfo=dt.UTC)


def _line(event_id: str, played_at: str, **fields: object) -> bytes:
    event = {"event_id": event_id, "user_id": "u", "track_id": "t", "ms_played": 1000}
    return json.dumps({**event, "played_at": played_at, **fields}, ensure_ascii=False).encode()


def test_each_line_is_kept_as_written_rejected_with_its_reason_or_counted_as_a_repeat(
    tmp_path: Path,
) -> None:
    first = _line("a", "2024-03-01T23:30:00-02:00", artist="Sigur Rós")  # 2024-03-02 in UTC
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"  # a byte-order mark, as Windows editors save UTF-8
        + first
        + b"\r\n"
        + _line("b", "2024-03-01T00:00:00Z")  # exactly midnight: the day it starts
        + b"\n"
        + _line("\xff", "2024-03-01T10:00:00Z").replace(b"\xc3\xbf", b"\xff")  # bad UTF-8
        + b"\n"
        + _line("c", "2024-03-05T12:10:00Z")  # ten minutes ahead: beyond the clock skew allowed
        + b"\n"
        + first  # delivered twice
        + b"\n"
    )

    lines, screened = screen_events_file([path], now=NOW)

    assert lines.rows() == [
        ("a", dt.date(2024, 3, 2), first.decode()),
        ("b", dt.date(2024, 3, 1), _line("b", "2024-03-01T00:00:00Z").decode()),
    ]
    assert screened.rows["event_id"].to_list() == ["a", "b"]
    assert screened.deduplicated == 1
    assert screened.rejects.select("record_key", "reason").rows() == [
        ("events.jsonl:3", "malformed JSON: invalid unicode code point at line 1 column 15"),
        ("events.jsonl:4", 'played_at: in the future (got "2024-03-05T12:10:00+00:00")'),
    ]
    assert screened.reject_reasons == {"malformed JSON": 1, "played_at: in the future": 1}
    # days_held reads against the real clock, where 2024-03-05 is long past
    assert days_held([path]) == ["2024-03-01", "2024-03-02", "2024-03-05"]
