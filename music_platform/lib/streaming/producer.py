"""Publish listening events from the synthetic world to Kafka, keyed by user id, with every
delivery report checked and counted; and tell beforehand whether the staged catalogue knows the
world's tracks and users (a world of another seed would be rejected when its days are staged)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from music_platform.lib.events import EVENT_FIELDS, SCHEMA_VERSION, encode_events
from music_platform.lib.raw_files import raw_path
from music_platform.lib.schemas import TRACKS, USERS
from music_platform.lib.sources.staging_rows import SYNTHETIC_SOURCE
from music_platform.lib.staging.store import StagingStore
from music_platform.lib.streaming.kafka import StreamingError, client_config, unreachable
from music_platform.lib.synthetic import (
    SyntheticConfig,
    generate_catalogue,
    generate_listens,
    generate_users,
)
from music_platform.settings import KafkaSettings

_DEVICES = ["phone", "desktop", "web", "speaker", "car", "tv"]
_PLATFORMS = ["ios", "android", "macos", "windows", "linux", "web"]
_QUEUE_FULL_WAIT_SECONDS = 0.05
_FLUSH_TIMEOUT_SECONDS = 60.0
# Events generated (and encoded) at a time, so memory stays flat in --count.
_EVENTS_PER_FRAME = 100_000
# Ids of the world looked up in staging: a world of another seed shares none of them, one of
# the same seed all of them, so a small sample tells the two apart.
WORLD_SAMPLE_SIZE = 200
MIN_KNOWN_SHARE = 0.95


@dataclass
class ProduceReport:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    first_error: str = ""
    seconds: float = 0.0


def synthetic_events(
    config: SyntheticConfig, *, count: int, as_of: dt.date, now: dt.datetime | None = None
) -> Iterator[pl.DataFrame]:
    """`count` events of the synthetic world (the batch source's users and tracks), as frames of
    event fields. A day of the world's listening is replayed over the 24 hours before `now`;
    event ids come from the seed and that day, so the same seed and `now` send the same events
    again (and staging keeps them once: it deduplicates an event id within its day; with a
    later `now` an event may move into the next day and is staged there too). Past
    `_EVENTS_PER_FRAME`, further days back are generated and replayed over the same 24 hours."""
    now = now or dt.datetime.now(dt.UTC)
    catalogue = generate_catalogue(config)
    users = generate_users(config, as_of=as_of)
    premium = users.select(
        "user_id", (pl.col("user_id").hash(config.seed) % 3 == 0).alias("is_premium")
    )
    tracks = catalogue.tracks.join(
        catalogue.artists.select("artist_id", "artist_name"), on="artist_id", how="left"
    ).select("track_id", "track_name", "album_name", "genre", "artist_name", "duration_ms")
    day, produced = now.date(), 0
    while produced < count:
        # One generated day holds about `events_per_day` events; ask for what is still missing,
        # at most a frame's worth.
        wanted = dataclasses.replace(
            config, events_per_day=min(count - produced, _EVENTS_PER_FRAME)
        )
        listens = generate_listens(wanted, day, catalogue, users).head(wanted.events_per_day)
        shift = now - dt.timedelta(days=1) - dt.datetime.combine(day, dt.time(), dt.UTC)
        events = (
            listens.join(tracks, on="track_id", how="left", maintain_order="left")
            .join(premium, on="user_id", how="left", maintain_order="left")
            .with_row_index("n")
            .select(
                pl.format("s{}-{}-{}", pl.lit(config.seed), pl.lit(day.isoformat()), "n").alias(
                    "event_id"
                ),
                "user_id",
                "track_id",
                (pl.col("listened_at") + shift).alias("played_at"),
                pl.col("ms_played").cast(pl.Int64),
                pl.col("artist_name").alias("artist"),
                pl.col("track_name").alias("track"),
                pl.col("album_name").alias("album"),
                "genre",
                pl.format("{}-{}", "user_id", pl.col("listened_at").dt.strftime("%Y%m%d%H")).alias(
                    "session_id"
                ),
                pl.lit(0, pl.Int64).alias("position_ms"),
                pl.when(pl.col("ms_played") < pl.col("duration_ms"))
                .then(pl.lit("skip"))
                .otherwise(pl.lit("play"))
                .alias("action"),
                _choice(_DEVICES, "n").alias("device"),
                _choice(_PLATFORMS, "user_id").alias("platform"),
                "is_premium",
                pl.lit(SCHEMA_VERSION, pl.Int64).alias("schema_version"),
            )
            .select(list(EVENT_FIELDS))
        )
        produced += events.height
        yield events
        day -= dt.timedelta(days=1)


@dataclass(frozen=True)
class WorldFit:
    """How much of a synthetic world the staged catalogue knows, from a sample of its ids."""

    tracks_sampled: int
    tracks_known: int
    users_sampled: int
    users_known: int
    catalogue_staged: bool

    @property
    def matches(self) -> bool:
        return (
            self.tracks_known >= MIN_KNOWN_SHARE * self.tracks_sampled
            and self.users_known >= MIN_KNOWN_SHARE * self.users_sampled
        )


def world_fit(events: pl.DataFrame, store: StagingStore) -> WorldFit:
    """Look a sample of the track and user ids `events` use up in the staged catalogue."""
    store.ensure_tables()
    tracks = _sample(events["track_id"].unique())
    users = _sample(events["user_id"].unique())
    staged_tracks = store.keys(TRACKS, "track_id")
    return WorldFit(
        tracks_sampled=tracks.len(),
        tracks_known=int(tracks.is_in(staged_tracks.implode()).sum()),
        users_sampled=users.len(),
        users_known=int(users.is_in(store.keys(USERS, "user_id").implode()).sum()),
        catalogue_staged=staged_tracks.len() > 0,
    )


def _sample(ids: pl.Series) -> pl.Series:
    return ids.sort().sample(min(WORLD_SAMPLE_SIZE, ids.len()), seed=0)


def recorded_catalogue(raw_dir: Path) -> dict[str, object] | None:
    """What the landed synthetic catalogue was generated with (seed, artists, tracks), as its
    raw file records it; None when there is none (never landed, or from the real providers)."""
    path = raw_path(raw_dir, SYNTHETIC_SOURCE, TRACKS.name)
    if not path.exists() or "_request" not in pl.read_parquet_schema(path):
        return None
    request = pl.read_parquet(path, columns=["_request"], n_rows=1)["_request"]
    if request.is_empty() or request[0] is None:
        return None
    return json.loads(request[0])


def _choice(values: list[str], by: str) -> pl.Expr:
    return pl.lit(pl.Series(values)).gather(pl.col(by).hash(7) % len(values))


def produce(
    frames: Iterator[pl.DataFrame],
    settings: KafkaSettings,
    *,
    topic: str | None = None,
    rate: float | None = None,
    on_progress: Callable[[ProduceReport], None] | None = None,
) -> ProduceReport:
    """Send each event as its JSON object keyed by user id; at most `rate` events a second.
    Raises StreamingError when the broker cannot be reached or a delivery fails."""
    from confluent_kafka import KafkaException, Producer

    topic = topic or settings.topic
    report = ProduceReport()
    started = time.perf_counter()

    def delivered(error: object, _message: object) -> None:
        if error is None:
            report.delivered += 1
        else:
            report.failed += 1
            report.first_error = report.first_error or str(error)

    producer = Producer(
        client_config(
            settings,
            **{
                "linger.ms": 20,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 500_000,
                "message.timeout.ms": 30_000,
            },
        )
    )
    try:
        producer.list_topics(timeout=5)
    except KafkaException as error:
        raise unreachable(settings, error.args[0].str()) from None
    last_progress = 0.0
    for frame in frames:
        values = encode_events(frame).to_list()
        for key, value in zip(frame["user_id"].to_list(), values, strict=True):
            while True:
                try:
                    producer.produce(topic, value=value, key=key, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(_QUEUE_FULL_WAIT_SECONDS)
            report.sent += 1
            if rate and report.sent > rate * (time.perf_counter() - started):
                time.sleep(1 / rate)
            if report.sent % 1000 == 0:
                producer.poll(0)
                now = time.perf_counter()
                if on_progress and now - last_progress >= 0.5:
                    report.seconds, last_progress = now - started, now
                    on_progress(report)
            if report.failed:
                break
    remaining = producer.flush(_FLUSH_TIMEOUT_SECONDS)
    report.seconds = time.perf_counter() - started
    if on_progress:
        on_progress(report)
    if report.failed or remaining:
        raise StreamingError(
            f"{report.failed + remaining} of {report.sent} events were not delivered to "
            f"{topic!r} at {settings.bootstrap_servers}: {report.first_error or 'timed out'}; "
            "rerun with the same --seed to send them again (staging keeps each event once)."
        )
    return report
