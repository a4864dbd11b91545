"""Kafka plumbing shared by producer and consumer: client settings, reachability and topic
checks with one-line errors, and consumer lag against the offsets staged with the rows."""

from __future__ import annotations

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


class StreamingError(RuntimeError):
    """The broker or topic is not usable; the message says which and what to do."""


def client_config(settings: KafkaSettings, **extra: object) -> dict[str, object]:
    return {"bootstrap.servers": settings.bootstrap_servers, **extra}


def unreachable(settings: KafkaSettings, error: object) -> StreamingError:
    return StreamingError(
        f"cannot reach the Kafka broker at {settings.bootstrap_servers} "
        f"(KAFKA_BOOTSTRAP_SERVERS): {error}. Start it (docker compose up kafka) or point "
        "KAFKA_BOOTSTRAP_SERVERS at a running broker."
    )


def topic_partitions(client: object, settings: KafkaSettings, topic: str) -> list[int]:
    """The topic's partitions; StreamingError when the broker is unreachable or the topic
    does not exist. `client` is any confluent-kafka client with `list_topics`."""
    from confluent_kafka import KafkaError, KafkaException

    try:
        metadata = client.list_topics(topic, timeout=METADATA_TIMEOUT_SECONDS)  # type: ignore[attr-defined]
    except KafkaException as error:
        raise unreachable(settings, error.args[0].str()) from None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        code = found.error.code() if found is not None and found.error is not None else None
        if code not in (None, KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
            raise unreachable(settings, found.error.str())  # type: ignore[union-attr]
        raise StreamingError(
            f"topic {topic!r} does not exist on {settings.bootstrap_servers}: create it with "
            "`music-platform stream produce` (or your broker's tools), or set KAFKA_TOPIC to "
            "the events topic."
        )
    return sorted(found.partitions)


def ensure_topic(settings: KafkaSettings, topic: str, partitions: int) -> bool:
    """Create the topic if it does not exist; True when it was created."""
    from confluent_kafka import Consumer, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    # Metadata requests from an admin client make some brokers auto-create the topic with their
    # defaults; a consumer that may not auto-create sees whether it is really there.
    probe = Consumer(client_config(settings, **{"group.id": "music-platform-topic-probe"}))
    try:
        topic_partitions(probe, settings, topic)
        return False
    except StreamingError as error:
        if "does not exist" not in str(error):
            raise
    finally:
        probe.close()
    admin = AdminClient(client_config(settings))
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


def consumer_lag(settings: KafkaSettings, staged_offsets: dict[int, int]) -> dict[int, int]:
    """Events per partition on the broker that are not staged yet."""
    from confluent_kafka import Consumer

    consumer = Consumer(client_config(settings, **{"group.id": "music-platform-lag-probe"}))
    try:
        marks = high_watermarks(consumer, settings, settings.topic)
    finally:
        consumer.close()
    return {p: max(high - staged_offsets.get(p, 0), 0) for p, high in marks.items()}
