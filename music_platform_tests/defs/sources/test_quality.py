"""A defective catalogue file through the real raw asset: its rejects land in the staging rejects
table with their reasons and the counts in the metadata; a file that must block leaves the
previous landing in place and its check says what to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from music_platform.lib.sources.files import SHARED_FILES
from music_platform_tests.defs.sources.world import DAY, run_sources
from music_platform_tests.support.defects import DEFECTS, write_defective
from music_platform_tests.support.platform_env import platform_environment

pytestmark = pytest.mark.slow

KAGGLE_KEY = "raw/kaggle_tracks"


def _file_rejects(home: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(home / "staging.duckdb"), read_only=True) as staging:
        return staging.execute(
            "SELECT record_key, reason FROM staging.rejects "
            "WHERE table_name = 'file:kaggle_tracks' ORDER BY record_key"
        ).fetchall()


def test_a_defective_kaggle_file_lands_the_rest_and_a_blocked_one_keeps_the_landing(
    shared_data: Path, tmp_path: Path
) -> None:
    home, given = tmp_path / "home", tmp_path / "given.csv"
    env = platform_environment(home, KAGGLE_TRACKS_CSV=str(given))
    kinds = {defect.kind: defect for defect in DEFECTS}

    shutil.copyfile(write_defective(kinds["mojibake"], shared_data, tmp_path), given)
    first = run_sources(env, [DAY], keys=[KAGGLE_KEY])
    assert first.success, first.failure_messages()
    landed = first.raw("kaggle", "tracks")
    assert landed.height == 2023
    metadata = first.metadata(KAGGLE_KEY)
    assert (metadata["rejected"], metadata["deduplicated"], metadata["drift"]) == (1, 0, [])
    ((key, reason),) = _file_rejects(home)
    assert reason == "artists: mojibake (UTF-8 read as Latin-1) in 'BjÃ¶rk'"
    assert key not in landed["track_id"].to_list()

    # A delivery a twentieth the size: blocked, nothing written, the check says what to do.
    shutil.copyfile(write_defective(kinds["volume drop"], shared_data, tmp_path), given)
    second = run_sources(env, [DAY], keys=[KAGGLE_KEY])
    assert not second.success
    volume = second.check(KAGGLE_KEY, "volume_as_expected")
    assert not volume.passed and volume.blocking
    assert "dropped to 100 rows from 2023" in volume.description
    assert "the previous load is kept" in volume.description
    assert second.raw("kaggle", "tracks").equals(landed)
    assert "not written" in second.metadata(KAGGLE_KEY)["blocked"]

    # The real file again: lands, and a clean file leaves no rejects behind.
    shutil.copyfile(shared_data / SHARED_FILES["kaggle_tracks"], given)
    third = run_sources(env, [DAY], keys=[KAGGLE_KEY])
    assert third.success, third.failure_messages()
    assert third.raw("kaggle", "tracks").height == 2024
    assert _file_rejects(home) == []
    flags = {c: third.check(KAGGLE_KEY, c).passed for c in ("facts_agree", "categories_stable")}
    assert flags == {"facts_agree": True, "categories_stable": True}
