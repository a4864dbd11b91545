"""Streaming rate: events from produce to staged rows, beside the broker's bare produce and
consume rate measured in the same run.

Bare baselines: a bare confluent-kafka Producer sending pre-encoded event JSON (no generation,
no delivery accounting), and a bare Consumer reading them back from an assigned partition set
(no group, no decoding). The pipeline: `stream produce`'s code (synthetic events, JSON encoding,
delivery reports), then `stream consume`'s (schema validation, dedupe on the batch's days, rows
and offsets committed together) into staging, in a process of its own so that its peak RSS
(`consumer_peak_rss_mb`) is the consumer's alone. `events_per_s` is staged events per second of
consuming, from the poll that returned the first event to the last batch's commit (no group
join, no idle wait), compared with the bare consume rate timed the same way; `end_to_end_per_s`
adds the produce time; `first_batch_seconds` runs from the consumer's start (topic check,
tables, group join) to its first commit. `--prestaged N` first writes N events of earlier days
straight into listen_events with SQL: a batch's dedupe must not grow with that history.
`rate_by_consumer`: the same events on a 4-partition topic, consumed by `--members` consumers
(processes) of one group into PostgreSQL: each one's rate, theirs together, and whether the
staged rows are exactly the events. Peak RSS is the larger of this process's and the
consumer's. A memory-only Tansu broker is started on loopback unless --bootstrap names one.

    uv run python bench/streaming.py --events 1000000 --backend duckdb --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
import uuid
from contextlib import nullcontext
from multiprocessing import Queue, get_context
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib.events import LISTEN_EVENTS, encode_events
from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore, StagingStore
from music_platform.lib.streaming.consumer import EventConsumer
from music_platform.lib.streaming.kafka import ensure_topic
from music_platform.lib.streaming.producer import produce, synthetic_events
from music_platform.lib.synthetic import SyntheticConfig
from music_platform.settings import KafkaSettings
from music_platform_tests.support.platform_env import scratch_database
from music_platform_tests.support.tansu import tansu_broker

PARTITIONS = 3
SCALE_PARTITIONS = 4
GOAL_EVENTS_PER_S = 50_000
GOAL_RATIO = 0.7
# Tansu holds a new group's first join for about half the session timeout (see settings).
SESSION_TIMEOUT_MS = 1000
WORLD = SyntheticConfig(seed=11)
AS_OF = dt.date(2024, 1, 1)


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_rates(settings: KafkaSettings, events: int) -> tuple[float, float]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    topic = f"bare-{uuid.uuid4().hex[:8]}"
    ensure_topic(settings, topic, PARTITIONS)
    sample = next(synthetic_events(WORLD, count=min(events, 100_000), as_of=AS_OF))
    values = encode_events(sample).to_list()
    keys = sample["user_id"].to_list()
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "linger.ms": 20})
    started = time.perf_counter()
    for i in range(events):
        j = i % len(values)
        while True:
            try:
                producer.produce(topic, value=values[j], key=keys[j])
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    produce_rate = events / (time.perf_counter() - started)

    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": topic})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    read, started = 0, 0.0
    while read < events:
        polled = time.perf_counter()
        messages = consumer.consume(10_000, timeout=1)
        if messages:
            started = started or polled
        read += sum(1 for m in messages if m.error() is None)
    consume_rate = events / (time.perf_counter() - started)
    consumer.close()
    return produce_rate, consume_rate


def _consume_in_child(
    target: tuple[str, str, str],
    settings: KafkaSettings,
    events: int | None,
    idle: float,
    out: Queue,
) -> None:
    """One consumer in its own process (run by `consume_in_processes`): its report with wall
    times, and its peak RSS alone, apart from the producing and bare runs."""
    store = make_store(*target)
    consumer = EventConsumer(store, settings)
    report = consumer.run(idle_seconds=idle, max_events=events)
    wall = time.time() - time.perf_counter()  # perf_counter readings to wall-clock times
    out.put(
        {
            "received": report.received,
            "staged": report.staged,
            "duplicates": report.duplicates,
            "busy_seconds": report.busy_seconds,
            "first_batch_seconds": report.first_batch_seconds,
            # Wall times of this member's busy span, to time the members together.
            "first_poll_at": wall + consumer._first_poll if report.busy_seconds else None,
            "last_commit_at": wall + consumer._last_commit,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def consume_in_processes(
    target: tuple[str, str, str],
    settings: KafkaSettings,
    members: int,
    events: int | None,
    idle: float,
) -> list[dict[str, float]]:
    context = get_context("spawn")
    out: Queue = context.Queue()
    children = [
        context.Process(target=_consume_in_child, args=(target, settings, events, idle, out))
        for _ in range(members)
    ]
    for child in children:
        child.start()
    reports = [out.get(timeout=1800) for _ in children]
    for child in children:
        child.join()
    return reports


def make_store(backend: str, target: str, schema: str) -> StagingStore:
    """A DuckDB file (its default schema) or a PostgreSQL schema."""
    if backend == "duckdb":
        return DuckDBStagingStore(Path(target))
    return PostgresStagingStore(target, schema=schema)


def prestage(store: StagingStore, backend: str, rows: int) -> float:
    """`rows` streamed events of earlier days written straight into listen_events with SQL
    (100,000 a day from 2020-01-01): the history a long-running consumer stages beside."""
    store.ensure_tables()
    number = "i" if backend == "duckdb" else "i::bigint"
    expressions = {
        "event_id": f"'pre-' || {number}",
        "played_at": "TIMESTAMPTZ '2020-01-01 12:00:00+00' + (i / 100000) * INTERVAL '1 day'",
        "listen_date": "DATE '2020-01-01' + CAST(i / 100000 AS INTEGER)",
        "is_premium": "false",
        "loaded_at": "TIMESTAMPTZ '2020-01-01 00:00:00+00'",
        "kafka_partition": "0",
    }
    by_type = {"String": "'x'", "Int64": number}
    columns = LISTEN_EVENTS.column_names
    values = [
        expressions.get(name) or by_type[type(LISTEN_EVENTS.schema[name]).__name__]
        for name in columns
    ]
    started = time.perf_counter()
    if backend == "duckdb":
        with duckdb.connect(str(store.path)) as connection:  # type: ignore[attr-defined]
            [(catalog,)] = connection.execute("SELECT current_database()").fetchall()
            table = f'"{catalog}"."{store.schema}"."{LISTEN_EVENTS.name}"'
            connection.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"SELECT {', '.join(values)} FROM range(?) r(i)",
                [rows],
            )
    else:
        with psycopg.connect(store.conninfo, autocommit=True) as connection:  # type: ignore[attr-defined]
            connection.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM generate_series(0, %s - 1) i").format(
                    sql.Identifier(store.schema, LISTEN_EVENTS.name),
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ".join(values)),
                ),
                (rows,),
            )
            connection.execute(
                sql.SQL("VACUUM ANALYZE {}").format(
                    sql.Identifier(store.schema, LISTEN_EVENTS.name)
                )
            )
    return time.perf_counter() - started


def combined_rate(reports: list[dict[str, float]]) -> float:
    """Staged events per second of the members together, from the first poll to the last
    commit of any of them."""
    polled = [r["first_poll_at"] for r in reports if r["first_poll_at"]]
    span = max(r["last_commit_at"] for r in reports) - min(polled)
    return sum(r["staged"] for r in reports) / span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["duckdb", "postgres"], default="duckdb")
    parser.add_argument(
        "--prestaged", type=int, default=0, help="events already staged (earlier days) first"
    )
    parser.add_argument(
        "--members",
        type=int,
        default=2,
        help="consumers in one group for rate_by_consumer (PostgreSQL staging; 0 skips)",
    )
    parser.add_argument("--bootstrap", help="a running broker (default: start Tansu)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    broker = nullcontext(args.bootstrap) if args.bootstrap else tansu_broker()
    needs_postgres = args.backend == "postgres" or args.members > 0
    database = scratch_database() if needs_postgres else nullcontext(None)
    with broker as bootstrap, database as dbname, tempfile.TemporaryDirectory() as tmp:
        conninfo = f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}"
        name = f"bench-{uuid.uuid4().hex[:8]}"
        settings = KafkaSettings(
            bootstrap_servers=bootstrap,
            topic=name,
            consumer_group=name,
            batch_max_events=50_000,
            session_timeout_ms=SESSION_TIMEOUT_MS,
        )
        target = (
            ("duckdb", str(Path(tmp) / "staging.duckdb"), "")
            if args.backend == "duckdb"
            else ("postgres", conninfo, "staging")
        )
        store = make_store(*target)
        prestage_seconds = prestage(store, args.backend, args.prestaged) if args.prestaged else 0.0
        bare_produce, bare_consume = bare_rates(settings, args.events)

        ensure_topic(settings, settings.topic, PARTITIONS)
        started = time.perf_counter()
        produce(synthetic_events(WORLD, count=args.events, as_of=AS_OF), settings)
        produce_seconds = time.perf_counter() - started
        store.ensure_tables()
        [single] = consume_in_processes(target, settings, 1, args.events, idle=3)
        rows = store.stream_stats().rows

        members: list[dict[str, float]] = []
        if args.members:
            # The same events again, on a topic of their own, into a fresh PostgreSQL schema.
            scaled = settings.model_copy(
                update={"topic": f"{name}-scale", "consumer_group": f"{name}-scale"}
            )
            ensure_topic(scaled, scaled.topic, SCALE_PARTITIONS)
            produce(synthetic_events(WORLD, count=args.events, as_of=AS_OF), scaled)
            scale_store = PostgresStagingStore(conninfo, schema="scale")
            scale_store.ensure_tables()
            members = consume_in_processes(
                ("postgres", conninfo, "scale"), scaled, args.members, None, idle=3
            )
            scale_rows = scale_store.stream_stats().rows

    staged_rate = single["staged"] / single["busy_seconds"]
    end_to_end = single["staged"] / (produce_seconds + single["busy_seconds"])
    rate_by_consumer: dict[str, object] = {}
    if members:
        rate_by_consumer = {
            **{
                f"consumer_{i + 1}": round(m["staged"] / m["busy_seconds"])
                for i, m in enumerate(members)
            },
            "together": round(combined_rate(members)),
            "staged_by_consumer": [int(m["staged"]) for m in members],
            "staged": scale_rows,
            "duplicates": int(sum(m["duplicates"] for m in members)),
            "exact": scale_rows == args.events and sum(m["staged"] for m in members) == args.events,
            "partitions": SCALE_PARTITIONS,
        }
    figures = {
        "events": args.events,
        "staged": int(rows) - args.prestaged,
        "duplicates": int(single["duplicates"]),
        "events_per_s": round(staged_rate),
        "end_to_end_per_s": round(end_to_end),
        "produce_per_s": round(args.events / produce_seconds),
        "bare_produce_per_s": round(bare_produce),
        "bare_consume_per_s": round(bare_consume),
        "ratio_to_bare_consume": round(staged_rate / bare_consume, 3),
        "peak_rss_mb": round(max(peak_rss_mb(), single["peak_rss_mb"]), 1),
        "consumer_peak_rss_mb": round(single["peak_rss_mb"], 1),
        "first_batch_seconds": round(single["first_batch_seconds"] or 0, 2),
        "prestaged": args.prestaged,
        "prestage_seconds": round(prestage_seconds, 1),
        "backend": args.backend,
        "goal_events_per_s": GOAL_EVENTS_PER_S,
        "goal_ratio": GOAL_RATIO,
        "rate_by_consumer": rate_by_consumer,
    }
    console = Console()
    table = Table(
        title=f"streaming: {args.events:,} events into {args.backend} staging"
        + (f" beside {args.prestaged:,} staged" if args.prestaged else "")
        + f" (goal: >= {GOAL_RATIO} of bare consume)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        if key != "rate_by_consumer":
            table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    rates = Table(title="rates beside the bare consume rate of the same run")
    rates.add_column("reader")
    rates.add_column("events/s", justify="right")
    rates.add_column("ratio to bare", justify="right")
    rows_of_rates = [("bare consume", bare_consume), (f"consumer → {args.backend}", staged_rate)]
    rows_of_rates += [
        (f"{key} → postgres ({SCALE_PARTITIONS} partitions)", float(value))
        for key, value in rate_by_consumer.items()
        if key.startswith("consumer_") or key == "together"
    ]
    for reader, rate in rows_of_rates:
        rates.add_row(reader, f"{rate:,.0f}", f"{rate / bare_consume:.2f}")
    console.print(rates)
    if members:
        verdict = "exact" if rate_by_consumer["exact"] else "NOT EXACT"
        console.print(
            f"{args.members} consumers staged {rate_by_consumer['staged_by_consumer']} = "
            f"{scale_rows:,} rows of {args.events:,} events, duplicates "
            f"{rate_by_consumer['duplicates']}: {verdict}"
        )
    write_json(args.json, "streaming", figures)


if __name__ == "__main__":
    main()
