"""RP3beta: three-step random walk user -> item -> user -> item, damped by item popularity.

Paudel et al., "Updatable, accurate, diverse, and scalable recommendations for interactive
applications" (2016). The item-item walk is never materialised: scoring walks a batch of users
through the two sparse transition matrices, which keeps fit instant and memory small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models.base import Recommender, State
from music_platform.lib.recommender.weighting import Weighting, confidence, row_normalise


@dataclass(frozen=True)
class RP3betaParams:
    alpha: float = 0.8
    beta: float = 0.1
    weighting: Weighting = "bm25"


class RP3beta(Recommender):
    kind = "rp3beta"
    Params = RP3betaParams

    def _fit(self, train: InteractionMatrix) -> None:
        weighted = confidence(train.matrix, self.params.weighting)
        self._user_item = row_normalise(weighted).power(self.params.alpha).tocsr()
        self._item_user = row_normalise(weighted.T.tocsr()).power(self.params.alpha).tocsr()
        users_per_item = np.maximum(np.bincount(weighted.indices, minlength=train.n_items), 1)
        self._damping = np.power(users_per_item, -self.params.beta).astype(np.float32)

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        reached_users = (self._user_item[user_indices] @ self._item_user).toarray()
        # C order: a transposed (Fortran) block makes every later row-wise step several x slower.
        scores = np.ascontiguousarray((self._user_item.T @ reached_users.T).T, dtype=np.float32)
        return scores * self._damping

    def contributions(self, user_index: int, item_index: int) -> np.ndarray:
        return self.item_contributions(user_index, np.array([item_index]))[0]

    def item_contributions(self, user_index: int, item_indices: np.ndarray) -> np.ndarray:
        """The walks from each seed that end on each item (one row per item)."""
        seeds = self._seen_items(user_index)
        items = np.asarray(item_indices)
        start = self._user_item[user_index, seeds].toarray().ravel()
        walk_to_items = (self._item_user[seeds] @ self._user_item[:, items]).toarray()
        return (walk_to_items.T * start) * self._damping[items, None]

    def _state(self) -> State:
        return {
            "user_item": self._user_item,
            "item_user": self._item_user,
            "damping": self._damping,
        }

    def _restore(self, state: State) -> None:
        self._user_item = state["user_item"]
        self._item_user = state["item_user"]
        self._damping = np.asarray(state["damping"])
