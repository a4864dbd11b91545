"""The baseline: every user gets the items with the most training users."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models.base import Recommender, State


@dataclass(frozen=True)
class PopularityParams:
    """No hyperparameters."""


class Popularity(Recommender):
    kind = "popularity"
    Params = PopularityParams

    def _fit(self, train: InteractionMatrix) -> None:
        self._counts = np.bincount(train.matrix.indices, minlength=train.n_items).astype(np.float32)

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        return np.tile(self._counts, (len(user_indices), 1))

    def _state(self) -> State:
        return {"counts": self._counts}

    def _restore(self, state: State) -> None:
        self._counts = np.asarray(state["counts"])
