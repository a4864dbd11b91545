"""The live view of `music-platform run`: each step as it runs, then each asset with its
partitions, rows and checks as its step finishes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import takewhile

import dagster as dg
from rich.console import Console, Group
from rich.spinner import Spinner
from rich.text import Text

from music_platform.run_summary import ROW_COUNT, SKIPPED, WINDOW_TOTALS


@dataclass
class _AssetProgress:
    partitions: set[str] = field(default_factory=set)
    rows: int | None = None
    passed: int = 0
    failed: list[tuple[str, bool, str]] = field(default_factory=list)  # name, blocking, why
    skipped: str | None = None  # why an inactive provider landed nothing


class RunView:
    """Feed it the run's events (`runner.VIEW_EVENTS`); it prints a line per asset when the step
    that wrote it finishes and, on a terminal, shows the steps still running below them."""

    def __init__(
        self,
        console: Console,
        *,
        step_assets: dict[str, list[dg.AssetKey]],
        blocking_checks: set[dg.AssetCheckKey],
    ) -> None:
        self.console = console
        self._step_assets = step_assets
        self._blocking = blocking_checks
        self._running: dict[str, float] = {}
        # What each step wrote or checked, per asset (dbt checks `landing/*` written earlier).
        self._steps: dict[str, dict[dg.AssetKey, _AssetProgress]] = {}
        self._width = max(
            (len(key.to_user_string()) for keys in step_assets.values() for key in keys),
            default=20,
        )

    def update(self, entries: list[dg.EventLogEntry]) -> None:
        for entry in entries:
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            step = event.step_key
            if event.event_type == dg.DagsterEventType.STEP_START:
                self._running[step] = entry.timestamp
            elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                progress = self._progress(step, materialization.asset_key)
                if materialization.partition is not None:
                    progress.partitions.add(materialization.partition)
                skipped = materialization.metadata.get(SKIPPED)
                if skipped is not None:
                    progress.skipped = str(getattr(skipped, "value", skipped))
                value = materialization.metadata.get(ROW_COUNT)
                # Each partition reports its own count, which add up; an asset reporting its
                # window's total in every partition (WINDOW_TOTALS) is counted once.
                if value is not None and (
                    progress.rows is None or WINDOW_TOTALS not in materialization.metadata
                ):
                    progress.rows = (progress.rows or 0) + int(getattr(value, "value", 0))
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                progress = self._progress(step, evaluation.asset_check_key.asset_key)
                if evaluation.passed:
                    progress.passed += 1
                else:
                    blocking = evaluation.asset_check_key in self._blocking
                    progress.failed.append(
                        (evaluation.asset_check_key.name, blocking, evaluation.description or "")
                    )
            else:
                self._running.pop(step, None)
                self._finish(step, event.event_type)

    def __rich__(self) -> Group:
        """The steps still running, each with its spinner and elapsed time."""
        now = time.time()
        lines = []
        for step, started in self._running.items():
            assets = self._step_assets.get(step, [])
            label = assets[0].to_user_string() if len(assets) == 1 else f"{step} ({len(assets)})"
            lines.append(
                Spinner("dots", text=Text(f"{label}  {now - started:.0f} s", style="cyan"))
            )
        return Group(*lines)

    def _progress(self, step: str, key: dg.AssetKey) -> _AssetProgress:
        return self._steps.setdefault(step, {}).setdefault(key, _AssetProgress())

    def _finish(self, step: str, outcome: dg.DagsterEventType) -> None:
        touched = self._steps.get(step, {})
        if outcome == dg.DagsterEventType.STEP_SKIPPED:
            for key in self._step_assets.get(step, []):
                self._print_line("[yellow]-[/]", key, "[yellow]skipped[/]")
            return
        owned = self._step_assets.get(step, [])
        touched = self._print_skipped_together(touched)
        for key, progress in touched.items():
            # dbt's source tests check `landing/*`, written by an earlier step: say whose.
            checked_by = step if owned and key not in owned else None
            self._print_asset(key, progress, checked_by=checked_by)
        if outcome == dg.DagsterEventType.STEP_FAILURE:
            for key in self._step_assets.get(step, []):
                if key not in touched:
                    self._print_line("[red]✗[/]", key, "[red]failed[/]")

    def _print_skipped_together(
        self, touched: dict[dg.AssetKey, _AssetProgress]
    ) -> dict[dg.AssetKey, _AssetProgress]:
        """A provider's assets skipped for one reason as one line (`raw/spotify_* (4)`); returns
        the assets left to print one by one."""
        skipped = {key: p for key, p in touched.items() if p.skipped is not None}
        reasons = {p.skipped for p in skipped.values()}
        if len(skipped) < 2 or len(reasons) != 1:
            return touched
        names = [key.to_user_string() for key in skipped]
        same = takewhile(lambda chars: len(set(chars)) == 1, zip(*names, strict=False))
        prefix = "".join(chars[0] for chars in same)
        label = f"{prefix}* ({len(names)})"
        self.console.print(
            f"[dim]- {label:<{self._width}}  skipped: {reasons.pop()}[/]", highlight=False
        )
        return {key: p for key, p in touched.items() if key not in skipped}

    def _print_asset(
        self, key: dg.AssetKey, progress: _AssetProgress, *, checked_by: str | None
    ) -> None:
        if progress.skipped is not None:
            self._print_line("[dim]-[/]", key, f"[dim]skipped: {progress.skipped}[/]")
            return
        blocked = any(blocking for _, blocking, _ in progress.failed)
        mark = "[red]✗[/]" if blocked else ("[yellow]![/]" if progress.failed else "[green]✓[/]")
        days = len(progress.partitions)
        parts = [
            f"{days:>3} day{'s' if days != 1 else ' '}" if days else " " * 8,
            f"{progress.rows:>10,} rows" if progress.rows is not None else " " * 15,
        ]
        if progress.passed:
            parts.append(f"{progress.passed} check{'s' if progress.passed != 1 else ''} passed")
        if progress.failed:
            parts.append(f"[red]{len(progress.failed)} failed[/]")
        if checked_by is not None:
            parts.append(f"[dim](by {checked_by})[/]")
        self._print_line(mark, key, "  ".join(parts))
        for name, blocking, why in progress.failed:
            kind = "blocking check" if blocking else "check (warning)"
            self.console.print(f"    [red]✗ {kind} {name}[/]: {why}", highlight=False)

    def _print_line(self, mark: str, key: dg.AssetKey, detail: str) -> None:
        line = f"{mark} {key.to_user_string():<{self._width}}  {detail}"
        self.console.print(line, highlight=False)
