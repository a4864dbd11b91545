"""Kafka plumbing shared by producer and consumer: client settings, reachability and topic
checks with one-line errors that tell a missing broker from a missing topic, and consumer lag
against the offsets staged with the rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from music_platform.settings import KafkaSettings

if TYPE_CHECKING:
    from confluent_kafka import Consumer


def group_settings(settings: KafkaSettings) -> dict[str, object]:
    """A consumer's group timing: group joins take ~23 s with librdkafka's defaults against a
    small broker (45 s session); KAFKA_SESSION_TIMEOUT_MS of 6 s makes it ~3 s, 1 s ~1 s."""
    return {
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": max(settings.session_timeout_ms // 12, 100),
    }


METADATA_TIMEOUT_SECONDS = 5.0
# Probes (topic checks, lag) raise what they found as one line; librdkafka's own log of every
# failed connection attempt (about 20 lines a second without a broker) would bury it.
_PROBE_LOG = logging.getLogger("music_platform.streaming.probe")
_PROBE_LOG.addHandler(logging.NullHandler())
_PROBE_LOG.propagate = False


class StreamingError(RuntimeError):
    """The broker or topic is not usable; the message says which and what to do."""


class BrokerUnreachableError(StreamingError):
    """No broker answers at the bootstrap address."""


class TopicMissingError(StreamingError):
    """The broker answers, but the topic does not exist on it."""


def client_config(settings: KafkaSettings, **extra: object) -> dict[str, object]:
    return {"bootstrap.servers": settings.bootstrap_servers, **extra}


def probe_config(settings: KafkaSettings, **extra: object) -> dict[str, object]:
    """Settings of a short-lived client that only asks the broker something."""
    return client_config(settings, logger=_PROBE_LOG, **extra)


def unreachable(settings: KafkaSettings, error: object) -> BrokerUnreachableError:
    return BrokerUnreachableError(
        f"no Kafka broker at {settings.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS): {error}. "
        "Start it (docker compose up kafka) or point KAFKA_BOOTSTRAP_SERVERS at a running "
        "broker."
    )


def topic_partitions(client: object, settings: KafkaSettings, topic: str) -> list[int]:
    """The topic's partitions; BrokerUnreachableError when no broker answers, TopicMissingError
    when one does but has no such topic. `client` is any confluent-kafka client with
    `list_topics`."""
    from confluent_kafka import KafkaError, KafkaException

    try:
        metadata = client.list_topics(topic, timeout=METADATA_TIMEOUT_SECONDS)  # type: ignore[attr-defined]
    except KafkaException as error:
        raise unreachable(settings, error.args[0].str()) from None
    # Metadata came back, so a broker is up: whatever follows is about the topic.
    found = metadata.topics.get(topic)
    error = found.error if found is not None else None
    if found is None or (
        error is not None
        and error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)
    ):
        raise TopicMissingError(
            f"the Kafka broker at {settings.bootstrap_servers} is up, but topic {topic!r} does "
            "not exist on it: create it with `music-platform stream produce` (or your broker's "
            "tools), or set KAFKA_TOPIC to the events topic."
        )
    if error is not None:
        raise StreamingError(
            f"the Kafka broker at {settings.bootstrap_servers} is up, but topic {topic!r} is not "
            f"usable: {error.str()}"
        )
    return sorted(found.partitions)


def ensure_topic(settings: KafkaSettings, topic: str, partitions: int) -> bool:
    """Create the topic if it does not exist; True when it was created."""
    from confluent_kafka import Consumer, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    # Metadata requests from an admin client make some brokers auto-create the topic with their
    # defaults; a consumer that may not auto-create sees whether it is really there.
    probe = Consumer(probe_config(settings, **{"group.id": "music-platform-topic-probe"}))
    try:
        topic_partitions(probe, settings, topic)
        return False
    except TopicMissingError:
        pass
    finally:
        probe.close()
    admin = AdminClient(probe_config(settings))
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions)])
    try:
        futures[topic].result(timeout=METADATA_TIMEOUT_SECONDS * 2)
    except KafkaException as error:
        raise StreamingError(f"cannot create topic {topic!r}: {error.args[0].str()}") from None
    return True


def high_watermarks(consumer: Consumer, settings: KafkaSettings, topic: str) -> dict[int, int]:
    """partition -> the offset the next produced event will get."""
    from confluent_kafka import KafkaException, TopicPartition

    marks = {}
    for partition in topic_partitions(consumer, settings, topic):
        try:
            _, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=METADATA_TIMEOUT_SECONDS
            )
        except KafkaException as error:
            raise unreachable(settings, error.args[0].str()) from None
        marks[partition] = int(high)
    return marks


@dataclass(frozen=True)
class StreamPosition:
    """Where the staged stream stands against the broker: per partition, the broker's end
    offset (high watermark) and the offset staged with the rows."""

    end_offsets: dict[int, int] = field(default_factory=dict)
    staged_offsets: dict[int, int] = field(default_factory=dict)

    @property
    def lag(self) -> dict[int, int]:
        """Events per partition on the broker that are not staged yet."""
        # Never negative: some brokers (Tansu) report watermarks below offsets already read.
        return {
            p: max(end - self.staged_offsets.get(p, 0), 0) for p, end in self.end_offsets.items()
        }


def stream_position(settings: KafkaSettings, staged_offsets: dict[int, int]) -> StreamPosition:
    """The topic's end offsets beside the staged ones; BrokerUnreachableError or
    TopicMissingError (both StreamingError) when they cannot be read."""
    from confluent_kafka import Consumer

    consumer = Consumer(probe_config(settings, **{"group.id": "music-platform-lag-probe"}))
    try:
        marks = high_watermarks(consumer, settings, settings.topic)
    finally:
        consumer.close()
    return StreamPosition(end_offsets=marks, staged_offsets=dict(staged_offsets))
