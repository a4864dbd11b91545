"""A staging or landing check launched without its asset (the UI allows it: the assets can be
subset) fails saying to materialize the asset, instead of Dagster's internal error."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from music_platform_tests.support.platform_env import applied, platform_environment


@pytest.mark.parametrize("asset", [["staging", "staged_users"], ["landing", "landed_tracks"]])
def test_a_check_launched_alone_names_the_asset_to_materialize(
    tmp_path: Path, asset: list[str]
) -> None:
    with applied(platform_environment(tmp_path / "home")):
        from music_platform.definitions import build_definitions
        from music_platform.settings import get_settings

        definitions = build_definitions(get_settings())
        key = dg.AssetKey(asset)
        check = next(
            check
            for check in definitions.resolve_asset_graph().asset_check_keys
            # dbt's source tests on landing/* run in dbt's step, which can run them alone
            if check.asset_key == key and not check.name.startswith("source_")
        )
        job = dg.define_asset_job("check_alone", selection=dg.AssetSelection.checks(check))
        result = (
            dg.Definitions.merge(definitions, dg.Definitions(jobs=[job]))
            .resolve_job_def("check_alone")
            .execute_in_process(
                instance=dg.DagsterInstance.ephemeral(),
                raise_on_error=False,
            )
        )

    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert message == (
        f"the checks {check.name} judge the load they run with and cannot run on their own: "
        f"materialize {key.to_user_string()} to run them"
    )
