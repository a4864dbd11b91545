"""What a run did, read back from the Dagster instance: assets, rows, partitions and checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import dagster as dg
from dagster._core.events import DagsterEventType

ROW_COUNT = "dagster/row_count"


@dataclass
class AssetOutcome:
    key: str
    partitions: int
    rows: int
    status: str  # materialized | failed | skipped


@dataclass
class CheckFailure:
    asset: str
    check: str
    blocking: bool
    description: str


@dataclass
class RunSummary:
    env: str
    assets: list[AssetOutcome]
    checks: dict[str, int]
    seconds: float
    run_id: str
    failures: list[str] = field(default_factory=list)
    failed_checks: list[CheckFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not any(check.blocking for check in self.failed_checks)

    def as_json(self) -> dict:
        """The documented summary shape (plus the run id for finding it in the UI)."""
        return {
            "env": self.env,
            "assets": [asdict(outcome) for outcome in self.assets],
            "checks": self.checks,
            "seconds": round(self.seconds, 3),
            "run_id": self.run_id,
        }


def _row_count(metadata: dict) -> int:
    value = metadata.get(ROW_COUNT)
    return int(getattr(value, "value", value) or 0)


def summarise_run(
    instance: dg.DagsterInstance,
    run_id: str,
    *,
    env: str,
    asset_keys: Sequence[dg.AssetKey],
    blocking_checks: set[dg.AssetCheckKey],
    step_assets: dict[str, list[dg.AssetKey]],
    seconds: float,
) -> RunSummary:
    partitions: dict[dg.AssetKey, set[str | None]] = {}
    rows: dict[dg.AssetKey, int] = {}
    failed_keys: set[dg.AssetKey] = set()
    failures: list[str] = []
    checks = {"passed": 0, "failed": 0}
    failed_checks: list[CheckFailure] = []

    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            key = materialization.asset_key
            # A partition range is one write reported once per partition: count its rows once.
            if key not in rows:
                rows[key] = _row_count(dict(materialization.metadata))
            partitions.setdefault(key, set()).add(materialization.partition)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                checks["passed"] += 1
                continue
            checks["failed"] += 1
            check_key = evaluation.asset_check_key
            failed_checks.append(
                CheckFailure(
                    asset=check_key.asset_key.to_user_string(),
                    check=check_key.name,
                    blocking=check_key in blocking_checks,
                    description=evaluation.description or "",
                )
            )
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            message = error.message.strip().splitlines()[-1] if error else "unknown error"
            failures.append(f"step {event.step_key} failed: {message}")
            failed_keys.update(step_assets.get(event.step_key or "", []))

    outcomes = []
    for key in asset_keys:
        if key in rows:
            status = "materialized"
        elif key in failed_keys:
            status = "failed"
        else:
            status = "skipped"
        outcomes.append(
            AssetOutcome(
                key=key.to_user_string(),
                partitions=len([p for p in partitions.get(key, set()) if p is not None]),
                rows=rows.get(key, 0),
                status=status,
            )
        )
    return RunSummary(
        env=env,
        assets=outcomes,
        checks=checks,
        seconds=seconds,
        run_id=run_id,
        failures=failures,
        failed_checks=failed_checks,
    )
