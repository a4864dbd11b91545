"""Implicit ALS (Hu, Koren, Volinsky 2008), solved by conjugate gradient for all rows at once.

Each half-step runs a few CG iterations (as Takács et al. 2011 and the `implicit` library do)
for every user (or item) together: the Hessian-vector product needs one gather over the stored
interactions and one sparse-dense product, so numpy and scipy do it without a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models.base import Recommender, State
from music_platform.lib.recommender.weighting import Weighting, confidence


@dataclass(frozen=True)
class ALSParams:
    factors: int = 32
    regularization: float = 0.1
    alpha: float = 0.02  # confidence = 1 + alpha * weighted plays
    iterations: int = 15
    cg_steps: int = 3
    weighting: Weighting = "bm25"
    seed: int = 0


class ALS(Recommender):
    kind = "als"
    Params = ALSParams

    def _fit(self, train: InteractionMatrix) -> None:
        p = self.params
        self._confidence = confidence(train.matrix, p.weighting)
        self._confidence.data = 1.0 + p.alpha * self._confidence.data
        by_item = self._confidence.T.tocsr()
        rng = np.random.default_rng(p.seed)
        users = (rng.random((train.n_users, p.factors), dtype=np.float32) - 0.5) * 0.01
        items = (rng.random((train.n_items, p.factors), dtype=np.float32) - 0.5) * 0.01
        for _ in range(p.iterations):
            users = _cg_step(users, items, self._confidence, p.regularization, p.cg_steps)
            items = _cg_step(items, users, by_item, p.regularization, p.cg_steps)
        self._user_factors, self._item_factors = users, items
        self._item_gram = _gram(items, p.regularization).astype(np.float64)

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self._user_factors[user_indices] @ self._item_factors.T)

    def contributions(self, user_index: int, item_index: int) -> np.ndarray:
        return self.item_contributions(user_index, np.array([item_index]))[0]

    def item_contributions(self, user_index: int, item_indices: np.ndarray) -> np.ndarray:
        """Seed j adds c_uj * y_i' A_u^-1 y_j: the terms of the exact least-squares score.

        CG stops short of the exact solution, so they add up to about the score, not exactly.
        """
        seeds = self._seen_items(user_index)
        row = self._confidence[user_index]
        seed_factors = self._item_factors[seeds].astype(np.float64)
        hessian = self._item_gram + seed_factors.T @ ((row.data - 1.0)[:, None] * seed_factors)
        solved = np.linalg.solve(hessian, seed_factors.T) * row.data
        targets = self._item_factors[np.asarray(item_indices)].astype(np.float64)
        return (targets @ solved).astype(np.float32)

    def _state(self) -> State:
        return {
            "confidence": self._confidence,
            "user_factors": self._user_factors,
            "item_factors": self._item_factors,
        }

    def _restore(self, state: State) -> None:
        self._confidence = state["confidence"]
        self._user_factors = np.asarray(state["user_factors"])
        self._item_factors = np.asarray(state["item_factors"])
        self._item_gram = _gram(self._item_factors, self.params.regularization).astype(np.float64)


def _gram(factors: np.ndarray, regularization: float) -> np.ndarray:
    gram = factors.T @ factors  # one dtype: a mixed float32/float64 product skips BLAS
    gram[np.diag_indices_from(gram)] += regularization
    return gram


def _cg_step(
    solved: np.ndarray,
    fixed: np.ndarray,
    confidence: sp.csr_matrix,
    regularization: float,
    steps: int,
) -> np.ndarray:
    """Refine every row x_u of `solved` towards (Y'C_uY + lambda I) x_u = Y'C_u p_u."""
    gram = _gram(fixed, regularization)
    rows = np.repeat(np.arange(confidence.shape[0]), np.diff(confidence.indptr))
    fixed_at = np.take(fixed, confidence.indices, axis=0)
    extra = confidence.data - 1.0

    def hessian_times(vectors: np.ndarray) -> np.ndarray:
        along = extra * np.einsum("ij,ij->i", np.take(vectors, rows, axis=0), fixed_at)
        weighted = sp.csr_matrix((along, confidence.indices, confidence.indptr), confidence.shape)
        return vectors @ gram + weighted @ fixed

    x = solved.copy()
    residual = confidence @ fixed - hessian_times(x)
    direction = residual.copy()
    norm = np.einsum("ij,ij->i", residual, residual)
    for _ in range(steps):
        product = hessian_times(direction)
        curvature = np.einsum("ij,ij->i", direction, product)
        step = np.divide(norm, curvature, out=np.zeros_like(norm), where=curvature > 0)
        x += step[:, None] * direction
        residual -= step[:, None] * product
        new_norm = np.einsum("ij,ij->i", residual, residual)
        ratio = np.divide(new_norm, norm, out=np.zeros_like(norm), where=norm > 0)
        direction = residual + ratio[:, None] * direction
        norm = new_norm
    return x
