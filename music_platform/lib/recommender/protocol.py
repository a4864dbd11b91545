"""The one evaluation protocol for every recommender in the project.

Implicit feedback, binary relevance. For each user (ascending id) with at least
`MIN_INTERACTIONS` interactions, that user's items sorted by id are permuted with one shared
`numpy.random.default_rng(seed)` and the first `floor(0.2 * n)` permuted positions are held out;
other users draw no random numbers, stay in train and are not evaluated. Candidates are the items
with a training interaction; each user ranks every candidate except their training items, ties
broken by ascending item id. Test seed 42; tune on `split(split.train, VALIDATION_SEED)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.ranking import mask_seen, top_k

TEST_SEED = 42
VALIDATION_SEED = 43
MIN_INTERACTIONS = 5
HOLDOUT_SHARE = 0.2
# Below this many users with held-out listening, a metric says nothing (a tie at zero with two
# users is no regression), so the model is not evaluated rather than failed.
MIN_EVALUATED_USERS = 10


class Scorer(Protocol):
    def score(self, user_indices: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Split:
    """Train and held-out test interactions over the same id mapping."""

    train: InteractionMatrix
    test: InteractionMatrix

    @property
    def evaluated_users(self) -> np.ndarray:
        """Users with held-out items: exactly those with at least MIN_INTERACTIONS."""
        return np.flatnonzero(np.diff(self.test.matrix.indptr) > 0)

    @property
    def candidates(self) -> np.ndarray:
        """Boolean mask over items: has at least one training interaction."""
        return np.diff(self.train.matrix.tocsc().indptr) > 0


@dataclass(frozen=True)
class Metrics:
    """Top-k metrics averaged over evaluated users (coverage: share of the candidates)."""

    ndcg: float
    precision: float
    recall: float
    map: float
    hit_rate: float
    coverage: float
    users: int
    k: int = 10

    def as_dict(self) -> dict[str, float]:
        k = self.k
        return {
            f"ndcg@{k}": self.ndcg,
            f"precision@{k}": self.precision,
            f"recall@{k}": self.recall,
            f"map@{k}": self.map,
            f"hit_rate@{k}": self.hit_rate,
            f"coverage@{k}": self.coverage,
        }


def evaluation_shortfall(interactions: InteractionMatrix) -> str | None:
    """Why the protocol cannot evaluate this listening, or None when it can."""
    eligible = int((np.diff(interactions.matrix.indptr) >= MIN_INTERACTIONS).sum())
    if eligible >= MIN_EVALUATED_USERS:
        return None
    return (
        f"not evaluated: {eligible} users with at least {MIN_INTERACTIONS} listened tracks, "
        f"needs {MIN_EVALUATED_USERS}"
    )


def split(interactions: InteractionMatrix, seed: int = TEST_SEED) -> Split:
    """Hold out a random 20% of each eligible user's items (see the module docstring)."""
    matrix = interactions.matrix.copy()
    matrix.sort_indices()
    rng = np.random.default_rng(seed)
    held_out = np.zeros(matrix.nnz, dtype=bool)
    for user in range(matrix.shape[0]):
        start, end = matrix.indptr[user], matrix.indptr[user + 1]
        n = end - start
        if n < MIN_INTERACTIONS:
            continue
        positions = rng.permutation(n)[: math.floor(HOLDOUT_SHARE * n)]
        held_out[start + positions] = True
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return Split(
        train=interactions.with_matrix(_subset(matrix, rows, ~held_out)),
        test=interactions.with_matrix(_subset(matrix, rows, held_out)),
    )


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare
class UserMetrics:
    """Top-k metrics per evaluated user (row i is `users[i]`), for paired comparisons.

    Two models evaluated on the same split have the same `users`, so their rows pair up.
    """

    users: np.ndarray
    ndcg: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    map: np.ndarray
    hit: np.ndarray
    coverage: float
    k: int

    def summary(self) -> Metrics:
        """The averages over evaluated users (0 for every metric when there are none)."""

        def mean(values: np.ndarray) -> float:
            return float(values.mean()) if len(values) else 0.0

        return Metrics(
            ndcg=mean(self.ndcg),
            precision=mean(self.precision),
            recall=mean(self.recall),
            map=mean(self.map),
            hit_rate=mean(self.hit),
            coverage=self.coverage,
            users=len(self.users),
            k=self.k,
        )


def evaluate(model: Scorer, data: Split, k: int = 10, batch_size: int = 256) -> Metrics:
    """Score every evaluated user in dense batches and average the top-k metrics."""
    return evaluate_users(model, data, k, batch_size).summary()


def evaluate_users(model: Scorer, data: Split, k: int = 10, batch_size: int = 256) -> UserMetrics:
    """Score every evaluated user in dense batches: the top-k metrics of each user."""
    users = data.evaluated_users
    not_candidate = ~data.candidates
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    per_user = np.zeros((5, len(users)))
    recommended = np.zeros(data.train.n_items, dtype=bool)
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        raw = np.asarray(model.score(batch))
        # A float copy of the model's own precision: widening would not change ranks, only cost.
        scores = raw.astype(np.result_type(raw.dtype, np.float32))
        scores[np.isnan(scores)] = -np.inf
        scores[:, not_candidate] = -np.inf
        mask_seen(scores, data.train.matrix[batch])
        top, valid = top_k(scores, k)
        relevant = data.test.matrix[batch].toarray() > 0
        hits = np.take_along_axis(relevant, top, axis=1) & valid
        ranks = np.arange(1, hits.shape[1] + 1)  # fewer than k when the catalogue is smaller
        n_relevant = relevant.sum(axis=1)
        denominator = np.minimum(k, n_relevant)
        n_hits = hits.sum(axis=1)
        precision_at = np.cumsum(hits, axis=1) / ranks
        per_user[:, start : start + len(batch)] = [
            (hits * discounts[: len(ranks)]).sum(axis=1) / ideal[denominator - 1],
            n_hits / k,
            n_hits / denominator,
            (precision_at * hits).sum(axis=1) / denominator,
            n_hits > 0,
        ]
        recommended[top[valid]] = True
    ndcg, precision, recall, average_precision, hit = per_user
    return UserMetrics(
        users=users,
        ndcg=ndcg,
        precision=precision,
        recall=recall,
        map=average_precision,
        hit=hit,
        coverage=float(recommended.sum() / max(int((~not_candidate).sum()), 1)),
        k=k,
    )


def _subset(matrix: sp.csr_matrix, rows: np.ndarray, keep: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix(
        (matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape
    )
