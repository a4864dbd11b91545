"""Consume listening events from Kafka into staging, exactly once.

Each batch (bounded in events and age) is validated against the event schema; valid events,
rejects and the partitions' next offsets are written in one staging transaction
(`StagingStore.write_events`, see lib/staging/streamed.py).
On every assignment the consumer seeks to the offsets stored there, not Kafka's committed ones,
so a consumer killed at any point resumes exactly after the last committed batch. Offsets are
also committed to Kafka after the database commit, for tools that watch group lag.

An invalid event (malformed JSON, unknown schema_version, a missing or bad field) goes to the
dead-letter topic with its reason in a header, and to the rejects table with its offset; its
offset advances like any other, so a poison message never blocks its partition. The
dead-letter topic is written before the batch commits: it may hold a copy twice after a crash,
the rejects table never does.

Batches are decoded and staged by one writer thread while the next batch is read from Kafka;
at most one is in flight, so they commit in order and memory stays two batches.

The staging connection stays open across batches, but for at most `HOLD_SECONDS` at a stretch
and never while the topic is idle: DuckDB lets one process at a time open its file, and the
Dagster sensor and assets read the same file. Released after a commit once the stretch is up,
the file is free while the next batch is read from Kafka and decoded (most of a batch's time),
and a reader, which retries a locked file every 0.2 s, gets in within a few seconds even under
a steady stream. PostgreSQL needs no such care; the same rule keeps one code path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from music_platform.lib.events import LISTEN_EVENTS, decode_events, events_frame
from music_platform.lib.schemas import rejects_columns
from music_platform.lib.staging.store import StagingStore
from music_platform.lib.staging.streamed import EventBatch, EventsWritten
from music_platform.lib.streaming.kafka import (
    StreamingError,
    client_config,
    group_settings,
    topic_partitions,
    unreachable,
)
from music_platform.settings import KafkaSettings

if TYPE_CHECKING:
    import polars as pl
    from confluent_kafka import Consumer, Message, Producer, TopicPartition

FaultSeam = Callable[[str], None]
"""Called with a point's name around every batch (tests): see `EventConsumer`."""

_POLL_SECONDS = 0.2
_MAX_MESSAGES_PER_POLL = 10_000
HOLD_SECONDS = 5.0
"""The longest the staging connection (for DuckDB, its file) stays held across batches."""


@dataclass
class ConsumeReport:
    received: int = 0
    staged: int = 0
    duplicates: int = 0
    rejected: int = 0
    late: int = 0
    batches: int = 0
    seconds: float = 0.0
    # From the poll that returned the first event to the last batch's commit: the time spent
    # consuming, without the group join before it or the idle wait after it.
    busy_seconds: float = 0.0
    # From the start of `run` (connections, topic check, group join) to the first commit.
    first_batch_seconds: float | None = None
    assigned: list[int] = field(default_factory=list)


@dataclass
class _Buffer:
    """Messages read since the last batch; they are decoded together when it is written."""

    messages: list[Message] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    started: float = 0.0

    def __len__(self) -> int:
        return len(self.messages)


