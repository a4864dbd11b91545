"""dbt: the project, the CLI resource that runs it, and the environment its profile reads."""

import re
import shutil
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from dbt.version import __version__ as dbt_core_version
from packaging import version

from music_platform.lib.dbt_project import (
    DBT_PROJECT_DIR,
    MANIFEST_TARGET,
    PARTIAL_PARSE_FILE,
    dbt_executable,
)

# dagster-dbt gives each invocation a target folder `<op>-<run id>-<random>` (a manifest and the
# compiled SQL, megabytes each); the newest are kept for debugging, older ones deleted. A user's
# own `dbt` runs write elsewhere in target/ and are left alone.
INVOCATION_FOLDER = re.compile(r"^\w+-[0-9a-f]{7}-[0-9a-f]{7}$")
KEPT_INVOCATIONS = 20


class ProjectDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without three fixed costs of seconds per invocation.

    - dagster-dbt runs `dbt --version` in a subprocess to learn the version (and dbt checks
      PyPI for a newer one); the dbt beside this interpreter has a known version.
    - It builds a dbt adapter in this process for every invocation (see below).
    - Every invocation gets a fresh target folder, where dbt re-parses the whole project; it is
      seeded with the partial-parse cache of the project's `dbt parse` (lib/dbt_project.py), which
      dbt uses when the target, vars and environment match and ignores otherwise.

    Those folders would pile up with every run, so only the newest KEPT_INVOCATIONS stay.
    """

    # Private in dagster-dbt, with no public option to skip its `dbt --version` subprocess.
    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(dbt_core_version)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        # dagster-dbt builds an in-process dbt adapter (2-3 s: it loads every macro) for each
        # invocation, used only by fetch_row_counts/fetch_column_metadata; the assets count their
        # rows themselves (dbt.with_row_counts), so none is built.
        return None

    # Private too: the one place a new invocation's target folder is known before dbt runs.
    def _get_unique_target_path(self, *, context: dg.AssetExecutionContext | None) -> Path:
        path = super()._get_unique_target_path(context=context)
        folder = path if path.is_absolute() else Path(self.project_dir) / path
        prune_invocation_folders(folder.parent, keep=KEPT_INVOCATIONS - 1)
        cache = Path(self.project_dir) / "target" / PARTIAL_PARSE_FILE
        if cache.exists():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(cache, folder / PARTIAL_PARSE_FILE)
        return path


def prune_invocation_folders(target: Path, *, keep: int) -> list[Path]:
    """Delete all but the `keep` newest invocation folders under `target`; returns the deleted."""
    if not target.is_dir():
        return []
    folders = [p for p in target.iterdir() if p.is_dir() and INVOCATION_FOLDER.match(p.name)]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in folders[keep:]:
        # Another process may be pruning too: a folder already gone is fine.
        shutil.rmtree(stale, ignore_errors=True)
    return folders[keep:]


def dbt_cli_resource(target: str) -> ProjectDbtCliResource:
    return ProjectDbtCliResource(
        project_dir=str(DBT_PROJECT_DIR), target=target, dbt_executable=dbt_executable()
    )


DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, target=MANIFEST_TARGET)


def missing_manifest_message() -> str:
    return (
        f"the dbt manifest {DBT_PROJECT.manifest_path} is missing: run `music-platform prepare` "
        "(`music-platform run` and `music-platform dev` do it when it is stale)"
    )
