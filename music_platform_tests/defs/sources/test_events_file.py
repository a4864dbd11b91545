"""A listening-events file (JSON lines in the streaming event schema) through the files path, on
DuckDB and on PostgreSQL: each line validated as a streamed event is, valid events staged as
listens with their own ids, invalid ones rejected with the reason, repeated ids dropped and
counted; a .jsonl dropped in the external folder is read the same way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from music_platform_tests.defs.sources.world import (
    DAY,
    EMPTY_DAY,
    KAGGLE_ROWS,
    Outcome,
    kaggle_csv,
    run_sources,
)
from music_platform_tests.support.platform_env import platform_environment, scratch_database

pytestmark = pytest.mark.slow

D1, D2 = DAY, EMPTY_DAY
LOVERMAN, COMEDY = KAGGLE_ROWS[0][0], KAGGLE_ROWS[1][0]
KEY = "raw/listen_events_file"


def _event(n: int, day: str, track_id: str, **fields: object) -> dict:
    return {
        "event_id": f"evt-{n}",
        "user_id": ("alice", "bob")[n % 2],
        "track_id": track_id,
        "played_at": f"{day}T{n % 24:02d}:15:00+00:00",
        "ms_played": 180_000,
        "action": "play",
        **fields,
    }


GOOD = [
    _event(1, D1, LOVERMAN),
    _event(2, D1, COMEDY),
    _event(3, D1, LOVERMAN, artist="Ricky Montgomery", track="Mr Loverman"),
    # 23:30 at +05:00 is 18:30 UTC: still the first day
    {**_event(4, D1, COMEDY), "played_at": f"{D1}T23:30:00+05:00"},
    _event(5, D2, LOVERMAN),
    # an extra field a newer producer may send is ignored
    _event(6, D2, COMEDY, mood="happy"),
]
BAD = [
    ('{"event_id": "evt-90", "user_id"', "malformed JSON: EOF while parsing an object"),
    (
        json.dumps({k: v for k, v in _event(91, D1, LOVERMAN).items() if k != "user_id"}),
        "user_id: missing",
    ),
    (
        json.dumps({**_event(92, D1, LOVERMAN), "played_at": f"{D1}T10:00:00"}),
        f'played_at: Input should have timezone info (got "{D1}T10:00:00")',
    ),
    (
        json.dumps({**_event(93, D2, LOVERMAN), "schema_version": 2}),
        "schema_version: schema_version 2 is not supported (known: 1) (got 2)",
    ),
    (
        json.dumps({**_event(94, D2, LOVERMAN), "played_at": "2999-01-01T00:00:00Z"}),
        'played_at: in the future (got "2999-01-01T00:00:00+00:00")',
    ),
]


def _write_events(path: Path) -> Path:
    lines = [json.dumps(event) for event in GOOD]
    # evt-1 delivered twice more, evt-5 once more: dropped and counted, not rejected
    lines += [json.dumps(GOOD[0]), json.dumps(GOOD[4]), json.dumps(GOOD[0])]
    lines += [line for line, _ in BAD]
    lines.insert(3, "")  # a blank line is no event
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment's name and, for PostgreSQL, a scratch database for staging."""
    if request.param == "duckdb":
        yield {}
        return
    with scratch_database() as database:
        yield {"env": "dev", "POSTGRES_DB": database}


def _query(outcome: Outcome, backend: dict[str, str], sql: str) -> list[tuple]:
    if "POSTGRES_DB" not in backend:
        with duckdb.connect(str(outcome.home / "staging.duckdb"), read_only=True) as staging:
            return staging.execute(sql).fetchall()
    conninfo = f"host=127.0.0.1 port=5432 user=postgres dbname={backend['POSTGRES_DB']}"
    with psycopg.connect(conninfo) as connection:
        return connection.execute(sql).fetchall()


def _environment(home: Path, backend: dict[str, str], **extra: str) -> dict[str, str]:
    variables = {k: v for k, v in backend.items() if k != "env"}
    return platform_environment(
        home,
        backend.get("env", "local"),
        MUSIC_PLATFORM_SOURCE="files",
        KAGGLE_TRACKS_CSV=str(kaggle_csv(home.parent)),
        # Five bad lines of fourteen events: above the default limit, which would block the file.
        MUSIC_PLATFORM_MAX_REJECT_RATE="0.5",
        **variables,
        **extra,
    )


