"""What a user's friends listen to: the mean of their unit-length listening profiles.

Friends are a users x users matrix over the rows of the interactions the model is fitted on
(HetRec ships `user_friends.dat`). Users without friends score 0 everywhere. The score comes
from other people, not from the user's own items, so it explains nothing by seed items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models.base import Recommender, State
from music_platform.lib.recommender.weighting import (
    Weighting,
    confidence,
    l2_normalise,
    row_normalise,
)


@dataclass(frozen=True)
class SocialParams:
    weighting: Weighting = "log"


class Social(Recommender):
    kind = "social"
    Params = SocialParams

    def __init__(
        self, params: SocialParams | None = None, friends: sp.spmatrix | None = None
    ) -> None:
        super().__init__(params)
        self.friends = friends

    def _fit(self, train: InteractionMatrix) -> None:
        if self.friends is None or self.friends.shape != (train.n_users, train.n_users):
            raise ValueError("Social needs a users x users friends matrix over the train rows")
        self._friends = row_normalise(sp.csr_matrix(self.friends, dtype=np.float32))
        self._profiles = l2_normalise(confidence(train.matrix, self.params.weighting))

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        scores = (self._friends[user_indices] @ self._profiles).toarray()
        return np.asarray(scores, dtype=np.float32)

    def item_contributions(self, user_index: int, item_indices: np.ndarray) -> np.ndarray:
        return np.zeros((len(item_indices), len(self._seen_items(user_index))), dtype=np.float32)

    def _state(self) -> State:
        return {"friends": self._friends, "profiles": self._profiles}

    def _restore(self, state: State) -> None:
        self._friends = state["friends"]
        self._profiles = state["profiles"]
