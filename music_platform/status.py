"""`music-platform status`: every asset's last materialization, freshness and checks, as Dagster
recorded them, plus the latest failed runs the failure sensor wrote down."""

from __future__ import annotations

import asyncio
import json
import os
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

# Freshness and check states read from the instance: Dagster's UI reads them the same way, and
# no public API returns them.
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import FRESHNESS_EVALUATORS_BY_POLICY_TYPE
from dagster._core.loader import LoadingContext
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from rich.table import Table

from music_platform.settings import Settings

FRESHNESS_COLOURS = {"pass": "green", "warn": "yellow", "fail": "red"}
CHECK_COLOURS = {"passed": "green", "warned": "yellow", "failed": "red", "running": "cyan"}


@dataclass
class CheckState:
    name: str
    blocking: bool
    state: str  # passed | warned | failed | running | skipped | never
    partition: str | None = None
    at: str | None = None
    description: str | None = None


@dataclass
class AssetStatus:
    key: str
    group: str
    partitioned: bool
    freshness: str  # pass | warn | fail | unknown (never materialized) | none (no policy)
    last_materialized_at: str | None = None
    last_partition: str | None = None
    last_run_id: str | None = None
    materialized_partitions: int | None = None
    checks: list[CheckState] = field(default_factory=list)


class _InstanceLoadingContext(LoadingContext):
    """The batch-loading scope Dagster's freshness evaluators read the instance through."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._loaders: dict = {}

    @property
    def instance(self) -> dg.DagsterInstance:
        return self._instance

    @property
    def loaders(self) -> dict:
        return self._loaders


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


async def _freshness_states(
    instance: dg.DagsterInstance, graph: dg.AssetGraph, keys: list[dg.AssetKey]
) -> list[FreshnessState]:
    # The daemon's own evaluators, run now: the same answer the UI shows, also without a daemon.
    context = _InstanceLoadingContext(instance)

    async def evaluate(key: dg.AssetKey) -> FreshnessState:
        node = graph.get(key)
        policy = node.freshness_policy_or_from_metadata
        evaluator = FRESHNESS_EVALUATORS_BY_POLICY_TYPE.get(type(policy)) if policy else None
        if evaluator is None:
            return FreshnessState.NOT_APPLICABLE
        return await evaluator().evaluate_freshness(context=context, node=node)

    return list(await asyncio.gather(*(evaluate(key) for key in keys)))


def _check_state(
    instance: dg.DagsterInstance, spec: dg.AssetCheckSpec, summary: object | None
) -> CheckState:
    state = CheckState(name=spec.name, blocking=spec.blocking, state="never")
    record = getattr(summary, "last_check_execution_record", None)
    if record is None:
        return state
    if record.status is AssetCheckExecutionRecordStatus.PLANNED:
        run = instance.get_run_by_id(record.run_id)
        if run is not None and not run.is_finished:
            state.state, state.at = "running", _iso(record.create_timestamp)
            return state
        # The run ended without evaluating it (an upstream step failed): report the last result.
        record = getattr(summary, "last_completed_check_execution_record", None)
        if record is None:
            state.state = "skipped"
            return state
    evaluation = record.evaluation
    if evaluation is None:
        state.state = "skipped"
        return state
    if evaluation.passed:
        state.state = "passed"
    else:
        state.state = "warned" if evaluation.severity is dg.AssetCheckSeverity.WARN else "failed"
    state.partition = record.partition
    state.at = _iso(record.create_timestamp)
    state.description = evaluation.description
    return state


def collect_status(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[AssetStatus]:
    """The state of every materializable asset in `defs`, read from `instance`."""
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.materializable_asset_keys, key=lambda key: key.to_user_string())
    records = {record.asset_entry.asset_key: record for record in instance.get_asset_records(keys)}
    freshness = asyncio.run(_freshness_states(instance, graph, keys))
    check_specs = {
        key: sorted(
            (graph.get_check_spec(check_key) for check_key in graph.get(key).check_keys),
            key=lambda spec: spec.name,
        )
        for key in keys
    }
    summaries = instance.event_log_storage.get_asset_check_summary_records(
        [spec.key for specs in check_specs.values() for spec in specs]
    )
    statuses = []
    for key, state in zip(keys, freshness, strict=True):
        node = graph.get(key)
        status = AssetStatus(
            key=key.to_user_string(),
            group=node.group_name,
            partitioned=node.is_partitioned,
            freshness="none" if state is FreshnessState.NOT_APPLICABLE else state.value.lower(),
            checks=[
                _check_state(instance, spec, summaries.get(spec.key)) for spec in check_specs[key]
            ],
        )
        record = records.get(key)
        event = record.asset_entry.last_materialization if record else None
        if event is not None:
            status.last_materialized_at = _iso(event.timestamp)
            status.last_run_id = event.run_id
            status.last_partition = event.dagster_event.partition if event.dagster_event else None
            if node.is_partitioned:
                status.materialized_partitions = len(instance.get_materialized_partitions(key))
        statuses.append(status)
    return statuses


def recent_run_failures(path: Path, limit: int = 5) -> list[dict]:
    """The last `limit` failures the `record_run_failures` sensor wrote, newest last."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as log:
        return [json.loads(line) for line in deque(log, maxlen=limit) if line.strip()]


