"""stream/listen_events: the staged Kafka stream, fed from outside Dagster by
`music-platform stream consume`, and its check on late and duplicated events.

Dagster does not run the consumer; it observes the table it writes (rows, last event time,
consumer lag, see sensor.py) and judges its freshness. Until the first event is staged the
asset has observations saying "no events yet" and no materialization, so its freshness reads
unknown rather than passing on an empty table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.shared.keys import STREAM_LISTEN_EVENTS
from music_platform.resources.staging import StagingResource

if TYPE_CHECKING:
    from music_platform.lib.staging.streamed import StreamStats

STREAM_KEY = STREAM_LISTEN_EVENTS
CHECK_NAME = "late_and_duplicate_events"
# Shares of received events above which the check warns: a producer resending too much, or a
# consumer (or device clocks) running far behind.
MAX_DUPLICATE_SHARE = 0.05
MAX_LATE_SHARE = 0.05
# The consumer runs continuously; an hour without new events is worth a look.
STREAM_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=6), warn_window=timedelta(hours=1)
)

stream_listen_events = dg.AssetSpec(
    key=STREAM_LISTEN_EVENTS,
    description=(
        "Listening events landed from the Kafka topic (KAFKA_TOPIC) into staging.listen_events "
        "by `music-platform stream consume`, exactly once per event_id; invalid events go to "
        "the dead-letter topic and staging.rejects. Observed by streamed_days_sensor."
    ),
    group_name="staging",
    kinds={"kafka"},
    freshness_policy=STREAM_FRESHNESS,
    metadata={"table": "staging.listen_events"},
)


def check_evaluation(stats: StreamStats) -> dg.AssetCheckEvaluation:
    """Warn when too many events arrive twice or after their day ended."""
    received = max(stats.received - stats.rejected, 1)
    duplicate_share, late_share = stats.duplicates / received, stats.late / received
    description = (
        f"{stats.duplicates} duplicated ({duplicate_share:.2%}, limit "
        f"{MAX_DUPLICATE_SHARE:.0%}) and {stats.late} late ({late_share:.2%}, limit "
        f"{MAX_LATE_SHARE:.0%}) of {stats.received} events received; duplicates were "
        "staged once, late events in their own day"
    )
    if not stats.received:
        description = "no events yet: nothing received, so nothing arrived twice or late"
    return dg.AssetCheckEvaluation(
        asset_key=STREAM_LISTEN_EVENTS,
        check_name=CHECK_NAME,
        passed=duplicate_share <= MAX_DUPLICATE_SHARE and late_share <= MAX_LATE_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "received": stats.received,
            "duplicates": stats.duplicates,
            "late": stats.late,
            "rejected": stats.rejected,
            "duplicate_share": duplicate_share,
            "late_share": late_share,
        },
        description=description,
    )


@dg.asset_check(
    asset=STREAM_LISTEN_EVENTS,
    name=CHECK_NAME,
    description=(
        f"At most {MAX_DUPLICATE_SHARE:.0%} of streamed events arrive twice and at most "
        f"{MAX_LATE_SHARE:.0%} after their day ended (also evaluated by streamed_days_sensor)."
    ),
)
def late_and_duplicate_events(staging: dg.ResourceParam[StagingResource]) -> dg.AssetCheckResult:
    evaluation = check_evaluation(staging.store().stream_stats())
    return dg.AssetCheckResult(
        passed=evaluation.passed,
        severity=evaluation.severity,
        metadata=evaluation.metadata,
        description=evaluation.description,
    )
