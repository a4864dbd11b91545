"""A multi-day run reports each partition's own figures, equal to the SQL counts of that day."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from music_platform_tests.support.platform_env import applied, platform_environment

pytestmark = pytest.mark.slow

STAGED = dg.AssetKey(["staging", "staged_listens"])
LANDED = dg.AssetKey(["landing", "landed_listens"])
FACTS = dg.AssetKey(["fct_listens"])
DAILY_USERS = dg.AssetKey(["fct_daily_user_listens"])
PLOTTED = ("reject_rate", "match_rate", "freshness_lag_hours")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The local platform on a throwaway home, three days materialized in one run."""
    home = tmp_path_factory.mktemp("home")
    with applied(platform_environment(home)):
        from music_platform import runner
        from music_platform.definitions import build_definitions
        from music_platform.defs.shared.keys import daily_partitions
        from music_platform.settings import get_settings

        settings = get_settings()
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()
        keys = runner.last_partition_keys(daily_partitions, 3)
        summary = runner.run_graph(defs, instance, settings=settings, partition_keys=keys)
        assert summary.ok, summary.failures + [c.description for c in summary.failed_checks]
        yield {"home": home, "instance": instance, "keys": keys, "summary": summary}


def _metadata(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> dict:
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    materialization = record.asset_materialization
    assert materialization is not None
    return {name: value.value for name, value in materialization.metadata.items()}


def _sql_counts(home: Path, day: str) -> dict[str, int]:
    with duckdb.connect(str(home / "staging.duckdb"), read_only=True) as staging:
        [(staged,)] = staging.execute(
            "SELECT COUNT(*) FROM staging.listens WHERE listen_date = ?", [day]
        ).fetchall()
        [(duplicates, rejected)] = staging.execute(
            "SELECT COUNT(*) FILTER (WHERE reason LIKE 'duplicate %'), "
            "COUNT(*) FILTER (WHERE reason NOT LIKE 'duplicate %') "
            "FROM staging.rejects WHERE table_name = 'listens' AND partition_key = ?",
            [day],
        ).fetchall()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as warehouse:
        [(landed,)] = warehouse.execute(
            "SELECT COUNT(*) FROM landing.listens WHERE listen_date = ?", [day]
        ).fetchall()
        [(facts,)] = warehouse.execute(
            "SELECT COUNT(*) FROM analytics.fct_listens WHERE listen_date = ?", [day]
        ).fetchall()
        [(daily_users,)] = warehouse.execute(
            "SELECT COUNT(*) FROM analytics.fct_daily_user_listens WHERE listen_date = ?", [day]
        ).fetchall()
    return {
        "staged": staged,
        "duplicates": duplicates,
        "rejected": rejected,
        "landed": landed,
        "facts": facts,
        "daily_users": daily_users,
    }


def test_each_partition_reports_its_own_day(platform: dict) -> None:
    instance, home = platform["instance"], platform["home"]
    staged_counts = []
    for day in platform["keys"]:
        sql = _sql_counts(home, day)
        staged = _metadata(instance, STAGED, day)
        assert staged["dagster/row_count"] == sql["staged"] > 0
        assert staged["rejected"] == sql["rejected"]
        assert staged["deduplicated"] == sql["duplicates"]
        assert staged["late"] == 0  # nothing was streamed
        assert staged["blocked"] == "no"
        assert staged["reject_rate"] == pytest.approx(
            sql["rejected"] / (sql["staged"] + sql["rejected"]), abs=1e-6
        )
        for name in PLOTTED:  # floats, so Dagster plots them across partitions
            assert isinstance(staged[name], float)
        assert 0 <= staged["match_rate"] <= 1
        assert _metadata(instance, LANDED, day)["dagster/row_count"] == sql["landed"]
        assert _metadata(instance, FACTS, day)["dagster/row_count"] == sql["facts"]
        assert _metadata(instance, DAILY_USERS, day)["dagster/row_count"] == sql["daily_users"]
        staged_counts.append(sql["staged"])
    # The days differ, so no partition can be showing the window's total.
    assert len(set(staged_counts)) > 1
    outcome = next(a for a in platform["summary"].assets if a.key == STAGED.to_user_string())
    assert outcome.rows == sum(staged_counts)


def test_dbt_checks_say_what_they_judged(platform: dict) -> None:
    instance = platform["instance"]
    check = dg.AssetCheckKey(FACTS, "not_null_fct_listens_listen_date")
    evaluation = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])[
        check
    ].event.dagster_event.event_specific_data
    window = f"{platform['keys'][0]} .. {platform['keys'][-1]}"
    assert evaluation.description == f"passed on partitions {window}"
    assert evaluation.metadata["partitions"].value == window
