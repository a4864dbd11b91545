"""The code location loads, and every asset meets the platform's conventions."""

from __future__ import annotations

import dagster as dg
import pytest

from music_platform.definitions import build_definitions
from music_platform.settings import get_settings


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(get_settings())


def test_definitions_validate(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)


def test_every_asset_has_description_freshness_and_group(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        assert node.description, f"{key.to_user_string()} has no description"
        assert node.freshness_policy is not None, f"{key.to_user_string()} has no freshness"
        assert node.group_name != "default", f"{key.to_user_string()} has no group"


def test_every_layer_has_a_blocking_check(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    blocking = {
        spec.asset_key
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition)
        for spec in assets_def.check_specs
        if spec.blocking
    }
    groups = {graph.get(key).group_name for key in blocking}
    assert {"raw", "staging", "warehouse", "marts", "ml"} <= groups


def test_time_based_assets_share_the_daily_partitions(defs: dg.Definitions) -> None:
    from music_platform.defs.shared.keys import daily_partitions

    graph = defs.resolve_asset_graph()
    for name in (
        "raw/synthetic_listens",
        "staging/staged_listens",
        "landing/landed_listens",
        "fct_listens",
    ):
        key = dg.AssetKey.from_user_string(name)
        assert graph.get(key).partitions_def == daily_partitions, name


def test_dbt_source_tests_are_checks_on_the_landing_assets(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    checks = {
        key.name
        for key in graph.get_check_keys_for_assets({dg.AssetKey(["landing", "landed_users"])})
    }
    # Without them dbt still runs these tests and Dagster logs a warning for each.
    assert {"source_unique_landing_users_user_id", "reconciles_with_staging"} <= checks
    for table in ("artists", "tracks", "listens"):
        keys = graph.get_check_keys_for_assets({dg.AssetKey(["landing", f"landed_{table}"])})
        assert any(key.name.startswith(f"source_not_null_landing_{table}_") for key in keys)
