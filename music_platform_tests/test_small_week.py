"""A new self-hosted user's first week, through the real `music-platform run --source files
--summary`: a Kaggle-format catalogue and a listening-events file of a few hundred listens.
Clean data passes without one failed check; a week with tracks the catalogue does not know
yet, a rejected catalogue row and exact duplicate rows passes too, and the summary tells the
rejected, deduplicated and flagged rows apart."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from music_platform_tests.support.platform_env import platform_environment, run_cli
from music_platform_tests.support.small_week import LISTENS, Week, run_arguments, write_week

pytestmark = pytest.mark.slow


def _run(folder: Path, week: Week) -> tuple[dict, dict[str, dict]]:
    env = platform_environment(
        folder / "home",
        KAGGLE_TRACKS_CSV=str(week.catalogue),
        LISTEN_EVENTS_FILE=str(week.events),
    )
    summary_path = folder / "run.json"
    completed = run_cli(*run_arguments(summary_path), env=env, cwd=folder)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    summary = json.loads(summary_path.read_text())
    return summary, {asset["key"]: asset for asset in summary["assets"]}


def _failed_checks(summary: dict) -> list[tuple[str, str, bool]]:
    return [
        (check["asset"], check["check"], check["blocking"])
        for check in summary["checks"]["results"]
        if not check["passed"]
    ]


def test_a_clean_week_passes_every_check(shared_data: Path, tmp_path: Path) -> None:
    summary, assets = _run(tmp_path, write_week(tmp_path, shared_data))

    assert _failed_checks(summary) == []
    assert summary["checks"]["failed"] == 0
    assert {key for key, asset in assets.items() if asset["status"] == "blocked"} == set()
    listens = assets["staging/staged_listens"]
    assert (listens["rows"], listens["rejected"], listens["deduplicated"]) == (LISTENS, 0, 0)
    assert listens["flagged"] == 0
    assert assets["fct_listens"]["rows"] == LISTENS
    assert assets["ml/recommender_model"]["status"] == "materialized"


def test_a_week_with_unknown_tracks_keeps_every_listen_and_flags_them(
    shared_data: Path, tmp_path: Path
) -> None:
    week = write_week(
        tmp_path, shared_data, unknown_tracks=5, bad_catalogue_row=True, duplicate_catalogue_rows=2
    )

    summary, assets = _run(tmp_path, week)

    # Only the warning flags; nothing blocks.
    assert _failed_checks(summary) == [("staging/staged_listens", "tracks_in_catalogue", False)]
    catalogue = assets["raw/kaggle_tracks"]
    assert (catalogue["rejected"], catalogue["deduplicated"]) == (1, 2)
    listens = assets["staging/staged_listens"]
    assert (listens["rows"], listens["rejected"], listens["flagged"]) == (
        LISTENS,
        0,
        week.unknown_listens,
    )
    assert assets["fct_listens"]["rows"] == LISTENS
    with duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True) as warehouse:
        inferred = warehouse.execute(
            "SELECT count(*), count(track_name), min(source_name) FROM analytics.dim_track "
            "WHERE is_inferred"
        ).fetchone()
        unattributed = warehouse.execute(
            "SELECT count(*) FROM analytics.fct_listens WHERE artist_id IS NULL"
        ).fetchone()
    # Five never-catalogued tracks and the one whose catalogue row was rejected.
    assert inferred == (6, 0, "not yet in the catalogue")
    assert unattributed == (week.unknown_listens,)
