"""EASE (Steck 2019): closed-form linear item-item model, on the items worth a dense inverse.

A dense inverse over all ~17k artists costs minutes; most of them have one or two listeners and
get no useful weights anyway. Items with fewer than `min_item_users` training users are left out
of the model (they score 0 and seed nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models.base import Recommender, State
from music_platform.lib.recommender.weighting import Weighting, confidence


@dataclass(frozen=True)
class EASEParams:
    l2: float = 100.0
    min_item_users: int = 3
    weighting: Weighting = "binary"


class EASE(Recommender):
    kind = "ease"
    Params = EASEParams

    def _fit(self, train: InteractionMatrix) -> None:
        weighted = confidence(train.matrix, self.params.weighting)
        users_per_item = np.bincount(weighted.indices, minlength=train.n_items)
        self._items = np.flatnonzero(users_per_item >= self.params.min_item_users)
        self._weighted = weighted[:, self._items].tocsr()
        # float32 halves the inverse's time; l2 keeps the gram well conditioned enough for it.
        gram = (self._weighted.T @ self._weighted).toarray().astype(np.float32)
        gram[np.diag_indices_from(gram)] += self.params.l2
        inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = -inverse / np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        # LAPACK hands back Fortran order: sparse rows times it would be ~30x slower.
        self._weights = np.ascontiguousarray(weights)

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        scores = np.zeros((len(user_indices), self._fitted_train().n_items), dtype=np.float32)
        scores[:, self._items] = self._weighted[user_indices] @ self._weights
        return scores

    def contributions(self, user_index: int, item_index: int) -> np.ndarray:
        return self.item_contributions(user_index, np.array([item_index]))[0]

    def item_contributions(self, user_index: int, item_indices: np.ndarray) -> np.ndarray:
        """Seeds and items outside the modelled items contribute and receive nothing."""
        seeds = self._seen_items(user_index)
        items = np.asarray(item_indices)
        contribution = np.zeros((len(items), len(seeds)), dtype=np.float32)
        targets, target_known = _modelled(self._items, items)
        rows, seed_known = _modelled(self._items, seeds)
        rows = rows[seed_known]
        row_weights = self._weighted[user_index, rows].toarray().ravel()
        weights = self._weights[np.ix_(rows, targets[target_known])] * row_weights[:, None]
        contribution[np.ix_(target_known, seed_known)] = weights.T
        return contribution

    def _state(self) -> State:
        return {"items": self._items, "weighted": self._weighted, "weights": self._weights}

    def _restore(self, state: State) -> None:
        self._items = np.asarray(state["items"])
        self._weighted = state["weighted"]
        self._weights = np.asarray(state["weights"])


def _modelled(items: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of `wanted` among the modelled `items`, and which of them are modelled."""
    if len(items) == 0:
        return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
    positions = np.minimum(np.searchsorted(items, wanted), len(items) - 1)
    return positions, items[positions] == wanted
