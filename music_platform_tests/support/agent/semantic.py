"""The semantic manifest `dbt parse` writes, built from a copy of the dbt project so that the
checkout's target/ is left alone (shared by the agent tests and bench/agent.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from music_platform.lib.dbt_project import DBT_PROJECT_DIR


def parse_semantic_manifest(scratch: Path) -> Path:
    project = scratch / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    environment = {
        **os.environ,
        "DBT_PROFILES_DIR": str(project),
        "MUSIC_PLATFORM_WAREHOUSE_PATH": str(scratch / "parse.duckdb"),
    }
    parsed = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if parsed.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{parsed.stdout}{parsed.stderr}")
    return project / "target" / "semantic_manifest.json"
