"""The batch decoder gives, value for value, what the per-event model gives: the same events
with the same values, and the same reasons for the invalid ones, wherever they sit in a batch."""

from __future__ import annotations

import datetime as dt
import json
import random

import polars as pl
import pytest

from music_platform.lib.events import (
    EVENT_FIELDS,
    LISTEN_EVENTS,
    ListenEvent,
    decode_event,
    decode_events,
    encode_events,
)
from music_platform.lib.streaming.producer import synthetic_events
from music_platform.lib.synthetic import SyntheticConfig

BASE = {
    "event_id": "e",
    "user_id": "u1",
    "track_id": "t1",
    "played_at": "2026-11-30T10:00:00Z",
    "ms_played": 1000,
}
_DROP = object()


def event(**fields: object) -> bytes:
    body = {**BASE, **fields}
    return json.dumps({k: v for k, v in body.items() if v is not _DROP}).encode()


def raw(text: str) -> bytes:
    return text.encode()


# Values the vectorised rules must not get wrong: each is either plainly valid, invalid, or
# something polars would read differently from the model (coerced types, duplicate keys,
# explicit nulls, odd timestamps, surrogates, line breaks...).
TRICKY: list[bytes | None] = [
    event(),
    b"{not json",
    event(schema_version=9),
    event(schema_version=None),
    event(user_id=_DROP),
    event(user_id=None),
    event(event_id=""),
    event(event_id="x" * 200),
    event(event_id="x" * 201),
    event(event_id="\u00e9" * 200),
    event(event_id=5),
    event(played_at="2026-11-30T10:00:00"),
    event(played_at="2026-11-30T11:00:00+01:00"),
    event(played_at="2026-11-30 11:00:00+01:00"),
    event(played_at="2026-11-30T10:00:00z"),
    event(played_at="2026-11-30T10:00:00-00:00"),
    event(played_at="2026-11-30T10:00:00+24:00"),
    event(played_at=1700000000),
    event(played_at="2026-02-30T00:00:00Z"),
    event(played_at="2026-11-30T10:00:00.5Z"),
    event(played_at="2026-11-30T10:00:00.1234567Z"),
    event(ms_played=-1),
    event(ms_played=3 * 60 * 60 * 1000),
    event(ms_played=3 * 60 * 60 * 1000 + 1),
    event(ms_played=1.0),
    event(ms_played=1.5),
    event(ms_played="5"),
    event(ms_played=True),
    event(ms_played=10**20),
    event(artist=5),
    event(artist=None),
    event(artist=""),
    event(artist={"a": 1}),
    event(artist=[1]),
    event(artist=True),
    event(action="play"),
    event(action="PLAY"),
    event(action="jump"),
    event(position_ms=-1),
    event(position_ms=0),
    event(is_premium=1),
    event(is_premium="true"),
    event(extra={"artist": 5}),
    raw(
        '{"event_id":"a","event_id":"b","user_id":"u","track_id":"t",'
        '"played_at":"2024-01-01T00:00:00Z","ms_played":1}'
    ),
    raw(
        '{"artist":"x","artist":null,"event_id":"a","user_id":"u","track_id":"t",'
        '"played_at":"2024-01-01T00:00:00Z","ms_played":1}'
    ),
    raw(
        '{"art\\u0069st":5,"event_id":"a","user_id":"u","track_id":"t",'
        '"played_at":"2024-01-01T00:00:00Z","ms_played":1}'
    ),
    event(track='say "hi": live'),
    event(track="Beyonc\u00e9"),
    json.dumps({**BASE, "track": "Beyonc\u00e9 \U0001f3b5"}, ensure_ascii=False).encode(),
    event(track="\ud800"),
    json.dumps(BASE, indent=2).encode(),
    b"\xef\xbb\xbf" + event(),
    b"",
    b"   ",
    None,
    b"\xff\xfe",
    b"[1,2]",
    b"5",
    b"null",
    event() + b'{"x":1}',
]


def one_by_one(values: list[bytes | None]) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    events: list[ListenEvent] = []
    rows: list[int] = []
    rejects: list[tuple[int, str]] = []
    for row, value in enumerate(values):
        decoded = decode_event(value)
        if isinstance(decoded, ListenEvent):
            events.append(decoded)
            rows.append(row)
        else:
            rejects.append((row, decoded))
    frame = pl.DataFrame(
        {name: [getattr(e, name) for e in events] for name in EVENT_FIELDS},
        schema={name: LISTEN_EVENTS.columns[name] for name in EVENT_FIELDS},
    )
    return frame.with_columns(pl.Series("row", rows, dtype=pl.Int64)), rejects


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_each_tricky_value_alone_decodes_as_the_model_does(value: bytes | None) -> None:
    events, rejects = decode_events([value])
    expected_events, expected_rejects = one_by_one([value])
    assert rejects == expected_rejects
    assert events.equals(expected_events)


def test_tricky_values_among_thousands_of_valid_ones_decode_as_the_model_does() -> None:
    world = SyntheticConfig(seed=3, users=60, artists=40, tracks=400)
    synthetic = next(synthetic_events(world, count=3_000, as_of=dt.date(2024, 1, 1)))
    valid = [value.encode() for value in encode_events(synthetic).to_list()]
    shuffle = random.Random(1)
    for _ in range(3):
        values: list[bytes | None] = list(valid)
        for value in TRICKY:
            values.insert(shuffle.randrange(len(values) + 1), value)
        events, rejects = decode_events(values)
        expected_events, expected_rejects = one_by_one(values)
        assert rejects == expected_rejects
        assert events.equals(expected_events)
        # The valid tricky values are staged beside the synthetic ones.
        assert events.height > len(valid)


@pytest.mark.parametrize(
    ("track_id", "reason"),
    [
        ("trk\x00nul", "control character"),
        ("Bj\u00c3\u00b6rk-1", "mojibake"),
        ("trk\ufffd", "invalid UTF-8"),
    ],
)
def test_an_id_with_damaged_text_is_refused_on_both_paths(track_id: str, reason: str) -> None:
    """Streamed events are validated once, here, so the encoding rules staging applies to every
    other text column apply to their ids too."""
    event = {
        "event_id": "e-1",
        "user_id": "u-1",
        "track_id": track_id,
        "played_at": "2026-12-01T10:00:00Z",
        "ms_played": 1000,
    }
    line = json.dumps(event).encode()
    single = decode_event(line)
    assert isinstance(single, str) and single.startswith(f"track_id: {reason}")
    frame, rejects = decode_events([line])
    assert frame.is_empty()
    assert rejects == [(0, single)]