class EventConsumer:
    """One member of a consumer group landing the events topic into a staging store.

    `fault` is a seam for tests: called with "before-write", "rows-written" (inside the
    transaction, before the offsets) and "after-commit" around every batch.
    """

    def __init__(
        self,
        store: StagingStore,
        settings: KafkaSettings,
        *,
        group: str | None = None,
        topic: str | None = None,
        fault: FaultSeam | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.group = group or settings.consumer_group
        self.topic = topic or settings.topic
        self._fault = fault
        self.report = ConsumeReport()
        self._buffer = _Buffer()
        self._consumer: Consumer | None = None
        self._dead_letters: Producer | None = None
        self._started = self._first_poll = 0.0
        self._last_commit = 0.0
        self._held = contextlib.ExitStack()
        self._held_since: float | None = None
        # One writer thread decodes and stages a batch while the next is read from Kafka; at
        # most one batch is in flight, so batches commit in order and memory stays bounded.
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[tuple[EventBatch, EventsWritten]] | None = None
        self._in_flight = 0
        self._on_batch: Callable[[ConsumeReport], None] | None = None

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        idle_seconds: float | None = None,
        max_events: int | None = None,
        on_batch: Callable[[ConsumeReport], None] | None = None,
    ) -> ConsumeReport:
        """Consume until `stop` is set, `max_events` were received, or nothing arrived for
        `idle_seconds` (counted once partitions are assigned)."""
        from confluent_kafka import Consumer, Producer

        stop = stop or threading.Event()
        self._on_batch = on_batch
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="staging-writer")
        consumer = Consumer(
            client_config(
                self.settings,
                **{
                    "group.id": self.group,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "enable.partition.eof": False,
                    # librdkafka prefetches up to 64 MB by default: a few batches are enough.
                    "queued.max.messages.kbytes": 16_384,
                    **group_settings(self.settings),
                },
            )
        )
        self._consumer = consumer
        self._dead_letters = Producer(client_config(self.settings, **{"linger.ms": 5}))
        started = last_message = self._started = time.perf_counter()
        try:
            topic_partitions(consumer, self.settings, self.topic)
            self.store.ensure_tables()
            consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
            while not stop.is_set():
                # Never read past the batch bound: batches (and memory) stay that size.
                limit = min(
                    _MAX_MESSAGES_PER_POLL, self.settings.batch_max_events - len(self._buffer)
                )
                if max_events is not None:
                    limit = min(limit, max(max_events - self._read(), 1))
                polled = time.perf_counter()
                messages = consumer.consume(num_messages=limit, timeout=_POLL_SECONDS)
                now = time.perf_counter()
                if messages:
                    self._first_poll = self._first_poll or polled
                    last_message = now
                    self._take(messages)
                elif not self._buffer:
                    self._idle()
                if self._buffer and (
                    # The first batch goes with the first poll's events: a consumer (re)started
                    # stages something within its group join, not a batch age later.
                    (not self.report.batches and self._pending is None)
                    or len(self._buffer) >= self.settings.batch_max_events
                    or now - self._buffer.started >= self.settings.batch_max_seconds
                    or (max_events is not None and self._read() >= max_events)
                ):
                    self._flush()
                if max_events is not None and self._read() >= max_events:
                    break
                if not self.report.assigned:
                    last_message = now
                elif idle_seconds is not None and now - last_message >= idle_seconds:
                    break
            self._flush()
            self._wait()
        finally:
            # Closing revokes the partitions: nothing more is handed to the writer then.
            writer, self._writer, self._pending = self._writer, None, None
            writer.submit(self._release).result()
            writer.shutdown()
            consumer.close()
            self._dead_letters.flush(10)
            self.report.seconds = time.perf_counter() - started
            if self._first_poll and self._last_commit:
                self.report.busy_seconds = self._last_commit - self._first_poll
        return self.report

    def _take(self, messages: list[Message]) -> None:
        from confluent_kafka import KafkaError

        buffer = self._buffer
        if not buffer:
            buffer.started = time.perf_counter()
        # One pass per message, as few calls as it takes: this loop runs beside Kafka's own.
        good = [message for message in messages if message.error() is None]
        if len(good) < len(messages):
            for message in messages:
                error = message.error()
                if error is None or error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
                    raise unreachable(self.settings, error.str())
                raise StreamingError(f"consuming {self.topic!r} failed: {error.str()}")
        buffer.messages.extend(good)
        # A partition's last message in the poll sets its next offset; they come in runs per
        # partition, so the walk back stops once every assigned partition was seen.
        latest: dict[tuple[str, int], int] = {}
        partitions = len(self.report.assigned) or None
        for message in reversed(good):
            key = (message.topic(), message.partition())
            if key not in latest:
                latest[key] = message.offset() + 1
                if len(latest) == partitions:
                    break
        buffer.next_offsets.update(latest)

    def _read(self) -> int:
        """Events read so far: staged, in flight and buffered."""
        return self.report.received + self._in_flight + len(self._buffer)

    def _flush(self) -> None:
        """Hand the buffer to the writer thread, once the batch before it is staged."""
        buffer = self._buffer
        if not buffer.next_offsets or self._writer is None:
            return
        self._wait()
        self._buffer = _Buffer()
        self._in_flight = len(buffer)
        self._pending = self._writer.submit(self._write, buffer)

    def _wait(self) -> None:
        """Wait for the batch in flight (raising what its write raised) and account for it."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        self._in_flight = 0
        batch, written = pending.result()
        self._commit_to_kafka(batch.offsets)
        report = self.report
        report.received += batch.received
        report.staged += written.staged
        report.duplicates += written.duplicates
        report.rejected += written.rejected
        report.late += written.late
        report.batches += 1
        if report.first_batch_seconds is None:
            report.first_batch_seconds = self._last_commit - self._started
        if self._on_batch is not None:
            self._on_batch(report)

    def _idle(self) -> None:
        """Nothing arrived: let the sensor and assets at the staging file."""
        self._wait()
        if self._held_since is not None and self._writer is not None:
            self._writer.submit(self._release).result()

    def _write(self, buffer: _Buffer) -> tuple[EventBatch, EventsWritten]:
        """Decode and stage one batch (in the writer thread)."""
        self._seam("before-write")
        messages = buffer.messages
        decoded, invalid = decode_events([message.value() for message in messages])
        dead = [(messages[row], reason) for row, reason in invalid]
        self._dead_letter(dead)
        valid = [messages[row] for row in decoded["row"].to_list()]
        events = events_frame(
            decoded.drop("row"),
            partitions=[message.partition() for message in valid],
            offsets=[message.offset() for message in valid],
        )
        batch_id = str(uuid.uuid4())
        batch = EventBatch(
            events=events,
            rejects=_rejects_frame(
                [(_position(message), reason, _text(message)) for message, reason in dead],
                batch_id=batch_id,
            ),
            source=f"kafka:{self.topic}",
            offsets=dict(buffer.next_offsets),
            group=self.group,
            batch_id=batch_id,
        )
        self._hold()
        written = self.store.write_events(batch, rows_written=lambda: self._seam("rows-written"))
        self._last_commit = time.perf_counter()
        if self._held_since is not None and self._last_commit - self._held_since >= HOLD_SECONDS:
            self._release()
        self._seam("after-commit")
        return batch, written

    def _hold(self) -> None:
        if self._held_since is None:
            self._held.enter_context(self.store.held_connection())
            self._held_since = time.perf_counter()

    def _release(self) -> None:
        if self._held_since is not None:
            self._held_since = None
            self._held.close()

    def _dead_letter(self, dead: list[tuple[Message, str]]) -> None:
        if not dead or self._dead_letters is None:
            return
        for message, reason in dead:
            self._dead_letters.produce(
                self.settings.dead_letter_topic,
                value=message.value(),
                key=message.key(),
                headers={
                    "reason": reason.encode(),
                    "source": _position(message).encode(),
                },
            )
        if self._dead_letters.flush(10):
            raise StreamingError(
                f"could not write {len(dead)} invalid events to the dead-letter topic "
                f"{self.settings.dead_letter_topic!r}; nothing of this batch was staged"
            )

    def _commit_to_kafka(self, offsets: dict[tuple[str, int], int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        if self._consumer is None:
            return
        # Informational only: staging holds the offsets that count.
        with contextlib.suppress(KafkaException):
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=True,
            )

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        from confluent_kafka import OFFSET_BEGINNING

        stored = self.store.consumer_offsets(self.group, self.topic)
        for partition in partitions:
            partition.offset = stored.get(partition.partition, OFFSET_BEGINNING)
        self.report.assigned = sorted(p.partition for p in partitions)
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Stage what was read before the partitions move, so the next owner starts after it.
        self._flush()
        self._wait()
        self.report.assigned = []
        consumer.unassign()

    def _seam(self, point: str) -> None:
        if self._fault is not None:
            self._fault(point)


def _rejects_frame(records: list[tuple[str, str, str]], *, batch_id: str) -> pl.DataFrame:
    """Rejects rows of listen_events from (record key, reason, original record)."""
    import polars as pl

    now = dt.datetime.now(dt.UTC)
    return pl.DataFrame(
        {
            "table_name": [LISTEN_EVENTS.name] * len(records),
            "partition_key": [""] * len(records),
            "record_key": [key for key, _, _ in records],
            "reason": [reason for _, reason, _ in records],
            "record": [record for _, _, record in records],
            "batch_id": [batch_id] * len(records),
            "rejected_at": [now] * len(records),
        },
        schema=rejects_columns(),
    )


def _position(message: Message) -> str:
    return f"{message.topic()}/{message.partition()}/{message.offset()}"


def _text(message: Message) -> str:
    """The message value as the rejects table keeps it."""
    return (message.value() or b"").decode("utf-8", errors="replace")
