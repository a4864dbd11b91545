"""A week of a few hundred listens through the files path (a Kaggle-format catalogue and a
listening-events file), in process: listens of tracks the catalogue does not know (never
catalogued, or whose row was rejected) are kept and flagged, not rejected; only past
MUSIC_PLATFORM_MIN_MATCH_RATE does the day block, saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from music_platform_tests.defs.sources.world import run_sources
from music_platform_tests.support.platform_env import platform_environment
from music_platform_tests.support.small_week import DAYS, FIRST_DAY, LISTENS, Week, write_week

pytestmark = pytest.mark.slow

LISTENS_KEY = "staging/staged_listens"
WEEK = [(FIRST_DAY.fromordinal(FIRST_DAY.toordinal() + n)).isoformat() for n in range(DAYS)]


def _environment(home: Path, week: Week, **extra: str) -> dict[str, str]:
    return platform_environment(
        home,
        MUSIC_PLATFORM_SOURCE="files",
        KAGGLE_TRACKS_CSV=str(week.catalogue),
        LISTEN_EVENTS_FILE=str(week.events),
        **extra,
    )


def test_listens_of_unknown_tracks_are_kept_counted_and_flagged(
    shared_data: Path, tmp_path: Path
) -> None:
    week = write_week(
        tmp_path, shared_data, unknown_tracks=5, bad_catalogue_row=True, duplicate_catalogue_rows=2
    )

    outcome = run_sources(_environment(tmp_path / "home", week), WEEK)

    assert outcome.success, outcome.failure_messages()
    catalogue = outcome.metadata("raw/kaggle_tracks")
    assert (catalogue["rejected"], catalogue["deduplicated"]) == (1, 2)
    rows, rejected, flagged = outcome.summed(
        LISTENS_KEY, "dagster/row_count", "rejected", "flagged"
    )
    assert (rows, rejected) == (LISTENS, 0)
    assert flagged == week.unknown_listens > 15
    flag = outcome.check(LISTENS_KEY, "tracks_in_catalogue")
    assert not flag.passed
    assert flag.severity.value == "WARN"
    assert flag.metadata["unknown_track_listens"].value == week.unknown_listens
    share = week.unknown_listens / LISTENS
    assert flag.metadata["unknown_share"].value == pytest.approx(share)
    assert f"({share:.2%}) name a track not yet in the catalogue" in (flag.description or "")
    assert outcome.check(LISTENS_KEY, "track_match_rate_above_threshold").passed
    assert outcome.check(LISTENS_KEY, "reject_rate_within_threshold").passed
    staged = outcome.staged(
        "SELECT count(*) AS n FROM staging.listens WHERE track_id LIKE '0UnknownTrack%'"
    )
    assert staged["n"][0] == 15


def test_a_week_mostly_of_unknown_tracks_blocks_naming_the_match_rate(
    shared_data: Path, tmp_path: Path
) -> None:
    week = write_week(tmp_path, shared_data, unknown_tracks=LISTENS // 3)

    outcome = run_sources(_environment(tmp_path / "home", week), WEEK)

    assert not outcome.success
    check = outcome.check(LISTENS_KEY, "track_match_rate_above_threshold")
    assert not check.passed and check.blocking
    assert "minimum 50%, MUSIC_PLATFORM_MIN_MATCH_RATE" in (check.description or "")
    assert "load the catalogue that holds their tracks" in (check.description or "")
    days = outcome.partition_metadata(LISTENS_KEY).values()
    assert all(day["blocked"].startswith("not written") for day in days)
    staged = outcome.staged("SELECT count(*) AS n FROM staging.listens")
    assert staged["n"][0] == 0

    lenient = _environment(tmp_path / "home", week, MUSIC_PLATFORM_MIN_MATCH_RATE="0")
    assert run_sources(lenient, WEEK).success
