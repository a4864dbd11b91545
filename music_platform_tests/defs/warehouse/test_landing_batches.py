"""A window lands in batches of whole days, each small enough to hold in memory."""

from __future__ import annotations

from music_platform.defs.warehouse.landing import day_batches


def test_consecutive_days_share_a_batch_up_to_the_limit_and_a_bigger_day_goes_alone() -> None:
    rows = {"2024-03-01": 400, "2024-03-02": 400, "2024-03-03": 400, "2024-03-04": 1_500}
    rows["2024-03-05"] = 10

    assert day_batches(rows, 1_000) == [
        ["2024-03-01", "2024-03-02"],
        ["2024-03-03"],
        ["2024-03-04"],
        ["2024-03-05"],
    ]


def test_every_day_lands_once_in_order() -> None:
    rows = {f"2024-03-{day:02d}": 250_000 + day for day in range(1, 31)}

    batches = day_batches(rows, 1_000_000)

    assert [day for batch in batches for day in batch] == list(rows)
    assert all(sum(rows[day] for day in batch) <= 1_000_000 for batch in batches)