def test_an_events_file_is_validated_as_the_stream_and_staged_for_the_days_it_holds(
    tmp_path: Path, backend: dict[str, str]
) -> None:
    events = _write_events(tmp_path / "events.jsonl")
    env = _environment(tmp_path / "home", backend, LISTEN_EVENTS_FILE=str(events))

    outcome = run_sources(env, [D1, D2])

    assert outcome.success, outcome.failure_messages()
    raw = outcome.metadata(KEY)
    assert (raw["rejected"], raw["deduplicated"], raw["drift"]) == (5, 3, [])
    assert raw["reject_reasons"] == {
        "malformed JSON": 1,
        "user_id: missing": 1,
        "played_at: Input should have timezone info": 1,
        "schema_version: schema_version 2 is not supported (known: 1)": 1,
        "played_at: in the future": 1,
    }
    # Raw keeps each valid line as it was in the file, on its played_at UTC day.
    day1 = outcome.raw("events_file", "events", D1)
    assert day1["line"].to_list() == [json.dumps(event) for event in GOOD[:4]]
    assert outcome.raw("events_file", "events", D2)["event_id"].to_list() == ["evt-5", "evt-6"]

    rejects = _query(
        outcome,
        backend,
        "SELECT record_key, reason, record FROM staging.rejects "
        "WHERE table_name = 'file:listen_events' ORDER BY record_key",
    )
    assert [key for key, _, _ in rejects] == [f"events.jsonl:{n}" for n in (11, 12, 13, 14, 15)]
    for (_, reason, record), (line, expected) in zip(rejects, BAD, strict=True):
        assert reason.startswith(expected)
        assert record == line

    staged = _query(
        outcome,
        backend,
        "SELECT listen_date, event_id, user_id, track_id, ms_played FROM staging.listens "
        "ORDER BY event_id",
    )
    assert [(str(day), event, user, track, ms) for day, event, user, track, ms in staged] == [
        (event["played_at"][:10], event["event_id"], event["user_id"], event["track_id"], 180_000)
        for event in GOOD
    ]
    # Each day reports its own figures: four listens on the first, two on the second.
    by_day = outcome.partition_metadata("staging/staged_listens")
    assert {day: figures["dagster/row_count"] for day, figures in by_day.items()} == {D1: 4, D2: 2}
    assert outcome.summed("staging/staged_listens", "rejected", "deduplicated") == (0, 0)
    listens = outcome.metadata("staging/staged_listens")
    assert listens["listens_source"] == "events_file"
    users = _query(outcome, backend, "SELECT user_id FROM staging.users ORDER BY user_id")
    assert users == [("alice",), ("bob",)]


def test_a_jsonl_dropped_in_the_external_folder_is_read_the_same_way(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "external").mkdir(parents=True)
    _write_events(home / "external" / "listening.jsonl")
    env = _environment(home, {})

    outcome = run_sources(env, [D1])

    assert outcome.success, outcome.failure_messages()
    raw = outcome.metadata(KEY)
    assert raw["source"] == f"file: {home.resolve() / 'external' / 'listening.jsonl'}"
    assert (raw["rejected"], raw["deduplicated"]) == (5, 3)
    assert outcome.raw("events_file", "events", D1).height == 4
    staged = outcome.staged("SELECT COUNT(*) AS n FROM staging.listens")
    assert staged["n"][0] == 4


def test_too_many_bad_lines_block_the_file_and_keep_the_previous_landing(tmp_path: Path) -> None:
    events = _write_events(tmp_path / "events.jsonl")
    lenient = _environment(tmp_path / "home", {}, LISTEN_EVENTS_FILE=str(events))
    first = run_sources(lenient, [D1], keys=[KEY])
    assert first.success, first.failure_messages()
    landed = first.raw("events_file", "events", D1)

    strict = {**lenient, "MUSIC_PLATFORM_MAX_REJECT_RATE": "0.01"}
    second = run_sources(strict, [D1], keys=[KEY])

    assert not second.success
    rejects = second.check(KEY, "reject_rate_within_threshold")
    assert not rejects.passed and rejects.blocking
    # The share, the limit and its setting, the commonest reasons, where the rejects are, and
    # the setting that changes the limit for this source alone.
    assert rejects.description == (
        "5 of 14 rows rejected (35.71%, over the limit of 1.00%, "
        "MUSIC_PLATFORM_MAX_REJECT_RATE=0.01); commonest: malformed JSON (1), played_at: Input "
        "should have timezone info (1), played_at: in the future (1); rejected rows in the "
        "staging rejects table (staging.rejects, table_name 'file:listen_events'); fix them at "
        "the source and load again, or to accept more from events_file, set "
        """MUSIC_PLATFORM_MAX_REJECT_RATES='{"events_file": <share>}'"""
    )
    assert "not written" in second.metadata(KEY)["blocked"]
    assert second.raw("events_file", "events", D1).equals(landed)

    # A limit for this source alone lets the file through; other sources keep the default.
    overridden = {**strict, "MUSIC_PLATFORM_MAX_REJECT_RATES": '{"events_file": 0.4}'}
    third = run_sources(overridden, [D1], keys=[KEY])
    assert third.success, third.failure_messages()
    passed = third.check(KEY, "reject_rate_within_threshold")
    assert passed.passed
    assert 'limit 40.00%, MUSIC_PLATFORM_MAX_REJECT_RATES["events_file"]=0.4' in (
        passed.description or ""
    )
