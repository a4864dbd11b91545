"""Streaming rate: events from produce to staged rows, beside the broker's bare produce and
consume rate measured in the same run.

Bare baselines: a bare confluent-kafka Producer sending pre-encoded event JSON (no generation,
no delivery accounting), and a bare Consumer reading them back from an assigned partition set
(no group, no decoding). The pipeline: `stream produce`'s code (synthetic events, JSON encoding,
delivery reports), then `stream consume`'s (schema validation, dedupe on event_id, rows and
offsets committed together) into staging. `events_per_s` is staged events per second of
consuming, from the poll that returned the first event to the last batch's commit (no group join,
no idle wait), compared with the bare consume rate timed the same way; `end_to_end_per_s` adds
the produce time. Peak RSS is the whole process's, bare runs included. A memory-only Tansu
broker is started on loopback unless --bootstrap names one.

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
from pathlib import Path

from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib.events import encode_events
from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore, StagingStore
from music_platform.lib.streaming.consumer import EventConsumer
from music_platform.lib.streaming.kafka import FAST_GROUP_SETTINGS, ensure_topic
from music_platform.lib.streaming.producer import produce, synthetic_events
from music_platform.lib.synthetic import SyntheticConfig
from music_platform.settings import KafkaSettings
from music_platform_tests.support.platform_env import scratch_database
from music_platform_tests.support.tansu import tansu_broker

PARTITIONS = 3
GOAL_EVENTS_PER_S = 50_000
GOAL_RATIO = 0.5
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

    consumer = Consumer(
        {"bootstrap.servers": settings.bootstrap_servers, "group.id": topic, **FAST_GROUP_SETTINGS}
    )
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


def pipeline(settings: KafkaSettings, store: StagingStore, events: int) -> dict[str, float]:
    ensure_topic(settings, settings.topic, PARTITIONS)
    started = time.perf_counter()
    produce(synthetic_events(WORLD, count=events, as_of=AS_OF), settings)
    produce_seconds = time.perf_counter() - started
    store.ensure_tables()
    report = EventConsumer(store, settings).run(idle_seconds=3, max_events=events)
    return {
        "staged": report.staged,
        "duplicates": report.duplicates,
        "rows": store.stream_stats().rows,
        "produce_seconds": produce_seconds,
        "consume_seconds": report.busy_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["duckdb", "postgres"], default="duckdb")
    parser.add_argument("--bootstrap", help="a running broker (default: start Tansu)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    broker = nullcontext(args.bootstrap) if args.bootstrap else tansu_broker()
    database = scratch_database() if args.backend == "postgres" else nullcontext(None)
    with broker as bootstrap, database as dbname, tempfile.TemporaryDirectory() as tmp:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        settings = KafkaSettings(
            bootstrap_servers=bootstrap, topic=name, consumer_group=name, batch_max_events=50_000
        )
        store = (
            DuckDBStagingStore(Path(tmp) / "staging.duckdb")
            if dbname is None
            else PostgresStagingStore(f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}")
        )
        bare_produce, bare_consume = bare_rates(settings, args.events)
        measured = pipeline(settings, store, args.events)

    staged_rate = measured["staged"] / measured["consume_seconds"]
    end_to_end = measured["staged"] / (measured["produce_seconds"] + measured["consume_seconds"])
    figures = {
        "events": args.events,
        "staged": int(measured["rows"]),
        "duplicates": int(measured["duplicates"]),
        "events_per_s": round(staged_rate),
        "end_to_end_per_s": round(end_to_end),
        "produce_per_s": round(args.events / measured["produce_seconds"]),
        "bare_produce_per_s": round(bare_produce),
        "bare_consume_per_s": round(bare_consume),
        "ratio_to_bare_consume": round(staged_rate / bare_consume, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "backend": args.backend,
        "goal_events_per_s": GOAL_EVENTS_PER_S,
        "goal_ratio": GOAL_RATIO,
    }
    table = Table(
        title=f"streaming: {args.events:,} events into {args.backend} staging "
        f"(goal: >= {GOAL_EVENTS_PER_S:,}/s and >= {GOAL_RATIO} of bare consume)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    Console().print(table)
    write_json(args.json, "streaming", figures)


if __name__ == "__main__":
    main()
