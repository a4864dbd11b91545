"""streamed_days_sensor: observes stream/listen_events and hands each streamed day on.

Every tick it reports the table's rows, last event time, the broker's state (up, no broker at
the address, or no such topic) and consumer lag (a materialization when new events landed, an
observation otherwise, one saying "no events yet" while nothing is staged) with the
late/duplicate check once events arrived, and requests
staging/staged_listens and its daily descendants (through fct_listens) for every day that has ended
(plus KAFKA_DAY_CLOSE_GRACE_SECONDS) and holds events not yet handed on. A late event for a day
already handed on changes its count, and the day runs again; reruns replace the day whole.
The cursor maps each day to the event count last requested.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.shared.keys import daily_partitions, staging_key
from music_platform.defs.streaming.assets import STREAM_KEY, check_evaluation
from music_platform.resources.staging import StagingResource
from music_platform.settings import KafkaSettings, Settings

if TYPE_CHECKING:
    from music_platform.lib.streaming.kafka import StreamPosition

STAGING_LISTENS_KEY = staging_key("listens")
SENSOR_INTERVAL_SECONDS = 30


def closed_days(
    rows_by_day: dict[str, int], handed_on: dict[str, int], now: dt.datetime, grace: float
) -> dict[str, int]:
    """Days that ended at least `grace` seconds ago whose event count changed since handed on."""
    first = dt.date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))
    ready = {}
    for day, rows in rows_by_day.items():
        start = dt.date.fromisoformat(day)
        closes = dt.datetime.combine(start + dt.timedelta(days=1), dt.time(), dt.UTC)
        ended = start >= first and now >= closes + dt.timedelta(seconds=grace)
        if ended and handed_on.get(day) != rows:
            ready[day] = rows
    return ready


def _broker_state(
    kafka: KafkaSettings, staged_offsets: dict[int, int]
) -> tuple[StreamPosition | None, str]:
    """The topic's position against the staged offsets, or None and what is wrong: no broker
    at the address, or a broker without the topic."""
    from music_platform.lib.streaming.kafka import StreamingError, stream_position

    try:
        position = stream_position(kafka, staged_offsets)
    except StreamingError as error:
        return None, str(error)
    return position, (
        f"up at {kafka.bootstrap_servers}; topic {kafka.topic!r} has "
        f"{len(position.end_offsets)} partitions"
    )


@dg.sensor(
    name="streamed_days_sensor",
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=dg.AssetSelection.assets(STAGING_LISTENS_KEY).downstream(),
    description=(
        "Observes stream/listen_events (rows, last event, consumer lag) and requests "
        "staging/staged_listens and its daily descendants (with the views between them) for each "
        "ended day with new streamed events."
    ),
)
def streamed_days_sensor(
    context: dg.SensorEvaluationContext,
    settings: dg.ResourceParam[Settings],
    staging: dg.ResourceParam[StagingResource],
) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {"rows": -1, "days": {}}
    store = staging.store()
    stats = store.stream_stats()
    kafka = settings.kafka
    position, broker = _broker_state(
        kafka, store.consumer_offsets(kafka.consumer_group, kafka.topic)
    )
    if position is None:
        context.log.warning(broker)
    metadata: dict[str, object] = {
        "dagster/row_count": dg.MetadataValue.int(stats.rows),
        "last_event_at": (stats.last_played_at.isoformat() if stats.last_played_at else "none"),
        "last_loaded_at": (stats.last_loaded_at.isoformat() if stats.last_loaded_at else "none"),
        "broker": broker,
        "days": dg.MetadataValue.json(dict(list(stats.rows_by_day.items())[-14:])),
        "duplicates": stats.duplicates,
        "late": stats.late,
        "rejected": stats.rejected,
    }
    # Lag only when the broker told it: one type per key keeps Dagster's plot of it whole.
    if position is not None:
        metadata["consumer_lag"] = dg.MetadataValue.int(sum(position.lag.values()))
        metadata["consumer_lag_by_partition"] = dg.MetadataValue.json(
            {str(p): n for p, n in position.lag.items()}
        )
    events: list[dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckEvaluation]
    if stats.rows == 0:
        # Nothing staged yet: an observation that says so, never a materialization. Dagster
        # judges the freshness policy on materializations only, so the asset reads "never
        # materialized" with freshness unknown until the first events land, instead of a fresh
        # empty table; the late/duplicate check waits for the first event received.
        events = [
            dg.AssetObservation(
                asset_key=STREAM_KEY,
                description=_no_events_yet(kafka, position),
                metadata={"status": "no events yet", **metadata},
            )
        ]
    elif stats.rows != cursor["rows"]:
        events = [dg.AssetMaterialization(asset_key=STREAM_KEY, metadata=metadata)]
    else:
        events = [dg.AssetObservation(asset_key=STREAM_KEY, metadata=metadata)]
    if stats.received:
        events.append(check_evaluation(stats))

    now = dt.datetime.now(dt.UTC)
    ready = closed_days(
        stats.rows_by_day, cursor["days"], now, settings.kafka.day_close_grace_seconds
    )
    graph = context.repository_def.asset_graph
    downstream = dg.AssetSelection.assets(STAGING_LISTENS_KEY).downstream()
    daily = [
        key
        for key in downstream.resolve(graph)
        if graph.get(key).partitions_def == daily_partitions
    ]
    # Unpartitioned views between the daily assets (stg_landing__listens) stay selected: without
    # them the run has no edge from landing/landed_listens to the daily dbt models and may run
    # those first.
    targets = (downstream & dg.AssetSelection.assets(*daily).upstream()).resolve(graph)
    requests = [
        dg.RunRequest(
            run_key=f"streamed:{day}:{rows}",
            asset_selection=sorted(targets, key=lambda key: key.to_user_string()),
            partition_key=day,
            tags={"music_platform/streamed_events": str(rows)},
        )
        for day, rows in sorted(ready.items())
    ]
    if ready:
        context.log.info(f"streamed days ready: {', '.join(sorted(ready))}")
    reported = "materialized" if isinstance(events[0], dg.AssetMaterialization) else "observed"
    return dg.SensorResult(
        run_requests=requests,
        asset_events=events,
        cursor=json.dumps({"rows": stats.rows, "days": {**cursor["days"], **ready}}),
        # A tick without runs still says what it did, not "returned an empty result".
        skip_reason=None
        if requests
        else (
            f"{reported} {STREAM_KEY.to_user_string()} ({stats.rows} events) and ran its check; "
            "no ended day with new streamed events to stage"
        ),
    )


def _no_events_yet(kafka: KafkaSettings, position: StreamPosition | None) -> str:
    waiting = sum(position.lag.values()) if position is not None else 0
    if waiting:
        return (
            f"no events yet: {waiting} events wait on topic {kafka.topic!r}; start "
            "`music-platform stream consume` to stage them"
        )
    return (
        f"no events yet: nothing staged from topic {kafka.topic!r}; producers send events "
        "there and `music-platform stream consume` stages them"
    )
