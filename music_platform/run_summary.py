"""What a run did, read back from the Dagster instance: assets, rows, partitions and checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import dagster as dg

# The type of a step failure's error chain, which the public events expose untyped.
from dagster._utils.error import SerializableErrorInfo

ROW_COUNT = "dagster/row_count"
# An inactive provider's materialization says why it landed nothing under this key.
SKIPPED = "skipped"
# A raw asset landing a window at once reports the window's totals in each partition's
# materialization, with the number of partitions under this key.
WINDOW_TOTALS = "partitions"


@dataclass
class AssetOutcome:
    key: str
    partitions: int
    rows: int
    status: str  # materialized | blocked | failed | skipped (not run, or provider not configured)
    rejected: int = 0
    deduplicated: int = 0
    flagged: int = 0
    """Rows kept but flagged by a warning check (listens of tracks not yet in the catalogue)."""
    drift: list[dict[str, str]] = field(default_factory=list)


@dataclass
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    blocking: bool
    message: str


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
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[CheckFailure] = field(default_factory=list)
    check_results: list[CheckOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not any(check.blocking for check in self.failed_checks)

    def as_json(self) -> dict:
        """The documented summary shape (plus the run id for finding it in the UI)."""
        return {
            "env": self.env,
            "assets": [asdict(outcome) for outcome in self.assets],
            "checks": {
                **self.checks,
                "results": [asdict(outcome) for outcome in self.check_results],
            },
            "seconds": round(self.seconds, 3),
            "run_id": self.run_id,
        }


def _value(metadata: dict, name: str, default: object) -> object:
    value = metadata.get(name, default)
    return getattr(value, "value", value)


def _figures(metadata: dict) -> dict:
    return {
        ROW_COUNT: int(_value(metadata, ROW_COUNT, 0) or 0),
        "rejected": int(_value(metadata, "rejected", 0) or 0),
        "deduplicated": int(_value(metadata, "deduplicated", 0) or 0),
        "flagged": int(_value(metadata, "flagged", 0) or 0),
        "drift": list(_value(metadata, "drift", []) or []),
    }


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
    quality: dict[dg.AssetKey, dict] = {}
    blocked: set[dg.AssetKey] = set()
    not_configured: set[dg.AssetKey] = set()
    check_results: list[CheckOutcome] = []
    failed_keys: set[dg.AssetKey] = set()
    failures: list[str] = []
    failed_steps: list[str] = []
    checks = {"passed": 0, "failed": 0}
    failed_checks: list[CheckFailure] = []

    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            key = materialization.asset_key
            metadata = dict(materialization.metadata)
            figures = _figures(metadata)
            if key not in rows:
                rows[key] = 0
                quality[key] = {"rejected": 0, "deduplicated": 0, "flagged": 0, "drift": []}
                if SKIPPED in metadata:
                    not_configured.add(key)
            # Each partition reports its own figures, which add up; an asset that reports its
            # window's totals in every partition (WINDOW_TOTALS) is counted once.
            if WINDOW_TOTALS not in metadata or not partitions.get(key):
                rows[key] += figures.pop(ROW_COUNT)
                for figure in ("rejected", "deduplicated", "flagged"):
                    quality[key][figure] += figures[figure]
                drift = quality[key]["drift"]
                drift.extend(change for change in figures["drift"] if change not in drift)
            partitions.setdefault(key, set()).add(materialization.partition)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            check_key = evaluation.asset_check_key
            blocking = check_key in blocking_checks
            check_results.append(
                CheckOutcome(
                    asset=check_key.asset_key.to_user_string(),
                    check=check_key.name,
                    passed=evaluation.passed,
                    blocking=blocking,
                    message=evaluation.description or "",
                )
            )
            if evaluation.passed:
                checks["passed"] += 1
                continue
            checks["failed"] += 1
            if blocking:
                blocked.add(check_key.asset_key)
            failed_checks.append(
                CheckFailure(
                    asset=check_key.asset_key.to_user_string(),
                    check=check_key.name,
                    blocking=blocking,
                    description=evaluation.description or "",
                )
            )
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            # Dagster wraps what the step raised ("Error occurred while executing op ..."):
            # report what the step raised, not the wrapper (nor what that error wrapped).
            while error is not None and error.cause is not None and _dagster_wrapper(error):
                error = error.cause
            message = error.message.strip().splitlines()[-1] if error else "unknown error"
            failures.append(f"step {event.step_key} failed: {message}")
            failed_steps.append(event.step_key or "")
            failed_keys.update(step_assets.get(event.step_key or "", []))

    outcomes = []
    for key in asset_keys:
        if key in blocked:
            status = "blocked"
        elif key in not_configured:
            status = "skipped"
        elif key in rows:
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
                **quality.get(key, {}),
            )
        )
    return RunSummary(
        env=env,
        assets=outcomes,
        checks=checks,
        seconds=seconds,
        run_id=run_id,
        failures=failures,
        failed_steps=failed_steps,
        failed_checks=failed_checks,
        check_results=check_results,
    )


def _dagster_wrapper(error: SerializableErrorInfo) -> bool:
    return (error.cls_name or "").startswith("Dagster")
