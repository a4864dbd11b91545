"""`music-platform stream produce|consume`: listening events through Kafka into staging.
Registered in cli.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import signal
import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from music_platform.lib.processes import STOP_SIGNALS
from music_platform.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from music_platform.lib.streaming.producer import WorldFit

console = Console(stderr=True)
app = typer.Typer(
    help="Listening events through Kafka (KAFKA_BOOTSTRAP_SERVERS) into staging, exactly once.",
    no_args_is_help=True,
)


PLAIN_PROGRESS_SECONDS = 10.0


class _Progress:
    """One line rewritten in place on a terminal; written to a file or pipe (a log), a plain
    line at most every PLAIN_PROGRESS_SECONDS and never a carriage return."""

    def __init__(self) -> None:
        self._last_plain = -PLAIN_PROGRESS_SECONDS

    def show(self, line: str) -> None:
        if console.is_terminal:
            console.print(line, end="\r", highlight=False)
        elif time.monotonic() - self._last_plain >= PLAIN_PROGRESS_SECONDS:
            self._last_plain = time.monotonic()
            console.print(line, highlight=False)

    @staticmethod
    def end() -> None:
        """Leave the rewritten line (on a terminal; elsewhere every line ended already)."""
        if console.is_terminal:
            console.print()


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
    ignore_catalogue: Annotated[
        bool,
        typer.Option(
            "--ignore-catalogue",
            help="Send even when the staged catalogue does not know the world's tracks and users "
            "(their days then block on the match rate when staged).",
        ),
    ] = False,
) -> None:
    """Publish events from the synthetic world (the batch source's users and tracks) to the
    events topic, keyed by user id; creates the topic if it does not exist. Refuses a world
    whose tracks and users the staged catalogue does not know (another --seed than the
    catalogue's)."""
    settings = _settings_or_exit()
    from music_platform.defs.shared.keys import PARTITIONS_START
    from music_platform.lib.staging.store import StagingError
    from music_platform.lib.streaming.kafka import StreamingError, ensure_topic
    from music_platform.lib.streaming.producer import (
        ProduceReport,
        recorded_catalogue,
        synthetic_events,
        world_fit,
    )
    from music_platform.lib.streaming.producer import produce as publish
    from music_platform.lib.synthetic import config_from
    from music_platform.resources import staging_resource

    kafka = settings.kafka
    config = config_from(settings.synthetic)
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    as_of = dt.date.fromisoformat(PARTITIONS_START)
    frames = synthetic_events(config, count=count, as_of=as_of)
    # The first frame's ids, looked up before anything is sent.
    first = next(frames)
    try:
        fit = world_fit(first, staging_resource(settings).store())
    except StagingError as error:
        # Staging busy or down: producing does not need it, so say what was not checked.
        console.print(f"[bold yellow]warning:[/] the staged catalogue was not checked: {error}")
        fit = None
    if fit is not None and not fit.matches:
        problem = _world_mismatch(
            config.seed,
            "--seed" if seed is not None else "SYNTHETIC_SEED",
            fit,
            recorded_catalogue(settings.raw_dir),
        )
        if not fit.catalogue_staged:
            console.print(f"[bold yellow]warning:[/] {problem}")
        elif ignore_catalogue:
            console.print(f"[bold yellow]warning (--ignore-catalogue):[/] {problem}")
        else:
            raise _fail(RuntimeError(f"{problem} Pass --ignore-catalogue to send them anyway."))

    shown = _Progress()

    def progress(report: ProduceReport) -> None:
        shown.show(
            f"sent {report.sent:,} delivered {report.delivered:,} failed {report.failed:,} "
            f"({report.sent / max(report.seconds, 1e-9):,.0f}/s)"
        )

    try:
        if ensure_topic(kafka, kafka.topic, kafka.topic_partitions):
            console.print(f"created topic {kafka.topic!r} ({kafka.topic_partitions} partitions)")
        report = publish(
            itertools.chain([first], frames), kafka, rate=rate or None, on_progress=progress
        )
    except StreamingError as error:
        _Progress.end()
        raise _fail(error) from None
    _Progress.end()
    typer.echo(
        f"delivered {report.delivered:,} events to {kafka.topic!r} in {report.seconds:.1f} s"
    )


def _world_mismatch(
    seed: int, seed_from: str, fit: WorldFit, catalogue: dict[str, object] | None
) -> str:
    """What is wrong when staging does not know the world about to be sent, and how to match."""
    if not fit.catalogue_staged:
        return (
            f"staging holds no catalogue yet, so the days of the events of seed {seed} "
            f"({seed_from}) will block on the match rate when staged unless the catalogue is "
            f"built from the same world: SYNTHETIC_SEED={seed} music-platform run."
        )
    known = (
        f"{fit.tracks_known} of {fit.tracks_sampled} sampled tracks and {fit.users_known} of "
        f"{fit.users_sampled} sampled users"
    )
    problem = (
        f"the staged catalogue does not know the world of seed {seed} ({seed_from}): {known} "
        "are staged, so their days would block on the match rate (MUSIC_PLATFORM_MIN_MATCH_RATE) "
        "when staged."
    )
    if catalogue is None:
        return (
            f"{problem} The staged catalogue records no synthetic seed (it came from the real "
            "providers): stream events of that catalogue, or rebuild it with "
            f"SYNTHETIC_SEED={seed} music-platform run."
        )
    if catalogue.get("seed") != seed:
        return (
            f"{problem} The catalogue was built with seed {catalogue.get('seed')}: produce with "
            f"--seed {catalogue.get('seed')} (or set SYNTHETIC_SEED={catalogue.get('seed')}), "
            f"or rebuild it with SYNTHETIC_SEED={seed} music-platform run."
        )
    return (
        f"{problem} The catalogue was built with the same seed but "
        f"{catalogue.get('artists')} artists and {catalogue.get('tracks')} tracks: set "
        "SYNTHETIC_ARTISTS and SYNTHETIC_TRACKS (and SYNTHETIC_USERS) as it was built, or "
        "rebuild it with these (music-platform run)."
    )


@app.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object instead of the table.")
    ] = False,
) -> None:
    """What is staged from the events topic and how far behind the broker it is: per partition,
    the broker's end offset, the offset staged with the rows, and the lag between them. Exits 2
    when the broker or topic cannot be read, saying which."""
    settings = _settings_or_exit()
    from music_platform.lib.staging.store import StagingError
    from music_platform.lib.streaming.kafka import StreamingError, stream_position
    from music_platform.resources import staging_resource

    kafka = settings.kafka
    try:
        store = staging_resource(settings).store()
        store.ensure_tables()
        stats = store.stream_stats()
        staged = store.consumer_offsets(kafka.consumer_group, kafka.topic)
    except StagingError as error:
        raise _fail(error) from None
    try:
        position = stream_position(kafka, staged)
        problem = None
    except StreamingError as error:
        position, problem = None, str(error)
    partitions = sorted(set(staged) | set(position.end_offsets if position else {}))
    rows: list[dict[str, int | None]] = [
        {
            "partition": partition,
            "end_offset": position.end_offsets.get(partition) if position else None,
            "staged_offset": staged.get(partition, 0),
            "lag": position.lag.get(partition) if position else None,
        }
        for partition in partitions
    ]
    summary = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "topic": kafka.topic,
        "consumer_group": kafka.consumer_group,
        "staged_events": stats.rows,
        "last_event_at": stats.last_played_at.isoformat() if stats.last_played_at else None,
        "last_loaded_at": stats.last_loaded_at.isoformat() if stats.last_loaded_at else None,
        "lag": sum(position.lag.values()) if position else None,
        "partitions": rows,
        "error": problem,
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        _print_status(summary, rows)
    if problem:
        raise typer.Exit(code=2)


