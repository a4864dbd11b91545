"""The file sensor and the run-failure sensor, evaluated in process on a tiny graph of their own."""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from music_platform.defs import automation
from music_platform.defs.shared.keys import RAW_LISTEN_EVENTS_FILE as EVENTS_FILE_KEY
from music_platform.defs.shared.keys import daily_partitions
from music_platform.settings import get_settings
from music_platform.status import recent_run_failures
from music_platform_tests.support.platform_env import applied, platform_environment

TRACKS_FROM_FILE = dg.AssetKey(["staging", "file_tracks"])
DAILY_FACT = dg.AssetKey(["daily_fact"])


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    with applied(platform_environment(home)):
        get_settings().ensure_home()
        yield home


def _tiny_file_graph() -> dg.Definitions:
    """The file source, an unpartitioned child and a daily grandchild, automated as the platform
    automates its own graph."""

    @dg.asset(key=automation.KAGGLE_TRACKS_KEY)
    def raw_file_tracks() -> dg.MaterializeResult:
        files = sorted(get_settings().external_dir.glob(automation.EXTERNAL_FILE_PATTERN))
        return dg.MaterializeResult(metadata={"files": [path.name for path in files]})

    @dg.asset(key=TRACKS_FROM_FILE, deps=[raw_file_tracks])
    def file_tracks() -> None: ...

    @dg.asset(
        key=DAILY_FACT,
        deps=[file_tracks],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def daily_fact() -> None: ...

    return automation.with_automation(
        dg.Definitions(assets=[raw_file_tracks, file_tracks, daily_fact])
    )


def _drop(folder: Path, name: str, text: str, *, age: float = 60) -> Path:
    """Write a file as if it had finished landing `age` seconds ago."""
    path = folder / name
    path.write_text(text)
    settled = time.time() - age
    os.utime(path, (settled, settled))
    return path


def _tick(
    sensor: dg.SensorDefinition,
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    cursor: str | None,
):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources={"settings": get_settings()},
    )
    return sensor.evaluate_tick(context)


def test_scan_sees_new_and_changed_content_only(tmp_path: Path) -> None:
    first = _drop(tmp_path, "a.csv", "id\n1\n")
    _drop(tmp_path, "notes.txt", "not a dataset")
    seen, changed = automation.scan_external_files(tmp_path, {})
    assert changed == ["a.csv"] and set(seen) == {"a.csv"}

    assert automation.scan_external_files(tmp_path, seen)[1] == []
    os.utime(first, (time.time() - 30, time.time() - 30))  # touched, same bytes
    touched, changed = automation.scan_external_files(tmp_path, seen)
    assert changed == [] and touched["a.csv"].mtime_ns != seen["a.csv"].mtime_ns

    _drop(tmp_path, "a.csv", "id\n1\n2\n")
    assert automation.scan_external_files(tmp_path, touched)[1] == ["a.csv"]


def test_scan_waits_for_a_file_still_being_written(tmp_path: Path) -> None:
    _drop(tmp_path, "big.csv", "id\n", age=0)
    seen, changed = automation.scan_external_files(tmp_path, {})
    assert (seen, changed) == ({}, [])
    assert automation.scan_external_files(tmp_path, seen, now=time.time() + 60)[1] == ["big.csv"]


