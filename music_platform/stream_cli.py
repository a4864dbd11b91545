"""`music-platform stream produce|consume`: listening events through Kafka into staging.
Registered in cli.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import threading
from typing import Annotated

import typer
from rich.console import Console

from music_platform.lib.processes import STOP_SIGNALS
from music_platform.settings import Settings, SettingsError, get_settings

console = Console(stderr=True)
app = typer.Typer(
    help="Listening events through Kafka (KAFKA_BOOTSTRAP_SERVERS) into staging, exactly once.",
    no_args_is_help=True,
)


def _settings_or_exit() -> Settings:
    try:
        settings = get_settings()
        settings.ensure_home()
        settings.kafka  # noqa: B018 - resolve now, so a bad KAFKA_* value is a one-line error
    except SettingsError as error:
        console.print(f"[bold red]error:[/] {error}")
        raise typer.Exit(code=2) from None
    return settings


def _fail(error: Exception) -> typer.Exit:
    console.print(f"[bold red]error:[/] {error}")
    return typer.Exit(code=2)


@app.command()
def produce(
    count: Annotated[int, typer.Option(min=1, help="How many events to publish.")] = 10_000,
    rate: Annotated[
        float, typer.Option(min=0, help="Events per second; 0 sends as fast as possible.")
    ] = 0,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the synthetic world [SYNTHETIC_SEED].")
    ] = None,
) -> None:
    """Publish events from the synthetic world (the batch source's users and tracks) to the
    events topic, keyed by user id; creates the topic if it does not exist."""
    settings = _settings_or_exit()
    from music_platform.defs.shared.keys import PARTITIONS_START
    from music_platform.lib.streaming.kafka import StreamingError, ensure_topic
    from music_platform.lib.streaming.producer import ProduceReport, synthetic_events
    from music_platform.lib.streaming.producer import produce as publish
    from music_platform.lib.synthetic import config_from

    kafka = settings.kafka
    config = config_from(settings.synthetic)
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)

    def progress(report: ProduceReport) -> None:
        console.print(
            f"sent {report.sent:,} delivered {report.delivered:,} failed {report.failed:,} "
            f"({report.sent / max(report.seconds, 1e-9):,.0f}/s)",
            end="\r",
            highlight=False,
        )

    try:
        if ensure_topic(kafka, kafka.topic, kafka.topic_partitions):
            console.print(f"created topic {kafka.topic!r} ({kafka.topic_partitions} partitions)")
        as_of = dt.date.fromisoformat(PARTITIONS_START)
        events = synthetic_events(config, count=count, as_of=as_of)
        report = publish(events, kafka, rate=rate or None, on_progress=progress)
    except StreamingError as error:
        console.print()
        raise _fail(error) from None
    console.print()
    typer.echo(
        f"delivered {report.delivered:,} events to {kafka.topic!r} in {report.seconds:.1f} s"
    )


@app.command()
def consume(
    group: Annotated[
        str | None, typer.Option(help="Consumer group [KAFKA_CONSUMER_GROUP].")
    ] = None,
    until_idle: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Stop after this many seconds without events (default: run until interrupted).",
        ),
    ] = None,
) -> None:
    """Land events into staging's listen_events in batches, exactly once: rows and partition
    offsets commit together; invalid events go to the dead-letter topic and the rejects table."""
    # Either signal ends the current batch and stops; set before the slow imports, since a
    # background job starts with SIGINT ignored.
    stop = threading.Event()
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: stop.set())
    settings = _settings_or_exit()
    from music_platform.lib.staging.store import StagingError
    from music_platform.lib.streaming.consumer import ConsumeReport, EventConsumer
    from music_platform.lib.streaming.kafka import StreamingError
    from music_platform.resources import staging_resource

    store = staging_resource(settings).store()
    consumer = EventConsumer(store, settings.kafka, group=group)

    def progress(report: ConsumeReport) -> None:
        console.print(
            f"staged {report.staged:,} · duplicates {report.duplicates:,} · rejected "
            f"{report.rejected:,} · late {report.late:,} · batches {report.batches:,}",
            end="\r",
            highlight=False,
        )

    try:
        report = consumer.run(stop=stop, idle_seconds=until_idle, on_batch=progress)
    except (StreamingError, StagingError) as error:
        raise _fail(error) from None
    console.print()
    typer.echo(
        f"received {report.received:,} events: staged {report.staged:,}, duplicates "
        f"{report.duplicates:,}, rejected {report.rejected:,} (dead-lettered), late {report.late:,}"
    )
