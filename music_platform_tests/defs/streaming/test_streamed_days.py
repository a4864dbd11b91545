"""Streamed events reach fct_listens with no manual step: the batch run stages a day, events for
that day arrive through Kafka, and the sensor's run adds exactly them to the day's facts. Before
any event the sensor says "no events yet" instead of materializing an empty table, and it names
what is wrong with the broker: none at the address, or no such topic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from music_platform.definitions import build_definitions
from music_platform.defs.shared.keys import PARTITIONS_START
from music_platform.defs.streaming.assets import CHECK_NAME, STREAM_KEY
from music_platform.defs.streaming.sensor import closed_days, streamed_days_sensor
from music_platform.lib.schemas import rejects_columns
from music_platform.lib.staging import DuckDBStagingStore
from music_platform.lib.staging.streamed import EventBatch
from music_platform.lib.streaming.consumer import EventConsumer
from music_platform.lib.streaming.kafka import ensure_topic
from music_platform.lib.streaming.producer import produce, synthetic_events
from music_platform.lib.synthetic import config_from
from music_platform.resources import build_resources
from music_platform.settings import get_settings
from music_platform_tests.lib.staging.frames import streamed_events
from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.platform_env import applied, platform_environment, run_cli

STREAMED = 1_500


def test_closed_days_waits_for_the_day_to_end_and_reruns_a_day_that_grew() -> None:
    now = dt.datetime(2026, 12, 5, 0, 20, tzinfo=dt.UTC)
    counts = {"2026-12-03": 10, "2026-12-04": 5, "2026-12-05": 1}
    assert closed_days(counts, {}, now, grace=600) == {"2026-12-03": 10, "2026-12-04": 5}
    assert closed_days(counts, {}, now, grace=3600) == {"2026-12-03": 10}
    assert closed_days(counts, {"2026-12-03": 10, "2026-12-04": 4}, now, 600) == {"2026-12-04": 5}


def test_the_sensor_says_no_events_yet_and_what_is_wrong_with_the_broker(
    tmp_path: Path, broker: str
) -> None:
    topic = "sensor-events"
    with applied(
        platform_environment(tmp_path / "home", KAFKA_BOOTSTRAP_SERVERS=broker, KAFKA_TOPIC=topic)
    ):
        settings = get_settings()
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()

        def tick(**kafka: str) -> list:
            # Kafka settings come from the environment (Settings.kafka).
            with applied({f"KAFKA_{name.upper()}": value for name, value in kafka.items()}):
                context = dg.build_sensor_context(
                    instance=instance, definitions=defs, resources=build_resources(get_settings())
                )
                return streamed_days_sensor(context).asset_events

        def observed(events: list) -> dict[str, object]:
            # Nothing staged: one observation, no materialization (so freshness stays unknown
            # rather than passing) and no check evaluation.
            [event] = events
            assert isinstance(event, dg.AssetObservation)
            assert event.asset_key == STREAM_KEY
            assert event.description.startswith("no events yet")
            assert event.metadata["status"].value == "no events yet"
            assert event.metadata["dagster/row_count"].value == 0
            return {name: value.value for name, value in event.metadata.items()}

        # The broker is up, the topic is not there.
        metadata = observed(tick())
        assert f"the Kafka broker at {broker} is up, but topic {topic!r} does not exist" in str(
            metadata["broker"]
        )
        assert "consumer_lag" not in metadata

        # No broker at the address.
        nowhere = f"127.0.0.1:{free_port()}"
        metadata = observed(tick(bootstrap_servers=nowhere))
        assert str(metadata["broker"]).startswith(f"no Kafka broker at {nowhere}")
        assert "consumer_lag" not in metadata

        # Broker and topic there, nothing staged.
        ensure_topic(settings.kafka, topic, 3)
        metadata = observed(tick())
        assert metadata["broker"] == f"up at {broker}; topic {topic!r} has 3 partitions"
        assert metadata["consumer_lag"] == 0

        # The first staged events: a materialization and the check.
        store = DuckDBStagingStore(settings.staging_path)
        store.write_events(
            EventBatch(
                events=streamed_events(
                    ("s-1", "u1", "t1", dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC), 1_000)
                ),
                rejects=pl.DataFrame(schema=rejects_columns()),
                source=f"kafka:{topic}",
            )
        )
        materialized, check = tick()
        assert isinstance(materialized, dg.AssetMaterialization)
        assert materialized.metadata["dagster/row_count"].value == 1
        assert "status" not in materialized.metadata
        assert check.check_name == CHECK_NAME


@pytest.mark.slow
def test_streamed_day_reaches_fct_listens_after_the_sensor_run(tmp_path: Path, broker: str) -> None:
    home = tmp_path / "home"
    env = platform_environment(
        home,
        KAFKA_BOOTSTRAP_SERVERS=broker,
        KAFKA_TOPIC="e2e-events",
        KAFKA_DEAD_LETTER_TOPIC="e2e-events.dead-letter",
        KAFKA_DAY_CLOSE_GRACE_SECONDS="0",
    )
    batch = run_cli("run", "--days", "1", env=env, cwd=tmp_path)
    assert batch.returncode == 0, batch.stdout + batch.stderr
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    batch_rows = _facts(home, day)
    assert batch_rows > 0

    with applied(env):
        settings = get_settings()
        ensure_topic(settings.kafka, settings.kafka.topic, 3)
        # A day of the same world's listening, replayed over `day`.
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        as_of = dt.date.fromisoformat(PARTITIONS_START)
        produce(
            synthetic_events(
                config_from(settings.synthetic), count=STREAMED, as_of=as_of, now=midnight
            ),
            settings.kafka,
        )
        store = DuckDBStagingStore(settings.staging_path)
        report = EventConsumer(store, settings.kafka).run(idle_seconds=2)
        assert report.staged == STREAMED

        defs = build_definitions(get_settings())
        instance = dg.DagsterInstance.ephemeral()
        resources = build_resources(settings)
        context = dg.build_sensor_context(instance=instance, definitions=defs, resources=resources)
        result = streamed_days_sensor(context)
        assert [request.partition_key for request in result.run_requests] == [day.isoformat()]
        [observed, check] = result.asset_events
        assert observed.asset_key == STREAM_KEY
        assert observed.metadata["dagster/row_count"].value == STREAMED
        assert check.check_name == CHECK_NAME

        request = result.run_requests[0]
        assert dg.AssetKey("fct_listens") in request.asset_selection
        run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            asset_selection=request.asset_selection,
        )
        assert run.success

        # Nothing new: the next tick requests nothing.
        again = streamed_days_sensor(
            dg.build_sensor_context(
                instance=instance, definitions=defs, cursor=result.cursor, resources=resources
            )
        )
        assert again.run_requests == []
        # The tick reported events, so it says so rather than "returned an empty result".
        assert again.skip_reason is not None
        assert "observed stream/listen_events" in again.skip_reason.skip_message
    assert _facts(home, day) == batch_rows + STREAMED


def _facts(home: Path, day: dt.date) -> int:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as warehouse:
        [(rows,)] = warehouse.execute(
            "SELECT count(*) FROM analytics.fct_listens WHERE listened_at::date = ?", [day]
        ).fetchall()
    return int(rows)
