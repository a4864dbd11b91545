"""The daily schedule and the automation conditions, evaluated in process against an instance."""

from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests
from dagster._core.storage.dagster_run import DagsterRunStatus

from music_platform.defs import automation
from music_platform.defs.shared.keys import WAREHOUSE_POOL, daily_partitions
from music_platform.defs.streaming.assets import STREAM_KEY
from music_platform_tests.ops.daily_path import DAILY_PATH

PARENT = dg.AssetKey("parent")
CHILD = dg.AssetKey("child")


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from music_platform.definitions import build_definitions
    from music_platform.settings import get_settings

    return build_definitions(get_settings())


def _parent_and_child(condition: dg.AutomationCondition) -> dg.Definitions:
    """A parent with a blocking check (broken by the run tag `break`) and a child on `condition`."""

    @dg.asset(key=PARENT, check_specs=[dg.AssetCheckSpec("sane", asset=PARENT, blocking=True)])
    def parent(context: dg.AssetExecutionContext):
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(passed=context.run.tags.get("break") != "yes")

    @dg.asset(key=CHILD, deps=[parent], automation_condition=condition)
    def child() -> None: ...

    return dg.Definitions(assets=[parent, child])


def _materialize_parent(defs: dg.Definitions, instance: dg.DagsterInstance, **tags: str) -> bool:
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, asset_selection=[PARENT], tags=tags, raise_on_error=False
    )
    return result.success


def _requested(result: dg.EvaluateAutomationConditionsResult) -> set[dg.AssetKey]:
    return {key for key in (CHILD, PARENT) if result.get_num_requested(key)}


def test_a_failing_blocking_check_holds_children_back() -> None:
    # Plain eager is the control: it would feed the child from a parent that failed its check.
    for condition, expected in (
        (dg.AutomationCondition.eager(), {CHILD}),
        (automation.FOLLOW_PARENTS, set()),
    ):
        defs = _parent_and_child(condition)
        with dg.instance_for_test() as instance:
            first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
            assert not _materialize_parent(defs, instance, **{"break": "yes"})
            after_failure = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=first.cursor
            )
            assert _requested(after_failure) == expected, condition.get_label()

    with dg.instance_for_test() as instance:
        defs = _parent_and_child(automation.FOLLOW_PARENTS)
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert _materialize_parent(defs, instance)
        after_pass = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=first.cursor
        )
        assert _requested(after_pass) == {CHILD}


def test_children_wait_while_a_parent_is_in_progress() -> None:
    defs = _parent_and_child(automation.FOLLOW_PARENTS)
    with dg.instance_for_test() as instance:
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert _materialize_parent(defs, instance)
        job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={PARENT})
        # A rerun of the parent, stuck in progress, that ends without its asset or its check.
        rerun = instance.create_run_for_job(
            job, asset_selection=frozenset({PARENT}), status=DagsterRunStatus.STARTED
        )
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick) == set(), "the parent is being rebuilt: wait for it"
        instance.report_run_failed(rerun)
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick) == set(), "the parent's check did not run again: not passed"
        assert _materialize_parent(defs, instance)
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick) == {CHILD}


def test_an_asset_over_all_days_follows_each_new_day() -> None:
    """An unpartitioned child of a daily parent: plain eager waits for every day since the
    partitions start; FOLLOW_DAILY_PARENTS follows each new day, unless its check fails."""
    day = daily_partitions.get_last_partition_key()

    def graph(condition: dg.AutomationCondition) -> dg.Definitions:
        @dg.asset(
            key=PARENT,
            partitions_def=daily_partitions,
            check_specs=[dg.AssetCheckSpec("sane", asset=PARENT, blocking=True)],
        )
        def daily_parent(context: dg.AssetExecutionContext):
            yield dg.MaterializeResult()
            yield dg.AssetCheckResult(passed=context.run.tags.get("break") != "yes")

        @dg.asset(key=CHILD, deps=[daily_parent], automation_condition=condition)
        def over_all_days() -> None: ...

        return dg.Definitions(assets=[daily_parent, over_all_days])

    for condition, expected in (
        (dg.AutomationCondition.eager(), set()),
        (automation.FOLLOW_DAILY_PARENTS, {CHILD}),
    ):
        defs = graph(condition)
        job = defs.resolve_implicit_global_asset_job_def()
        with dg.instance_for_test() as instance:
            tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
            job.execute_in_process(instance=instance, asset_selection=[PARENT], partition_key=day)
            tick = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=tick.cursor
            )
            assert _requested(tick) == expected, condition.get_label()

    defs = graph(automation.FOLLOW_DAILY_PARENTS)
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        job.execute_in_process(
            instance=instance,
            asset_selection=[PARENT],
            partition_key=day,
            tags={"break": "yes"},
            raise_on_error=False,
        )
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick) == set()


def test_catalogue_roots_refresh_at_midnight() -> None:
    @dg.asset(automation_condition=automation.REFRESH_DAILY)
    def catalogue() -> None: ...

    defs = dg.Definitions(assets=[catalogue])
    with dg.instance_for_test() as instance:
        evening = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=datetime(2025, 3, 4, 23, 50, tzinfo=UTC)
        )
        assert evening.total_requested == 0
        after_midnight = dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            cursor=evening.cursor,
            evaluation_time=datetime(2025, 3, 5, 0, 5, tzinfo=UTC),
        )
        assert after_midnight.total_requested == 1


