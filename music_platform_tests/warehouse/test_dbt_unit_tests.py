"""The dbt unit tests (`unit_tests:` in the models' YAML) run on an empty DuckDB warehouse, each
named one passes, and they catch a real mistake in the logic they cover."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from music_platform.lib.dbt_project import DBT_PROJECT_DIR

UNIT_TESTS = {
    "int_listening_sessions": (
        "int_listening_sessions_gap_boundary",
        "int_listening_sessions_gap_from_latest_end",
        "int_listening_sessions_cut_at_midnight",
        "int_listening_sessions_users_interleaved",
    ),
    "int_track_identity": (
        "int_track_identity_collapses_duplicates",
        "int_track_identity_spotify_ids",
    ),
    "fct_listens": ("fct_listens_one_row_per_listen",),
}
UNIT_TEST_IDS = frozenset(
    f"unit_test.music_platform.{model}.{name}"
    for model, names in UNIT_TESTS.items()
    for name in names
)
SESSION_GAP_TEST = (
    "unit_test.music_platform.int_listening_sessions.int_listening_sessions_gap_boundary"
)


def _run_unit_tests(project_dir: Path, work_dir: Path) -> dict[str, str]:
    """`dbt test --select test_type:unit` on the `local` target; each unit test's status."""
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "test",
            "--select",
            "test_type:unit",
            "--target",
            "local",
        ],
        cwd=project_dir,
        env={
            **os.environ,
            # No upstream relation is built: the fixtures are SQL, so the file starts empty.
            "MUSIC_PLATFORM_WAREHOUSE_PATH": str(work_dir / "warehouse.duckdb"),
            "DBT_TARGET_PATH": str(work_dir / "target"),
            "DBT_LOG_PATH": str(work_dir / "logs"),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    results = work_dir / "target" / "run_results.json"
    assert results.exists(), completed.stdout[-4000:] + completed.stderr[-4000:]
    statuses = {
        result["unique_id"]: result["status"]
        for result in json.loads(results.read_text())["results"]
    }
    # dbt exits non-zero exactly when a unit test did not pass.
    assert (completed.returncode == 0) == all(s == "pass" for s in statuses.values()), (
        completed.stdout[-4000:]
    )
    return statuses


def test_every_unit_test_runs_and_passes(tmp_path: Path) -> None:
    statuses = _run_unit_tests(DBT_PROJECT_DIR, tmp_path)

    assert statuses == dict.fromkeys(UNIT_TEST_IDS, "pass")


def test_the_session_gap_test_catches_an_off_by_one(tmp_path: Path) -> None:
    """A session opened at exactly `session_gap_minutes` of idle time, not past it, fails the
    boundary test and only it."""
    project = tmp_path / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    model = project / "models" / "intermediate" / "listening" / "int_listening_sessions.sql"
    gap_rule = "> {{ session_gap_seconds }} then 1"
    assert model.read_text().count(gap_rule) == 1
    model.write_text(model.read_text().replace(gap_rule, ">= {{ session_gap_seconds }} then 1"))

    statuses = _run_unit_tests(project, tmp_path / "run")

    assert statuses == {
        unique_id: "fail" if unique_id == SESSION_GAP_TEST else "pass"
        for unique_id in UNIT_TEST_IDS
    }
