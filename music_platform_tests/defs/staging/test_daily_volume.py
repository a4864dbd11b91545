"""A staged day's volume is judged against the days before it only once there are enough."""

from __future__ import annotations

from music_platform.defs.staging.assets import _daily_volume


def test_an_empty_day_after_one_busy_day_is_not_judged() -> None:
    finding = _daily_volume(0, "2024-03-02", {"2024-03-01": 584})
    assert finding.passed, finding.description
    assert "too little history" in finding.description


def test_an_empty_day_after_a_steady_week_blocks() -> None:
    history = {f"2024-03-0{day}": 500 for day in range(1, 8)}
    finding = _daily_volume(0, "2024-03-08", history)
    assert not finding.passed
    assert "2024-03-08 is empty" in finding.description


def test_a_tenfold_drop_blocks_and_a_normal_day_passes() -> None:
    history = {f"2024-03-0{day}": 500 for day in range(1, 4)}
    assert not _daily_volume(40, "2024-03-04", history).passed
    assert _daily_volume(450, "2024-03-04", history).passed
