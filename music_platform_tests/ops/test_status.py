"""`music-platform status` reads materializations, freshness and checks back from the instance."""

import json
from datetime import timedelta
from pathlib import Path

import dagster as dg
from dagster._core.test_utils import freeze_time
from dagster._time import get_current_datetime
from rich.console import Console

from music_platform.defs.shared.keys import daily_partitions
from music_platform.status import (
    collect_status,
    recent_run_failures,
    status_json,
    status_table,
)

HOURLY = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)
)


def _graph() -> dg.Definitions:
    @dg.asset(
        freshness_policy=HOURLY,
        check_specs=[
            dg.AssetCheckSpec("has_rows", asset="catalogue", blocking=True),
            dg.AssetCheckSpec("no_drift", asset="catalogue"),
        ],
    )
    def catalogue():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(check_name="has_rows", passed=True)
        yield dg.AssetCheckResult(
            check_name="no_drift", passed=False, severity=dg.AssetCheckSeverity.WARN
        )

    @dg.asset(
        deps=[catalogue],
        partitions_def=daily_partitions,
        freshness_policy=HOURLY,
        check_specs=[dg.AssetCheckSpec("reject_rate", asset="listens", blocking=True)],
    )
    def listens():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(passed=False, description="12% rejected")

    @dg.asset(deps=[listens], freshness_policy=HOURLY)
    def model() -> None: ...

    @dg.asset
    def scratch() -> None: ...

    return dg.Definitions(assets=[catalogue, listens, model, scratch])


def _by_key(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict:
    return {status.key: status for status in collect_status(defs, instance)}


def test_status_reports_materializations_freshness_and_checks() -> None:
    defs = _graph()
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey("catalogue"), dg.AssetKey("scratch")],
        )
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey("listens")],
            partition_key="2024-01-03",
            raise_on_error=False,
        )
        assert not result.success, "the blocking check fails the step"
        now = _by_key(defs, instance)

        catalogue = now["catalogue"]
        assert catalogue.last_materialized_at and catalogue.last_partition is None
        assert catalogue.freshness == "pass"
        assert {check.name: check.state for check in catalogue.checks} == {
            "has_rows": "passed",
            "no_drift": "warned",
        }
        listens = now["listens"]
        assert listens.last_partition == "2024-01-03"
        assert listens.materialized_partitions == 1
        assert listens.last_run_id == result.run_id
        (reject_rate,) = listens.checks
        assert (reject_rate.state, reject_rate.blocking) == ("failed", True)
        assert reject_rate.description == "12% rejected"
        assert now["model"].freshness == "unknown" and now["model"].last_materialized_at is None
        assert now["scratch"].freshness == "none"

        with freeze_time(get_current_datetime() + timedelta(minutes=90)):
            assert _by_key(defs, instance)["catalogue"].freshness == "warn"
        with freeze_time(get_current_datetime() + timedelta(hours=3)):
            assert _by_key(defs, instance)["catalogue"].freshness == "fail"

        statuses = collect_status(defs, instance)
    console = Console(record=True, width=200)
    console.print(status_table(statuses, "local"))
    text = console.export_text()
    for key in ("catalogue", "listens", "model", "scratch", "2024-01-03", "1 failed"):
        assert key in text
    document = json.loads(json.dumps(status_json(statuses, [], "local")))
    assert [asset["key"] for asset in document["assets"]] == [
        "catalogue",
        "listens",
        "model",
        "scratch",
    ]


def test_recent_run_failures_keeps_the_latest(tmp_path: Path) -> None:
    log = tmp_path / "run_failures.jsonl"
    assert recent_run_failures(log) == []
    log.write_text("".join(json.dumps({"run_id": str(n)}) + "\n" for n in range(8)))
    assert [failure["run_id"] for failure in recent_run_failures(log, limit=3)] == ["5", "6", "7"]
