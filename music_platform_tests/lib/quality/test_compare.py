"""Load-to-load comparisons: each fires on what it is for and stays quiet on ordinary change."""

from __future__ import annotations

import polars as pl

from music_platform.lib.quality import compare


def test_volume_blocks_an_empty_load_a_drop_and_a_spike_but_not_ordinary_change() -> None:
    assert not compare.volume(0, None, what="the feed").passed
    assert "is empty" in compare.volume(0, 100, what="the feed").description
    assert not compare.volume(10, 100, what="the feed").passed
    spike = compare.volume(1_000, 100, what="the feed")
    assert not spike.passed and "spiked to 1000 rows from 100" in spike.description
    assert compare.volume(130, 100, what="the feed").passed
    assert compare.volume(5, None, what="the feed").passed


def test_a_category_explosion_is_flagged_but_a_few_new_genres_are_not() -> None:
    before = pl.DataFrame({"genres": ["rock;pop", "jazz", "pop"]})
    grown = pl.DataFrame({"genres": ["rock", "jazz", "k-pop;j-pop", "metal"]})
    exploded = pl.DataFrame({"genres": [f"genre {n}" for n in range(100)]})
    assert compare.category_explosion(grown, before, "genres").passed
    assert not compare.category_explosion(exploded, before, "genres").passed


def test_a_distribution_shift_names_the_column() -> None:
    before = pl.DataFrame({"tempo": [float(t) for t in range(80, 180)], "energy": [0.5] * 100})
    after = before.with_columns(pl.col("tempo") * 2)
    finding = compare.distribution_shift(after, before, ["tempo", "energy"])
    assert not finding.passed
    assert "tempo: median 129.5 -> 259" in finding.description
    assert "energy" not in finding.description
    assert compare.distribution_shift(before, before, ["tempo"]).passed


def test_conflicting_facts_count_the_keys_but_several_genres_are_no_conflict() -> None:
    rows = pl.DataFrame(
        {
            "track_id": ["a", "a", "b", "b"],
            "track_name": ["Song", "Song", "Other", "Other (Remix)"],
            "duration_ms": [1, 1, 2, 2],
            "genre": ["rock", "pop", "jazz", "jazz"],
        }
    )
    finding = compare.conflicting_facts(rows, "track_id", ["track_name", "duration_ms"])
    assert not finding.passed
    assert finding.metadata["conflicting_keys"] == 1
    assert finding.metadata["examples"] == ["b"]
