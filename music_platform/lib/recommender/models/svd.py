"""PureSVD (Cremonesi et al. 2010): project the weighted user rows on the top item factors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models.base import Recommender, State
from music_platform.lib.recommender.weighting import Weighting, confidence


@dataclass(frozen=True)
class PureSVDParams:
    factors: int = 64
    weighting: Weighting = "bm25"
    seed: int = 0


class PureSVD(Recommender):
    kind = "pure_svd"
    Params = PureSVDParams

    def _fit(self, train: InteractionMatrix) -> None:
        # Imported here: scikit-learn takes seconds to import, and the code location (which
        # imports every model) does not need it to load.
        from sklearn.utils.extmath import randomized_svd

        self._weighted = confidence(train.matrix, self.params.weighting)
        factors = min(self.params.factors, min(self._weighted.shape) - 1)
        _, _, item_factors = randomized_svd(
            self._weighted, factors, n_iter=5, random_state=self.params.seed
        )
        self._item_factors = item_factors.T.astype(np.float32)

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        user_factors = self._weighted[user_indices] @ self._item_factors
        return np.asarray(user_factors @ self._item_factors.T, dtype=np.float32)

    def contributions(self, user_index: int, item_index: int) -> np.ndarray:
        return self.item_contributions(user_index, np.array([item_index]))[0]

    def item_contributions(self, user_index: int, item_indices: np.ndarray) -> np.ndarray:
        seeds = self._seen_items(user_index)
        row_weights = self._weighted[user_index, seeds].toarray().ravel()
        targets = self._item_factors[np.asarray(item_indices)]
        return (targets @ self._item_factors[seeds].T) * row_weights

    def _state(self) -> State:
        return {"weighted": self._weighted, "item_factors": self._item_factors}

    def _restore(self, state: State) -> None:
        self._weighted = state["weighted"]
        self._item_factors = np.asarray(state["item_factors"])
