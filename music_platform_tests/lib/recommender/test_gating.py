"""The paired gate blocks only a candidate that is worse beyond noise and the tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from music_platform.lib.recommender.gating import Decision, bootstrap_interval, compare_paired


def per_user(mean: float, n: int, seed: int, spread: float = 0.1) -> np.ndarray:
    """n users' metric values around `mean` (clipped to NDCG's [0, 1])."""
    return np.clip(np.random.default_rng(seed).normal(mean, spread, n), 0, 1)


def test_a_clearly_worse_candidate_is_blocked() -> None:
    baseline = per_user(0.3, 200, seed=1)
    comparison = compare_paired(baseline - 0.1, baseline)
    assert comparison.decision is Decision.WORSE and comparison.blocks
    assert comparison.high < 0
    assert comparison.reason.startswith("worse: the difference -0.1000 is below zero beyond noise")


def test_a_difference_within_noise_passes_as_inconclusive() -> None:
    baseline = per_user(0.3, 40, seed=1, spread=0.2)
    candidate = per_user(0.3, 40, seed=2, spread=0.2)
    comparison = compare_paired(candidate, baseline)
    assert comparison.decision is Decision.INCONCLUSIVE and not comparison.blocks
    assert comparison.low < 0 < comparison.high
    assert comparison.reason == (
        f"inconclusive: the difference {comparison.difference:+.4f} is within noise at 40 users "
        f"(interval [{comparison.low:+.4f}, {comparison.high:+.4f}])"
    )


def test_a_clearly_better_candidate_passes_as_better() -> None:
    baseline = per_user(0.2, 200, seed=1)
    comparison = compare_paired(baseline + 0.05, baseline)
    assert comparison.decision is Decision.BETTER and not comparison.blocks
    assert comparison.low > 0
    assert comparison.difference == pytest.approx(0.05)


def test_the_tolerance_is_a_relative_drop_from_the_baseline_mean() -> None:
    baseline = per_user(0.5, 100, seed=3, spread=0.01)
    # 4% below the baseline, surely: blocked without tolerance, tolerated within 10%.
    candidate = baseline * 0.96
    strict = compare_paired(candidate, baseline)
    tolerant = compare_paired(candidate, baseline, tolerance=0.1)
    assert strict.decision is Decision.WORSE
    assert tolerant.decision is Decision.TOLERATED and not tolerant.blocks
    assert tolerant.reason.startswith("tolerated: ")
    # 20% below is beyond a 10% tolerance.
    beyond = compare_paired(baseline * 0.8, baseline, tolerance=0.1)
    assert beyond.decision is Decision.WORSE
    assert f"below the 10% tolerance ({-0.1 * baseline.mean():+.4f})" in beyond.reason


def test_the_interval_depends_only_on_the_values_and_the_seed() -> None:
    candidate, baseline = per_user(0.3, 60, seed=4), per_user(0.28, 60, seed=5)
    first = compare_paired(candidate, baseline, seed=7)
    assert compare_paired(candidate, baseline, seed=7) == first
    other = compare_paired(candidate, baseline, seed=8)
    assert (other.low, other.high) != (first.low, first.high)


def test_too_few_users_decide_nothing() -> None:
    comparison = compare_paired(np.zeros(3), np.full(3, 0.5))
    assert comparison.decision is Decision.INCONCLUSIVE and not comparison.blocks
    assert comparison.users == 3
    assert comparison.reason.endswith("; 10 users are needed")
    empty = compare_paired(np.zeros(0), np.zeros(0))
    assert empty.decision is Decision.INCONCLUSIVE and (empty.low, empty.high) == (0.0, 0.0)


def test_one_lucky_hit_of_the_baseline_is_noise() -> None:
    """The issue's small week: the candidate hits nobody, popularity one user in twelve."""
    baseline = np.zeros(12)
    baseline[5] = 0.1
    comparison = compare_paired(np.zeros(12), baseline)
    assert comparison.decision is Decision.INCONCLUSIVE
    assert comparison.high == 0.0


def test_many_users_get_the_normal_approximations_interval() -> None:
    """5,000 users are resampled a chunk of resamples at a time, into one sound interval."""
    differences = per_user(0.01, 5000, seed=6)
    low, high = bootstrap_interval(differences, 0.95, resamples=2000, seed=1)
    assert low < differences.mean() < high
    spread = differences.std() / np.sqrt(len(differences))
    assert high - low == pytest.approx(2 * 1.96 * spread, rel=0.1)


def test_the_record_holds_numbers_a_chart_can_plot() -> None:
    record = compare_paired(per_user(0.3, 30, seed=1), per_user(0.3, 30, seed=2)).as_record()
    numbers = {key: value for key, value in record.items() if key not in ("decision", "reason")}
    assert all(isinstance(value, int | float) for value in numbers.values())
    assert record["users"] == 30 and record["decision_code"] == 0
    assert record["decision"] == "inconclusive"


def test_values_for_different_users_are_refused() -> None:
    with pytest.raises(ValueError, match="same users"):
        compare_paired(np.zeros(10), np.zeros(11))
