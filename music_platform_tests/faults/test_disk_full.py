"""The data directory runs out of space: a clear error naming the path, and no half-written file
left where a reader would take it as whole. Run on a real, small tmpfs mounted for the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from music_platform.lib.raw_files import RawWriteError, raw_path, read_raw, write_raw
from music_platform_tests.faults.filesystems import grow, small_filesystem
from music_platform_tests.lib.staging.frames import DAY, listens
from music_platform_tests.support.platform_env import platform_environment, run_cli


def test_a_raw_file_that_does_not_fit_names_its_path_and_leaves_the_previous_one() -> None:
    with small_filesystem("512k") as disk:
        path = raw_path(disk / "raw", "synthetic", "listens", DAY)
        write_raw(listens(100, prefix="old"), path)
        incompressible = pl.DataFrame({"x": np.random.default_rng(0).random(400_000)})

        with pytest.raises(RawWriteError) as raised:
            write_raw(incompressible, path)

        message = str(raised.value)
        assert str(path) in message and "No space left on device" in message
        assert "\n" not in message
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
        assert read_raw(path)["event_id"].to_list()[:2] == ["old00000000", "old00000001"]


def _parquet_files_read_whole(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): pl.read_parquet(p).height for p in home.rglob("*.parquet")}


@pytest.mark.slow
# The two sizes fill up at different steps. With the larger, Dagster's own storage fails while
# later steps still run: the error must still reach the terminal, not a step's compute log.
@pytest.mark.parametrize("size", ["3m", "6m"])
def test_a_run_on_a_full_disk_says_which_folder_and_a_rerun_with_room_completes(
    tmp_path: Path, size: str
) -> None:
    with small_filesystem(size) as disk:
        home = disk / "home"
        env = platform_environment(home)

        full = run_cli("run", "--days", "1", env=env, cwd=tmp_path)

        output = full.stdout + full.stderr
        assert full.returncode != 0, output
        assert f"the data directory {home} is out of space" in output, output
        assert "Traceback" not in output, output
        # Every file a reader would take (Parquet under the home) reads whole; no temporaries.
        landed = _parquet_files_read_whole(home)
        assert not list(home.rglob("*.tmp")), list(home.rglob("*.tmp"))

        grow(disk, "256m")
        rerun = run_cli("run", "--days", "1", env=env, cwd=tmp_path)

        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        after = _parquet_files_read_whole(home)
        assert {name: after[name] for name in landed} == landed, "raw files are rewritten alike"
