"""Content-based scoring over item features (tags, genres, audio descriptors).

Items are TF-IDF vectors of their features, unit length; a user is the confidence-weighted sum
of their training items' vectors; the score is the dot product. Items without any listener but
with features still score, which is what cold-start items need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models.base import Recommender, State
from music_platform.lib.recommender.weighting import Weighting, confidence, l2_normalise


@dataclass(frozen=True)
class ContentParams:
    weighting: Weighting = "log"
    min_feature_items: int = 5


class Content(Recommender):
    kind = "content"
    Params = ContentParams
    uses_item_features = True

    def __init__(
        self, params: ContentParams | None = None, item_features: sp.spmatrix | None = None
    ) -> None:
        """`item_features`: items x features counts (e.g. tags), rows in the item order of the
        interactions it will be fitted on; `fit` may also bring them."""
        super().__init__(params)
        self.item_features = item_features

    def fit(self, train: InteractionMatrix, item_features: sp.spmatrix | None = None) -> Content:
        features = self.item_features if item_features is None else item_features
        if features is None or features.shape[0] != train.n_items:
            raise ValueError("Content needs an item_features matrix with one row per item")
        self._features = _tfidf(sp.csr_matrix(features), self.params.min_feature_items)
        return super().fit(train)

    def _fit(self, train: InteractionMatrix) -> None:
        self._weighted = confidence(train.matrix, self.params.weighting)

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        profiles = self._weighted[user_indices] @ self._features
        return np.asarray((profiles @ self._features.T).toarray(), dtype=np.float32)

    def contributions(self, user_index: int, item_index: int) -> np.ndarray:
        return self.item_contributions(user_index, np.array([item_index]))[0]

    def item_contributions(self, user_index: int, item_indices: np.ndarray) -> np.ndarray:
        seeds = self._seen_items(user_index)
        row_weights = self._weighted[user_index, seeds].toarray().ravel()
        similarity = (self._features[np.asarray(item_indices)] @ self._features[seeds].T).toarray()
        return (similarity * row_weights).astype(np.float32)

    def _state(self) -> State:
        return {"weighted": self._weighted, "features": self._features}

    def _restore(self, state: State) -> None:
        self._weighted = state["weighted"]
        self._features = state["features"]


def _tfidf(counts: sp.csr_matrix, min_items: int) -> sp.csr_matrix:
    items_per_feature = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log(counts.shape[0] / np.maximum(items_per_feature, 1)).astype(np.float32)
    idf[items_per_feature < min_items] = 0.0
    weighted = counts.astype(np.float32)
    weighted.data = np.log1p(weighted.data)
    weighted = sp.csr_matrix(weighted @ sp.diags(idf))
    weighted.eliminate_zeros()
    return l2_normalise(weighted)
