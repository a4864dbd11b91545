"""A weighted sum of other models' scores, each normalised per user.

Each component's row is divided by its best score among the user's unseen items, so weights
compare like with like whatever a model's scale. The same scaling applies to `explain`: a
component's seed contributions add up to its share of the blended score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models.base import Recommender, State, model_type


@dataclass(frozen=True)
class BlendParams:
    weights: dict[str, float] = field(default_factory=dict)


class Blend(Recommender):
    kind = "blend"
    Params = BlendParams

    def __init__(self, components: Mapping[str, Recommender], weights: Mapping[str, float]):
        if set(components) != set(weights):
            raise ValueError("every component needs exactly one weight")
        super().__init__(BlendParams(weights=dict(weights)))
        self.components = dict(components)

    def fit(self, train: InteractionMatrix, item_features: sp.spmatrix | None = None) -> Blend:
        """Fit every component; `item_features`, when given, go to those that use them
        (otherwise they use the features they were built with)."""
        for model in self.components.values():
            if item_features is not None and getattr(model, "uses_item_features", False):
                model.fit(train, item_features)
            else:
                model.fit(train)
        return super().fit(train)

    def _fit(self, train: InteractionMatrix) -> None:
        del train

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        seen = self._fitted_train().matrix[user_indices]
        total = np.zeros((len(user_indices), seen.shape[1]), dtype=np.float32)
        for name, weight in self._active():
            scores = self.components[name].score(user_indices)
            total += weight * (scores / best_unseen(scores, seen))
        return total

    def contributions(self, user_index: int, item_index: int) -> np.ndarray:
        return self.item_contributions(user_index, np.array([item_index]))[0]

    def item_contributions(self, user_index: int, item_indices: np.ndarray) -> np.ndarray:
        """Each component's contributions on the scale it has in `score` (one score row each)."""
        seen = self._fitted_train().matrix[[user_index]]
        total = np.zeros((len(item_indices), seen.nnz), dtype=np.float32)
        for name, weight in self._active():
            model = self.components[name]
            scale = best_unseen(model.score(np.array([user_index])), seen)[0, 0]
            total += weight * model.item_contributions(user_index, item_indices) / scale
        return total

    def _active(self) -> list[tuple[str, float]]:
        return [(name, w) for name, w in self.params.weights.items() if w != 0]

    @classmethod
    def _from_header(cls, header: dict[str, Any]) -> Blend:
        components = {
            part["name"]: model_type(part["kind"])._from_header(part)
            for part in header["components"]
        }
        return cls(components, header["params"]["weights"])

    def _header(self) -> dict[str, Any]:
        parts = [{"name": name, **model._header()} for name, model in self.components.items()]
        return {**super()._header(), "components": parts}

    def _state(self) -> State:
        return {
            f"{name}.{key}": value
            for name, model in self.components.items()
            for key, value in model._state().items()
        }

    def _restore(self, state: State) -> None:
        for name, model in self.components.items():
            prefix = f"{name}."
            model.train = self.train
            model._restore({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})


def best_unseen(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """Per row, the largest score among unseen items (1 where that is not positive), as a column."""
    masked = scores.copy()
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    masked[rows, seen.indices] = -np.inf
    best = masked.max(axis=1, keepdims=True)
    return np.where(best > 0, best, 1.0).astype(np.float32)
