"""streamed_days_sensor: observes stream/listen_events and hands each streamed day on.

Every tick it reports the table's rows, last event time and consumer lag (a materialization
when new events landed, an observation otherwise) with the late/duplicate check, and requests
staging/staged_listens and its daily descendants (through fct_listens) for every day that has ended
(plus KAFKA_DAY_CLOSE_GRACE_SECONDS) and holds events not yet handed on. A late event for a day
already handed on changes its count, and the day runs again; reruns replace the day whole.
The cursor maps each day to the event count last requested.
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

from music_platform.defs.shared.keys import daily_partitions, staging_key
from music_platform.defs.streaming.assets import STREAM_KEY, check_evaluation
from music_platform.resources.staging import StagingResource
from music_platform.settings import KafkaSettings, Settings

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


def _lag(kafka: KafkaSettings, stats_offsets: dict[int, int]) -> dict[int, int] | None:
    from music_platform.lib.streaming.kafka import StreamingError, consumer_lag

    try:
        return consumer_lag(kafka, stats_offsets)
    except StreamingError:
        return None  # no broker reachable from here: lag unknown, the rest still reported


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
    lag = _lag(
        settings.kafka, store.consumer_offsets(settings.kafka.consumer_group, settings.kafka.topic)
    )
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(stats.rows),
        "last_event_at": (stats.last_played_at.isoformat() if stats.last_played_at else "none"),
        "last_loaded_at": (stats.last_loaded_at.isoformat() if stats.last_loaded_at else "none"),
        "consumer_lag": sum(lag.values()) if lag is not None else "unknown (broker unreachable)",
        "consumer_lag_by_partition": dg.MetadataValue.json(
            {str(p): n for p, n in (lag or {}).items()}
        ),
        "days": dg.MetadataValue.json(dict(list(stats.rows_by_day.items())[-14:])),
        "duplicates": stats.duplicates,
        "late": stats.late,
        "rejected": stats.rejected,
    }
    event: dg.AssetMaterialization | dg.AssetObservation
    if stats.rows != cursor["rows"]:
        event = dg.AssetMaterialization(asset_key=STREAM_KEY, metadata=metadata)
    else:
        event = dg.AssetObservation(asset_key=STREAM_KEY, metadata=metadata)

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
    reported = "materialized" if isinstance(event, dg.AssetMaterialization) else "observed"
    return dg.SensorResult(
        run_requests=requests,
        asset_events=[event, check_evaluation(stats)],
        cursor=json.dumps({"rows": stats.rows, "days": {**cursor["days"], **ready}}),
        # A tick without runs still says what it did, not "returned an empty result".
        skip_reason=None
        if requests
        else (
            f"{reported} {STREAM_KEY.to_user_string()} ({stats.rows} events) and ran its check; "
            "no ended day with new streamed events to stage"
        ),
    )
