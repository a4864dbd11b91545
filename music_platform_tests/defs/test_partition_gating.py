"""Blocking checks stop a bad partition from flowing on; reruns of a partition are idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from music_platform.run_summary import RunSummary, summarise_run
from music_platform_tests.support.platform_env import applied, platform_environment

pytestmark = pytest.mark.slow

RAW_LISTENS = dg.AssetKey(["raw", "synthetic_listens"])


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The local platform on a throwaway home, with two days already materialized."""
    home = tmp_path_factory.mktemp("home")
    with applied(platform_environment(home)):
        from music_platform import runner
        from music_platform.definitions import build_definitions
        from music_platform.defs.shared.keys import daily_partitions
        from music_platform.settings import get_settings

        settings = get_settings()
        defs = build_definitions(get_settings())
        instance = dg.DagsterInstance.ephemeral()
        keys = runner.last_partition_keys(daily_partitions, 2)
        first = runner.run_graph(defs, instance, settings=settings, partition_keys=keys)
        assert first.ok, first.failures + [c.description for c in first.failed_checks]
        yield {"home": home, "defs": defs, "instance": instance, "keys": keys, "settings": settings}


def _counts(home: Path, day: str) -> dict[str, int]:
    with duckdb.connect(str(home / "staging.duckdb"), read_only=True) as staging:
        staged = staging.execute(
            "SELECT COUNT(*) FROM staging.listens WHERE listen_date = ?", [day]
        ).fetchone()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as warehouse:
        landed = warehouse.execute(
            "SELECT COUNT(*) FROM landing.listens WHERE listen_date = ?", [day]
        ).fetchone()
        facts = warehouse.execute(
            "SELECT COUNT(*) FROM analytics.fct_listens WHERE listen_date = ?", [day]
        ).fetchone()
    return {"staging": staged[0], "landing": landed[0], "facts": facts[0]}


def _downstream_of_raw(defs: dg.Definitions) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    selection = dg.AssetSelection.assets(RAW_LISTENS).downstream() - dg.AssetSelection.assets(
        RAW_LISTENS
    )
    return sorted(selection.resolve(graph), key=lambda key: key.to_user_string())


def _run_partition(platform: dict, day: str) -> dg.ExecuteInProcessResult:
    with applied(platform_environment(platform["home"])):
        job = platform["defs"].resolve_implicit_global_asset_job_def()
        return job.execute_in_process(
            instance=platform["instance"],
            partition_key=day,
            asset_selection=_downstream_of_raw(platform["defs"]),
            raise_on_error=False,
        )


def test_rerunning_a_partition_gives_the_same_counts(platform: dict) -> None:
    day = platform["keys"][0]
    before = _counts(platform["home"], day)
    assert before["staging"] > 0
    assert before["staging"] == before["landing"] == before["facts"]
    for _ in range(2):
        result = _run_partition(platform, day)
        assert result.success
        assert _counts(platform["home"], day) == before


def test_corrupted_partition_fails_its_blocking_check_and_stops_downstream(
    platform: dict,
) -> None:
    from music_platform.lib.raw_files import raw_path, write_raw

    day = platform["keys"][-1]
    before = _counts(platform["home"], day)
    path = raw_path(platform["settings"].raw_dir, "synthetic", "listens", day)
    raw = pl.read_parquet(path).with_row_index("position")
    corrupted = raw.with_columns(
        ms_played=pl.when(pl.col("position") % 3 == 0).then(-5_000).otherwise(pl.col("ms_played")),
        track_id=pl.when(pl.col("position") % 3 == 1)
        .then(pl.lit("no-such-track"))
        .otherwise(pl.col("track_id")),
    ).drop("position")
    write_raw(corrupted, path)

    result = _run_partition(platform, day)

    assert not result.success
    checks = {
        evaluation.check_name: evaluation
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.asset_key == dg.AssetKey(["staging", "staged_listens"])
    }
    assert not checks["reject_rate_within_threshold"].passed
    reasons = checks["reject_rate_within_threshold"].metadata["reasons"].value
    assert any("ms_played" in reason for reason in reasons)
    # A listen of a track the catalogue does not know is kept (flagged), never a reject reason.
    assert not any("track_id" in reason for reason in reasons)
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert dg.AssetKey(["landing", "landed_listens"]) not in materialized
    assert dg.AssetKey(["fct_listens"]) not in materialized
    # Staging and the warehouse still hold the day as it was before the bad data arrived.
    after = _counts(platform["home"], day)
    assert after["staging"] == before["staging"]
    assert after["landing"] == before["landing"]
    assert after["facts"] == before["facts"]

    # What `run --summary` reports for that run, so a script can read it.
    summary = _summary(platform, result).as_json()
    by_key = {asset["key"]: asset for asset in summary["assets"]}
    assert by_key["staging/staged_listens"]["status"] == "blocked"
    # Every third listen has a negative duration (rejected); every third names an unknown track
    # (kept and flagged).
    assert by_key["staging/staged_listens"]["rejected"] == (raw.height + 2) // 3
    assert by_key["staging/staged_listens"]["flagged"] == (raw.height + 1) // 3
    assert by_key["staging/staged_listens"]["deduplicated"] == 0
    assert by_key["staging/staged_listens"]["drift"] == []
    assert by_key["landing/landed_listens"]["status"] == "skipped"
    assert by_key["fct_listens"]["status"] == "skipped"
    failing = [check for check in summary["checks"]["results"] if not check["passed"]]
    assert {
        "asset": "staging/staged_listens",
        "check": "reject_rate_within_threshold",
        "passed": False,
        "blocking": True,
        "message": checks["reject_rate_within_threshold"].description,
    } in failing
    assert len(summary["checks"]["results"]) == summary["checks"]["passed"] + len(failing)


def _summary(platform: dict, result: dg.ExecuteInProcessResult) -> RunSummary:
    from music_platform import runner

    defs = platform["defs"]
    return summarise_run(
        platform["instance"],
        result.run_id,
        env="local",
        asset_keys=_downstream_of_raw(defs),
        blocking_checks=runner.blocking_checks(defs),
        step_assets=runner.step_assets(defs),
        seconds=0.0,
    )


def test_the_model_shows_its_metrics_as_a_table_and_as_numbers_to_plot(platform: dict) -> None:
    instance: dg.DagsterInstance = platform["instance"]
    event = instance.get_latest_materialization_event(dg.AssetKey(["ml", "recommender_model"]))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert "| ndcg@10 |" in metadata["metrics"].value
    for name in ("ndcg@10", "baseline ndcg@10"):
        assert isinstance(metadata[name], dg.FloatMetadataValue)
    assert not any(
        value.value.startswith("![")
        for value in metadata.values()
        if isinstance(value, dg.MarkdownMetadataValue)
    )