def test_file_sensor_requests_the_file_source_and_downstream_once(home: Path) -> None:
    defs = _tiny_file_graph()
    sensor = defs.get_sensor_def("external_files_sensor")
    assert defs.resolve_asset_graph().get(automation.KAGGLE_TRACKS_KEY).automation_condition is None
    sensor_job = defs.resolve_job_def(sensor.job_name)
    assert set(sensor_job.asset_layer.executable_asset_keys) == {
        automation.KAGGLE_TRACKS_KEY,
        TRACKS_FROM_FILE,
        DAILY_FACT,
    }
    external = get_settings().external_dir
    with dg.instance_for_test() as instance:
        idle = _tick(sensor, defs, instance, None)
        assert not idle.run_requests

        _drop(external, "tracks.csv", "track_id\nt1\n")
        first = _tick(sensor, defs, instance, idle.cursor)
        (request,) = first.run_requests
        # The catalogue file lands alone; what is built from it refreshes with the next daily
        # run (a fresh platform's other raw assets have not landed, and the run would fail).
        assert set(request.asset_selection) == {automation.KAGGLE_TRACKS_KEY}
        assert request.partition_key is None
        assert request.tags["music_platform/external_files"] == "tracks.csv"
        assert json.loads(first.cursor)["tracks.csv"]["size"] == len("track_id\nt1\n")

        again = _tick(sensor, defs, instance, first.cursor)
        assert not again.run_requests, "a file is landed once"

        _drop(external, "tracks.csv", "track_id\nt1\nt2\n")
        changed = _tick(sensor, defs, instance, again.cursor)
        (second,) = changed.run_requests
        assert second.run_key != request.run_key

        # What the sensor asks for runs as one run.
        result = sensor_job.execute_in_process(
            instance=instance, asset_selection=list(second.asset_selection), tags=second.tags
        )
        assert result.success
        landed = result.asset_materializations_for_node("raw__kaggle_tracks")
        assert landed[0].metadata["files"].value == ["tracks.csv"]


def _event_line(event_id: str, played_at: str) -> str:
    fields = {"user_id": "u", "track_id": "t", "ms_played": 1000}
    return json.dumps({"event_id": event_id, "played_at": played_at, **fields})


def test_events_sensor_requests_the_days_a_dropped_jsonl_holds(home: Path) -> None:
    @dg.asset(
        key=EVENTS_FILE_KEY,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def raw_events(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"days": context.partition_keys})

    defs = automation.with_automation(dg.Definitions(assets=[raw_events]))
    sensor = defs.get_sensor_def("external_events_files_sensor")
    external = get_settings().external_dir
    with dg.instance_for_test() as instance:
        _drop(external, "tracks.csv", "track_id\nt1\n")  # the catalogue sensor's, not this one's
        idle = _tick(sensor, defs, instance, None)
        assert not idle.run_requests

        lines = [
            _event_line("e1", "2024-03-03T10:00:00Z"),
            "not an event",  # rejected when it lands; it holds no day
            _event_line("e2", "2024-03-01T23:59:59-01:00"),  # 2024-03-02 in UTC
        ]
        _drop(external, "listening.jsonl", "\n".join(lines) + "\n")
        first = _tick(sensor, defs, instance, idle.cursor)
        (request,) = first.run_requests
        assert request.partition_key is None
        assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2024-03-02"
        assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2024-03-03"
        assert request.tags["music_platform/external_files"] == "listening.jsonl"
        assert not _tick(sensor, defs, instance, first.cursor).run_requests

        # What the sensor asks for runs as one run over those days.
        result = defs.resolve_job_def(sensor.job_name).execute_in_process(
            instance=instance, tags=request.tags
        )
        assert result.success
        landed = result.asset_materializations_for_node("raw__listen_events_file")
        assert landed[0].metadata["days"].value == ["2024-03-02", "2024-03-03"]


def test_failed_runs_are_recorded_where_status_reads_them(home: Path) -> None:
    @dg.asset(partitions_def=daily_partitions)
    def fragile() -> None:
        raise ValueError("the upstream API returned nothing")

    defs = dg.Definitions(assets=[fragile])
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            partition_key="2024-01-02",
            raise_on_error=False,
            tags={"dagster/sensor_name": "external_files_sensor"},
        )
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="record_run_failures",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources={"settings": get_settings()},
        ).for_run_failure()
        automation.record_run_failures(context)

    (failure,) = recent_run_failures(automation.run_failures_log(get_settings()))
    assert failure["run_id"] == result.run_id
    assert failure["partition"] == "2024-01-02"
    assert failure["assets"] == ["fragile"]
    assert failure["launched_by"] == "sensor:external_files_sensor"
    (step,) = failure["failed_steps"]
    assert step["step"] == "fragile"
    assert "the upstream API returned nothing" in step["error"]