def test_every_asset_is_automated_by_exactly_one_mechanism(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    scheduled = set(automation.daily_sources(graph))
    assert scheduled, "the daily schedule needs at least one daily raw source"
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        name = key.to_user_string()
        if key in scheduled or key == automation.KAGGLE_TRACKS_KEY:
            assert node.automation_condition is None, f"{name} runs on its schedule or sensor"
        elif node.parent_keys:
            assert node.automation_condition is not None, f"{name} never follows its parents"
        else:
            assert node.automation_condition == automation.REFRESH_DAILY, name
    # staging/staged_listens also reads the Kafka stream, whose sensor requests the days it ends.
    follow_batch_parents = automation.FOLLOW_PARENTS.ignore(dg.AssetSelection.assets(STREAM_KEY))
    for name in DAILY_PATH:
        node = graph.get(dg.AssetKey.from_user_string(name))
        expected = (
            follow_batch_parents if name == "staging/staged_listens" else automation.FOLLOW_PARENTS
        )
        assert node.automation_condition == expected, name
    # Both read every day of a daily parent (dim_track the landed listens, for its inferred
    # rows): a new day is enough for them to follow.
    for name in ("dim_track", "ml/recommender_model"):
        node = graph.get(dg.AssetKey.from_user_string(name))
        assert node.automation_condition == automation.FOLLOW_DAILY_PARENTS, name


def test_a_new_day_is_requested_as_one_run_down_to_the_marts(defs: dg.Definitions) -> None:
    """Automation runs together only the partitions of one day of one partitions definition: the
    whole daily path must be daily, or a day needs a run per unpartitioned step between."""
    graph = defs.resolve_asset_graph()
    *_, previous, day = daily_partitions.get_partition_keys()
    with dg.instance_for_test() as instance:
        for key in graph.materializable_asset_keys:
            partition = previous if graph.get(key).is_partitioned else None
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
        for check in graph.asset_check_keys:
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    asset_key=check.asset_key, check_name=check.name, passed=True
                )
            )
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert tick.total_requested == 0

        raw_listens = dg.AssetKey(["raw", "synthetic_listens"])
        instance.report_runless_asset_event(dg.AssetMaterialization(raw_listens, partition=day))
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        requested = {
            key.to_user_string(): tick.get_requested_partitions(key)
            for key in graph.materializable_asset_keys
            if tick.get_num_requested(key)
        }
        assert requested == {name: {day} for name in DAILY_PATH}
        # ...in one run that names no checks: Dagster then runs every check of the run's assets,
        # the dbt tests too (named, they would be only those that must run with their asset:
        # see staging.assets.selected_checks). What the daemon builds from the tick:
        (run,) = build_run_requests(
            tick._requested_subsets, graph, run_tags=None, emit_backfills=False
        )
        assert set(run.asset_selection) == {dg.AssetKey.from_user_string(n) for n in DAILY_PATH}
        assert run.asset_check_keys is None


def test_sensors_and_schedule_start_running(defs: dg.Definitions) -> None:
    sensors = {sensor.name: sensor for sensor in defs.sensors or []}
    assert {"automation_condition_sensor", "record_run_failures", "external_files_sensor"} <= set(
        sensors
    )
    for sensor in sensors.values():
        assert sensor.default_status is dg.DefaultSensorStatus.RUNNING, sensor.name
    schedule = defs.get_schedule_def("daily_sources_schedule")
    assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING


def test_daily_schedule_runs_yesterday_for_the_sources_and_downstream(
    defs: dg.Definitions,
) -> None:
    schedule = defs.get_schedule_def("daily_sources_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 1 * * *", "UTC")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 5, 1, 0, tzinfo=UTC)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2025-03-04"

    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def(automation.DAILY_JOB_NAME)
    assert job.partitions_def == daily_partitions
    expected = dg.AssetSelection.assets(*automation.daily_sources(graph)).downstream()
    in_job = set(job.asset_layer.executable_asset_keys)
    assert in_job == set(expected.resolve(graph))
    for name in (
        "raw/synthetic_listens",
        "staging/staged_listens",
        "landing/landed_listens",
        "fct_listens",
    ):
        assert dg.AssetKey.from_user_string(name) in in_job, name
    assert dg.AssetKey.from_user_string("raw/synthetic_tracks") not in in_job


def test_daily_assets_backfill_a_range_in_one_run(defs: dg.Definitions) -> None:
    """One run per range: a month's backfill is one dbt invocation, not thirty."""
    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def(automation.DAILY_JOB_NAME)
    for key in job.asset_layer.executable_asset_keys:
        node = graph.get(key)
        if node.is_partitioned:
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key.to_user_string()


def test_warehouse_steps_share_one_pool(defs: dg.Definitions) -> None:
    """DuckDB takes one writer process: every step that opens the warehouse is in its pool."""
    opens_warehouse = {
        assets_def.op.name: assets_def.op.pool
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition)
        and assets_def.is_executable
        and "warehouse" in assets_def.required_resource_keys
    }
    assert opens_warehouse
    outside = {name: pool for name, pool in opens_warehouse.items() if pool != WAREHOUSE_POOL}
    assert not outside, (
        f"steps outside pool {WAREHOUSE_POOL!r}: {sorted(outside)}; give their "
        "@dg.asset / @dbt_assets `pool=WAREHOUSE_POOL` (music_platform.defs.shared.keys)"
    )
