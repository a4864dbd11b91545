"""Events through a real broker into real DuckDB and PostgreSQL staging: exact counts, reruns,
poison messages, late events, a rebalance between two consumers, two consumers sharing a wider
topic, and one-line errors that tell a missing broker from a missing topic. The first two and the
topic error run against both brokers (Tansu and noida-db); the rest against Tansu."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import polars as pl
import pytest
from confluent_kafka import Consumer, Producer

from music_platform.lib.events import LISTEN_EVENTS
from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore
from music_platform.lib.streaming.consumer import ConsumeReport, EventConsumer
from music_platform.lib.streaming.kafka import (
    BrokerUnreachableError,
    TopicMissingError,
    ensure_topic,
    stream_position,
)
from music_platform.lib.streaming.producer import produce, synthetic_events
from music_platform.lib.synthetic import SyntheticConfig
from music_platform.settings import KafkaSettings
from music_platform_tests.lib.streaming.conftest import BROKERS
from music_platform_tests.support.loopback import free_port

WORLD = SyntheticConfig(seed=7, users=60, artists=40, tracks=400)
AS_OF = dt.date(2024, 1, 1)
IDLE = 2.0
# Events are replayed over the 24 hours before `now`: one `now` for the session makes a resend
# the same events byte for byte (an event is identified by its id within its day).
NOW = dt.datetime.now(dt.UTC)
Store = DuckDBStagingStore | PostgresStagingStore


def produce_synthetic(kafka: KafkaSettings, count: int, seed: int = 7) -> None:
    config = SyntheticConfig(seed=seed, users=60, artists=40, tracks=400)
    produce(synthetic_events(config, count=count, as_of=AS_OF, now=NOW), kafka)


def send_raw(kafka: KafkaSettings, values: list[bytes], key: bytes = b"u1") -> None:
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for value in values:
        producer.produce(kafka.topic, value=value, key=key)
    assert producer.flush(10) == 0


def event(event_id: str, played_at: str, **fields: object) -> bytes:
    body = {
        "event_id": event_id,
        "user_id": "u1",
        "track_id": "t1",
        "played_at": played_at,
        "ms_played": 1000,
        **fields,
    }
    return json.dumps(body).encode()


def consume(store: Store, kafka: KafkaSettings, **options: object):
    return EventConsumer(store, kafka, **options).run(idle_seconds=IDLE)


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_produce_then_consume_stages_exactly_n_and_a_rerun_adds_nothing(
    store: Store, kafka: KafkaSettings
) -> None:
    produce_synthetic(kafka, 3_000)
    first = consume(store, kafka)
    assert (first.received, first.staged, first.duplicates) == (3_000, 3_000, 0)
    assert store.stream_stats().rows == 3_000
    assert sum(store.consumer_offsets(kafka.consumer_group, kafka.topic).values()) == 3_000

    # The same seed on the same day sends the same events again: staged once.
    produce_synthetic(kafka, 3_000)
    second = consume(store, kafka)
    assert (second.received, second.staged, second.duplicates) == (3_000, 0, 3_000)
    stats = store.stream_stats()
    assert stats.rows == 3_000
    assert stats.duplicates == 3_000

    # A new group replays the topic from the start: still nothing doubles.
    replay = consume(store, kafka, group=f"{kafka.consumer_group}-replay")
    assert (replay.received, replay.staged) == (6_000, 0)
    assert store.stream_stats().rows == 3_000


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_poison_messages_are_dead_lettered_with_reasons_and_never_block(
    store: Store, kafka: KafkaSettings
) -> None:
    send_raw(
        kafka,
        [
            event("ok-1", "2026-11-30T10:00:00Z"),
            b"{not json",
            event("v9", "2026-11-30T10:00:00Z", schema_version=9),
            json.dumps({"event_id": "no-user", "track_id": "t", "ms_played": 1}).encode(),
            event("naive", "2026-11-30T10:00:00"),
            event("ok-2", "2026-11-30T11:00:00+01:00"),
        ],
    )
    report = consume(store, kafka)
    assert (report.staged, report.rejected) == (2, 4)

    rejects = store.rejects(LISTEN_EVENTS.name)
    reasons = " | ".join(rejects["reason"].to_list())
    assert rejects.height == 4
    assert "malformed JSON" in reasons
    assert "schema_version 9 is not supported" in reasons
    assert "user_id: missing" in reasons
    assert "played_at: Input should have timezone info" in reasons
    assert set(rejects["record_key"].str.split("/").list.first()) == {kafka.topic}

    dead = read_topic(kafka, kafka.dead_letter_topic, expected=4)
    assert sorted(dict(m.headers())["reason"].decode()[:9] for m in dead)[0] == "malformed"
    assert {m.value() for m in dead} >= {b"{not json"}


def read_topic(kafka: KafkaSettings, topic: str, expected: int) -> list:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": f"reader-{topic}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        }
    )
    consumer.subscribe([topic])
    messages: list = []
    deadline = time.monotonic() + 30
    while len(messages) < expected and time.monotonic() < deadline:
        messages += [m for m in consumer.consume(100, timeout=0.5) if m.error() is None]
    consumer.close()
    return messages


def test_late_and_out_of_order_events_land_in_their_own_day(
    store: Store, kafka: KafkaSettings
) -> None:
    send_raw(
        kafka,
        [
            event("today", "2026-12-03T08:00:00Z"),
            event("two-days-late", "2026-12-01T23:59:59.999+00:00"),
            event("yesterday-by-offset", "2026-12-03T00:30:00+02:00"),  # 2026-12-02 in UTC
            event("duplicate", "2026-12-02T12:00:00Z"),
            event("duplicate", "2026-12-02T12:00:00Z"),
        ],
    )
    report = consume(store, kafka)
    assert (report.staged, report.duplicates) == (4, 1)
    assert store.stream_stats().rows_by_day == {"2026-12-01": 1, "2026-12-02": 2, "2026-12-03": 1}
    late_day = pl.from_arrow(store.read(LISTEN_EVENTS, [dt.date(2026, 12, 1).isoformat()]))
    assert late_day["event_id"].to_list() == ["two-days-late"]


def test_two_consumers_share_the_partitions_through_a_rebalance(
    store: Store, kafka: KafkaSettings
) -> None:
    produce_synthetic(kafka, 2_000, seed=1)
    stop = threading.Event()
    # The first member is slowed after each batch so the rebalance finds it mid-stream.
    first = EventConsumer(
        store, kafka, fault=lambda point: point == "after-commit" and time.sleep(0.2)
    )
    second = EventConsumer(store, kafka)
    threads = [threading.Thread(target=lambda c=c: c.run(stop=stop)) for c in (first, second)]
    threads[0].start()
    wait_for(lambda: first.report.received >= 500)
    threads[1].start()
    wait_for(lambda: bool(second.report.assigned))
    produce_synthetic(kafka, 2_000, seed=2)
    wait_for(lambda: store.stream_stats().rows >= 4_000)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert store.stream_stats().rows == 4_000
    assert first.report.staged + second.report.staged == 4_000
    assert first.report.duplicates + second.report.duplicates == 0
    assert first.report.staged > 0 and second.report.staged > 0
    assert sum(store.consumer_offsets(kafka.consumer_group, kafka.topic).values()) == 4_000


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_a_missing_topic_on_a_running_broker_is_named_as_such(
    store: Store, kafka: KafkaSettings
) -> None:
    with pytest.raises(TopicMissingError) as raised:
        EventConsumer(store, kafka, topic="nowhere").run(idle_seconds=1)
    message = str(raised.value)
    assert f"the Kafka broker at {kafka.bootstrap_servers} is up" in message
    assert "topic 'nowhere' does not exist" in message
    assert "\n" not in message
    missing = kafka.model_copy(update={"topic": "nowhere"})
    with pytest.raises(TopicMissingError, match="topic 'nowhere' does not exist"):
        stream_position(missing, {})


@pytest.mark.parametrize("store", ["duckdb"], indirect=True)
def test_no_broker_at_the_address_is_named_as_such(store: Store) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = KafkaSettings(bootstrap_servers=address)
    with pytest.raises(BrokerUnreachableError, match=f"no Kafka broker at {address}") as raised:
        EventConsumer(store, settings).run(idle_seconds=1)
    assert "KAFKA_BOOTSTRAP_SERVERS" in str(raised.value)
    assert "topic" not in str(raised.value)
    assert "\n" not in str(raised.value)
    with pytest.raises(BrokerUnreachableError, match=f"no Kafka broker at {address}"):
        produce(synthetic_events(WORLD, count=10, as_of=AS_OF), settings)


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_two_consumers_on_four_partitions_stage_each_event_exactly_once(
    store: Store, kafka: KafkaSettings
) -> None:
    topic = kafka.model_copy(update={"topic": f"{kafka.topic}-wide"})
    ensure_topic(topic, topic.topic, 4)
    produce_synthetic(topic, 3_000, seed=3)
    members = [EventConsumer(store, topic) for _ in range(2)]
    reports: list[ConsumeReport] = []

    threads = [
        threading.Thread(target=lambda m=member: reports.append(m.run(idle_seconds=IDLE)))
        for member in members
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(reports) == 2
    assert sum(report.staged for report in reports) == 3_000
    assert sum(report.duplicates for report in reports) == 0
    rows = store.read(LISTEN_EVENTS)
    assert rows.num_rows == 3_000
    assert len(set(rows.column("event_id").to_pylist())) == 3_000
    offsets = store.consumer_offsets(topic.consumer_group, topic.topic)
    assert sorted(offsets) == [0, 1, 2, 3]
    assert sum(offsets.values()) == 3_000
