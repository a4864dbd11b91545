"""dbt invocation folders do not pile up: each run's dbt steps keep only the newest ones."""

from __future__ import annotations

import os
from pathlib import Path

from music_platform.resources.dbt import (
    KEPT_INVOCATIONS,
    dbt_cli_resource,
    prune_invocation_folders,
)


def _invocation(target: Path, name: str, age: int) -> Path:
    folder = target / name
    (folder / "compiled").mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    os.utime(folder, (1_700_000_000 - age, 1_700_000_000 - age))
    return folder


def test_only_the_newest_invocation_folders_stay_and_other_files_are_left_alone(
    tmp_path: Path,
) -> None:
    folders = [
        _invocation(tmp_path, f"dbt_daily_models-{n:07x}-abcdef{n % 10}", age=n) for n in range(8)
    ]
    (tmp_path / "compiled").mkdir()  # a user's own `dbt build`
    (tmp_path / "manifest.json").write_text("{}")

    deleted = prune_invocation_folders(tmp_path, keep=3)

    assert deleted == folders[3:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f.name for f in folders[:3]] + ["compiled", "manifest.json"]
    )


def test_a_new_invocation_prunes_its_older_siblings(tmp_path: Path) -> None:
    resource = dbt_cli_resource("local").model_copy(update={"project_dir": str(tmp_path)})
    target = tmp_path / "target"
    for n in range(KEPT_INVOCATIONS + 5):
        _invocation(target, f"dbt_catalogue_models-{n:07x}-0000000", age=n + 1)

    path = resource._get_unique_target_path(context=None)

    kept = [p for p in target.iterdir() if p.name.startswith("dbt_catalogue_models")]
    assert len(kept) == KEPT_INVOCATIONS - 1, "room left for the new invocation's folder"
    assert path.name not in {p.name for p in kept}
