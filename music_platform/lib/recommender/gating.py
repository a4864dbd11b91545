"""A paired gate: is a candidate model worse than a baseline beyond noise and tolerance?

Both models are evaluated on the same users and the same held-out items, so each user gives
one difference (candidate - baseline, e.g. of NDCG@10). The mean difference gets a percentile
bootstrap confidence interval (users resampled with replacement, a seeded generator, so the same
values always give the same interval). With `b` the baseline's mean and `t` the tolerance (a
relative drop, as MUSIC_PLATFORM_RECOMMENDER_TOLERANCE):

- worse (blocks): the interval's upper bound is below `-t * b`, i.e. with that confidence the
  candidate's mean is below `(1 - t) * b`;
- tolerated: the upper bound is below 0 but not below `-t * b` (worse, within the tolerance);
- better: the lower bound is above 0;
- inconclusive: otherwise (the interval holds 0), and always below `min_users` users, where a
  bootstrap interval is too narrow to trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 42
MIN_USERS = 10
# Resampled user indices held in memory at once (a chunk of resamples x users).
_CHUNK_ELEMENTS = 2_000_000


class Decision(StrEnum):
    WORSE = "worse"
    TOLERATED = "tolerated"
    INCONCLUSIVE = "inconclusive"
    BETTER = "better"

    @property
    def code(self) -> int:
        """An ordered number for charts: -2 worse, -1 tolerated, 0 inconclusive, 1 better."""
        return {"worse": -2, "tolerated": -1, "inconclusive": 0, "better": 1}[self.value]


@dataclass(frozen=True)
class PairedComparison:
    """The outcome of `compare_paired`: the figures and the decision they lead to."""

    users: int
    candidate_mean: float
    baseline_mean: float
    difference: float
    low: float
    high: float
    tolerance: float
    confidence: float
    resamples: int
    decision: Decision
    reason: str

    @property
    def blocks(self) -> bool:
        return self.decision is Decision.WORSE

    def as_record(self) -> dict[str, float | int | str]:
        """Plain numbers (and the decision and reason as text) for metadata and model cards."""
        return {
            "users": self.users,
            "candidate_mean": self.candidate_mean,
            "baseline_mean": self.baseline_mean,
            "difference": self.difference,
            "interval_low": self.low,
            "interval_high": self.high,
            "tolerance": self.tolerance,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "decision_code": self.decision.code,
            "decision": self.decision.value,
            "reason": self.reason,
        }


def compare_paired(
    candidate: np.ndarray,
    baseline: np.ndarray,
    *,
    tolerance: float = 0.0,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    min_users: int = MIN_USERS,
) -> PairedComparison:
    """Judge per-user values of a candidate against a baseline's for the same users (see the
    module docstring for the rule)."""
    candidate = np.asarray(candidate, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    if candidate.shape != baseline.shape or candidate.ndim != 1:
        raise ValueError("candidate and baseline need one value per user, for the same users")
    differences = candidate - baseline
    n = len(differences)
    baseline_mean = float(baseline.mean()) if n else 0.0
    difference = float(differences.mean()) if n else 0.0
    low, high = bootstrap_interval(differences, confidence, resamples, seed)
    threshold = -tolerance * baseline_mean
    figures = f"the difference {difference:+.4f}"
    at = f"at {n} users (interval [{low:+.4f}, {high:+.4f}])"
    if n < min_users:
        decision = Decision.INCONCLUSIVE
        reason = f"inconclusive: {figures} is within noise {at}; {min_users} users are needed"
    elif high < threshold:
        decision = Decision.WORSE
        limit = f"the {tolerance:.0%} tolerance ({threshold:+.4f})" if tolerance else "zero"
        reason = f"worse: {figures} is below {limit} beyond noise {at}"
    elif high < 0:
        decision = Decision.TOLERATED
        reason = f"tolerated: {figures} is within the {tolerance:.0%} tolerance {at}"
    elif low > 0:
        decision = Decision.BETTER
        reason = f"better: {figures} is above noise {at}"
    else:
        decision = Decision.INCONCLUSIVE
        reason = f"inconclusive: {figures} is within noise {at}"
    return PairedComparison(
        users=n,
        candidate_mean=float(candidate.mean()) if n else 0.0,
        baseline_mean=baseline_mean,
        difference=difference,
        low=low,
        high=high,
        tolerance=tolerance,
        confidence=confidence,
        resamples=resamples,
        decision=decision,
        reason=reason,
    )


def bootstrap_interval(
    differences: np.ndarray, confidence: float, resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; (0, 0) without values."""
    n = len(differences)
    if n == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        means[start : start + size] = differences[rng.integers(0, n, (size, n))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)
