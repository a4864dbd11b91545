"""What the Dagster benchmarks share: a throwaway platform home with its own Dagster instance,
and a one-asset code location, the baseline any code location is compared with."""

from __future__ import annotations

import os
from pathlib import Path

from music_platform_tests.support.platform_env import platform_environment

TINY_LOCATION = """
import dagster as dg


@dg.asset
def only_asset() -> None: ...


defs = dg.Definitions(assets=[only_asset])
"""


def scratch_environment(work: Path) -> dict[str, str]:
    """The environment of a `local` platform whose home and Dagster instance are under `work`."""
    home = work / "home"
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, **platform_environment(home), "DAGSTER_HOME": str(dagster_home)}


def tiny_workspace(work: Path) -> Path:
    """A workspace file loading TINY_LOCATION as the code location `tiny`."""
    location = work / "tiny_location.py"
    location.write_text(TINY_LOCATION)
    workspace = work / "tiny_workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - python_file:\n      relative_path: {location}\n"
        "      location_name: tiny\n"
    )
    return workspace