def status_json(statuses: list[AssetStatus], failures: list[dict], env: str) -> dict:
    return {
        "env": env,
        "assets": [asdict(status) for status in statuses],
        "recent_run_failures": failures,
    }


def _checks_cell(checks: list[CheckState]) -> str:
    if not checks:
        return "[dim]-[/]"
    counts: dict[str, int] = {}
    for check in checks:
        counts[check.state] = counts.get(check.state, 0) + 1
    summary = ", ".join(
        f"[{CHECK_COLOURS.get(state, 'dim')}]{count} {state}[/]"
        for state, count in sorted(counts.items())
    )
    bad = [check.name for check in checks if check.state == "failed"]
    return summary + (f" ({', '.join(bad)})" if bad else "")


def status_table(statuses: list[AssetStatus], env: str) -> Table:
    table = Table(title=f"music-platform status ({env})")
    table.add_column("asset", overflow="fold")
    table.add_column("last materialized")
    table.add_column("partition")
    table.add_column("freshness")
    table.add_column("checks")
    for status in statuses:
        partition = status.last_partition or "-"
        if status.materialized_partitions is not None:
            partition += f" ({status.materialized_partitions} done)"
        colour = FRESHNESS_COLOURS.get(status.freshness, "dim")
        table.add_row(
            status.key,
            (status.last_materialized_at or "never").replace("T", " "),
            partition,
            f"[{colour}]{status.freshness}[/]",
            _checks_cell(status.checks),
        )
    return table


def agent_tools_line(summary: dict) -> str:
    """One line on the agent's traced tool calls (lib/agent/tracing.py)."""
    if not summary["calls"]:
        return "agent tools: no calls yet"
    per_tool = ", ".join(
        f"{tool} {stats['calls']} ({stats['refusals']} refused, p50 {stats['p50_ms']:.1f} ms)"
        for tool, stats in summary["tools"].items()
    )
    return (
        f"agent tools: {summary['calls']} calls, {summary['refusals']} refused, "
        f"last {summary['last_call_at']}: {per_tool}"
    )


def instance_environment(settings: Settings) -> dict[str, str]:
    """The variables dagster.yaml reads for PostgreSQL storage (dev, prod), from the settings."""
    postgres = settings.postgres
    return {
        "POSTGRES_HOST": postgres.host,
        "POSTGRES_PORT": str(postgres.port),
        "POSTGRES_USER": postgres.user,
        "POSTGRES_PASSWORD": postgres.password.get_secret_value(),
        "DAGSTER_POSTGRES_DB": os.environ.get("DAGSTER_POSTGRES_DB", postgres.db),
    }


def show(settings: Settings, *, as_json: bool) -> None:
    """Print the status of the instance this environment uses (the one `run` writes to)."""
    from rich.console import Console

    from music_platform.connectivity import check_services
    from music_platform.instance import prepare_dagster_home

    check_services(settings)
    os.environ.update(instance_environment(settings))
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    from music_platform.definitions import build_definitions
    from music_platform.defs.automation import run_failures_log

    defs = build_definitions(settings)
    with dg.DagsterInstance.get() as instance:
        statuses = collect_status(defs, instance)
    failures = recent_run_failures(run_failures_log(settings))
    env = settings.env.value
    from music_platform.lib.agent.tracing import summarise_trace

    agent_tools = summarise_trace(settings.agent_trace_path)
    if as_json:
        print(
            json.dumps(
                status_json(statuses, failures, env) | {"agent_tools": agent_tools}, indent=2
            )
        )
        return
    console = Console()
    console.print(status_table(statuses, env))
    console.print(agent_tools_line(agent_tools))
    for failure in failures:
        steps = ", ".join(step["step"] or "?" for step in failure["failed_steps"]) or "-"
        console.print(
            f"[red]run {failure['run_id']} failed[/] {failure['failed_at']} "
            f"({failure['launched_by']}; steps: {steps}): {failure['message']}"
        )
