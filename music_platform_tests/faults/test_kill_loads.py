"""SIGKILL at the last moment of each file and warehouse load: raw landing, warehouse landing
(a day and a whole table) and model promotion. Each load runs in a process of its own, armed to
stop at its fault point (music_platform/lib/fault_points.py) and killed there; what a reader
sees must be the previous state, whole, and a rerun must complete with exact counts.

Staging's kill tests (mid-COPY and before COMMIT) are in music_platform_tests/lib/staging/;
a killed `music-platform run` around dbt is in test_kill_run.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from music_platform.lib import fault_points
from music_platform.lib.model_registry import ModelCard, ModelRegistry
from music_platform.lib.raw_files import raw_path, read_raw, write_raw
from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse
from music_platform_tests.faults.killing import kill_session, start_paused
from music_platform_tests.faults.load_child import REGISTRY_NAME, tracks
from music_platform_tests.lib.staging.frames import DAY, listens

pytestmark = pytest.mark.slow

CHILD = ["-m", "music_platform_tests.faults.load_child"]
OTHER_DAY = "2024-03-09"


def kill_at(point: str, tmp_path: Path, *arguments: str) -> None:
    kill_session(start_paused([*CHILD, *arguments], point, tmp_path / f"{point}.pid"))


def test_raw_landing_killed_before_its_rename_leaves_the_previous_file(tmp_path: Path) -> None:
    path = raw_path(tmp_path / "raw", "synthetic", "listens", DAY)
    write_raw(listens(1_000, prefix="old"), path)

    kill_at(fault_points.RAW_BEFORE_RENAME, tmp_path, "raw", str(path), "50000")

    # The new rows were written in full under a temporary name no reader globs, then the kill.
    (orphan,) = path.parent.glob("*.tmp")
    assert pl.read_parquet(orphan).height == 50_000
    assert list(path.parent.glob("*.parquet")) == [path]
    before = read_raw(path)
    assert before.height == 1_000 and before["event_id"][0] == "old00000000"

    write_raw(listens(50_000, prefix="new"), path)
    assert read_raw(path).height == 50_000
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "orphan cleared"


def _landed_days(warehouse: DuckDBWarehouse) -> dict[str, int]:
    return {
        day: warehouse.count("listens", partition_column="listen_date", partition_keys=[day])
        for day in (DAY, OTHER_DAY)
    }


def test_warehouse_landing_killed_before_commit_keeps_the_previous_day(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    other_day = listens(10, prefix="other").with_columns(
        listen_date=pl.lit(OTHER_DAY).str.to_date()
    )
    for day, frame in ((DAY, listens(1_000, prefix="old")), (OTHER_DAY, other_day)):
        warehouse.replace_partitions(
            "listens", frame.to_arrow(), partition_column="listen_date", partition_keys=[day]
        )

    point = fault_points.WAREHOUSE_BEFORE_COMMIT
    kill_at(point, tmp_path, "warehouse", str(warehouse.path), "200000")

    assert _landed_days(warehouse) == {DAY: 1_000, OTHER_DAY: 10}
    rerun = listens(200_000, prefix="new").to_arrow()
    warehouse.replace_partitions(
        "listens", rerun, partition_column="listen_date", partition_keys=[DAY]
    )
    assert _landed_days(warehouse) == {DAY: 200_000, OTHER_DAY: 10}


def test_warehouse_table_killed_before_commit_keeps_the_previous_table(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.replace_table("tracks", tracks(500, prefix="old").to_arrow())

    kill_at(
        fault_points.WAREHOUSE_BEFORE_COMMIT,
        tmp_path,
        "warehouse-table",
        str(warehouse.path),
        "100000",
    )

    assert warehouse.count("tracks") == 500
    (first,) = warehouse.fetch_arrow("SELECT min(track_id) FROM landing.tracks").to_pylist()
    assert first["min(track_id)"] == "old000000"
    warehouse.replace_table("tracks", tracks(100_000).to_arrow())
    assert warehouse.count("tracks") == 100_000


def _version(registry: ModelRegistry, metric: float) -> str:
    version, folder = registry.new_version()
    (folder / "model.npz").write_bytes(b"weights")
    registry.publish(
        ModelCard(
            name=REGISTRY_NAME,
            version=version,
            kind="Test",
            params={},
            metrics={"ndcg@10": metric},
            baseline_metrics={},
            training_window={"start": DAY, "end": DAY},
        )
    )
    return version


def test_promotion_killed_before_the_pointer_moves_keeps_the_previous_model(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path / "models", REGISTRY_NAME)
    serving = _version(registry, 0.1)
    registry.promote(serving)
    candidate = _version(registry, 0.2)

    kill_at(
        fault_points.REGISTRY_BEFORE_PROMOTE,
        tmp_path,
        "promote",
        str(tmp_path / "models"),
        candidate,
    )

    promoted = registry.promoted()
    assert promoted is not None and promoted.version == serving
    assert json.loads((registry.folder / "promoted.json").read_text()) == {"version": serving}
    registry.promote(candidate)
    promoted = registry.promoted()
    assert promoted is not None and promoted.metrics == {"ndcg@10": 0.2}
