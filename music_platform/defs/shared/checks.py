"""Checks that judge the load they run with: the staging and landing assets' pattern."""

from __future__ import annotations

import dagster as dg


def selected_checks(
    context: dg.AssetExecutionContext, results: list[dg.AssetCheckResult]
) -> list[dg.AssetCheckResult]:
    """The results of the checks the run selected. The staging and landing assets let their checks
    be selected apart (can_subset) so that automation leaves a run's checks unselected, which
    Dagster reads as every check of the run's assets: with checks it must run together with their
    asset, it would name only those, and the dbt tests of the same run would be left out."""
    selected = context.selected_asset_check_keys
    return [
        result
        for result in results
        if dg.AssetCheckKey(result.asset_key, result.check_name) in selected
    ]


def refuse_checks_alone(context: dg.AssetExecutionContext) -> None:
    """These checks judge the load they run with, so a launch of them without their asset (which
    can_subset allows, from the UI say) fails saying what to launch instead."""
    if context.selected_asset_keys:
        return
    selected = context.selected_asset_check_keys
    checks = ", ".join(sorted(check.name for check in selected))
    assets = ", ".join(sorted({check.asset_key.to_user_string() for check in selected}))
    raise dg.Failure(
        description=(
            f"the checks {checks} judge the load they run with and cannot run on their own: "
            f"materialize {assets} to run them"
        )
    )
