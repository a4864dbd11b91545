"""The semantic layer (MetricFlow) over the marts: its semantic models and metrics validate
with `mf validate-configs`, as they would in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from music_platform.lib.dbt_project import DBT_PROJECT_DIR

METRICS = {
    "listens",
    "listeners",
    "minutes_played",
    "ms_played",
    "sessions",
    "average_completion",
    "new_listeners",
}
BIN = Path(sys.executable).parent


def _run(command: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DBT_PROFILES_DIR": str(cwd),
        "MUSIC_PLATFORM_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
    }
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600, check=False
    )


def test_semantic_models_and_metrics_validate(tmp_path: Path) -> None:
    # A copy, so that `mf` (which reads the project's own target/) leaves the checkout alone.
    project = tmp_path / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    parsed = _run([str(BIN / "dbt"), "parse"], project, tmp_path)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    manifest = json.loads((project / "target" / "semantic_manifest.json").read_text())
    assert {metric["name"] for metric in manifest["metrics"]} == METRICS
    assert {model["name"] for model in manifest["semantic_models"]} == {
        "listens",
        "listeners",
        "tracks",
        "artists",
    }
    validated = _run([str(BIN / "mf"), "validate-configs", "--skip-dw"], project, tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "ERRORS: 0" in validated.stdout, validated.stdout