def _print_status(summary: dict[str, object], rows: list[dict[str, int | None]]) -> None:
    from rich.table import Table

    out = Console()
    out.print(
        f"topic {summary['topic']!r} on {summary['bootstrap_servers']}, group "
        f"{summary['consumer_group']!r}",
        highlight=False,
    )
    staged = summary["staged_events"]
    out.print(
        f"staged {staged:,} events, last played at {summary['last_event_at']}"
        if staged
        else "no events yet",
        highlight=False,
    )
    if rows:
        table = Table("partition", "end offset", "staged offset", "lag")
        for row in rows:
            table.add_row(*("?" if value is None else str(value) for value in row.values()))
        out.print(table)
    if summary["error"]:
        console.print(f"[bold red]error:[/] {summary['error']}")
    else:
        out.print(f"lag {summary['lag']:,} events", highlight=False)


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

    shown = _Progress()

    def progress(report: ConsumeReport) -> None:
        shown.show(
            f"staged {report.staged:,} · duplicates {report.duplicates:,} · rejected "
            f"{report.rejected:,} · late {report.late:,} · batches {report.batches:,}"
        )

    try:
        report = consumer.run(stop=stop, idle_seconds=until_idle, on_batch=progress)
    except (StreamingError, StagingError) as error:
        raise _fail(error) from None
    _Progress.end()
    typer.echo(
        f"received {report.received:,} events: staged {report.staged:,}, duplicates "
        f"{report.duplicates:,}, rejected {report.rejected:,} (dead-lettered), late {report.late:,}"
    )
