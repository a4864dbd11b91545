"""Which daily partitions a run covers: the latest N days, or an inclusive range."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from music_platform import runner

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")


def test_a_range_is_inclusive_at_both_ends() -> None:
    keys = runner.partition_range_keys(PARTITIONS, date(2024, 1, 3), date(2024, 1, 5))
    assert keys == ["2024-01-03", "2024-01-04", "2024-01-05"]


def test_a_range_without_an_end_runs_to_the_latest_complete_day() -> None:
    keys = runner.partition_range_keys(PARTITIONS, date(2024, 1, 9), None)
    assert keys == ["2024-01-09", "2024-01-10"]


def test_a_range_past_the_latest_complete_day_names_it() -> None:
    with pytest.raises(ValueError, match="--to 2024-01-11 is not a complete day yet"):
        runner.partition_range_keys(PARTITIONS, date(2024, 1, 9), date(2024, 1, 11))
