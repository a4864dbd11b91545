"""Reproducible tuning of the project's blend on a validation split (never on test).

Each component kind gets a small fixed grid; the best setting by validation NDCG@10 is kept.
The blend weights are then found by coordinate ascent over a fixed weight grid, starting from
the best single component, on the components' cached validation scores. Everything is
deterministic: fixed grids, fixed visiting order, seeded factorisations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from music_platform.lib.recommender.models import (
    Blend,
    ContentParams,
    EASEParams,
    PopularityParams,
    PureSVDParams,
    Recommender,
    RP3betaParams,
)
from music_platform.lib.recommender.models.base import model_type
from music_platform.lib.recommender.models.blend import best_unseen
from music_platform.lib.recommender.protocol import Split, evaluate

DEFAULT_GRIDS: dict[str, Sequence[Any]] = {
    "rp3beta": [
        RP3betaParams(alpha=alpha, beta=beta, weighting=weighting)
        for alpha, beta, weighting in (
            (0.8, 0.1, "bm25"),
            (1.0, 0.0, "bm25"),
            (1.0, 0.1, "bm25"),
            (1.0, 0.3, "log"),
        )
    ],
    "pure_svd": [PureSVDParams(factors=factors) for factors in (32, 64)],
    "ease": [EASEParams(l2=l2) for l2 in (100.0, 300.0)],
    "content": [ContentParams(min_feature_items=min_items) for min_items in (5, 20, 50)],
    "popularity": [PopularityParams()],
}
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
ASCENT_ROUNDS = 2

Log = Callable[[str], None]


@dataclass(frozen=True)
class TunedBlend:
    """The chosen component settings and blend weights, with their validation NDCG@10."""

    params: dict[str, Any]
    weights: dict[str, float]
    validation_ndcg: float
    component_ndcg: dict[str, float]

    def build(self) -> Blend:
        """An unfitted blend with the chosen settings (components with weight 0 left out)."""
        kept = {name: w for name, w in self.weights.items() if w > 0}
        components = {name: model_type(name)(self.params[name]) for name in kept}
        return Blend(components, kept)

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "params": {name: dataclasses.asdict(p) for name, p in self.params.items()},
            "validation_ndcg@10": self.validation_ndcg,
            "component_validation_ndcg@10": self.component_ndcg,
        }


def tune_blend(
    validation: Split,
    item_features: sp.spmatrix,
    grids: Mapping[str, Sequence[Any]] = DEFAULT_GRIDS,
    weight_grid: Sequence[float] = WEIGHT_GRID,
    log: Log = lambda message: None,
) -> TunedBlend:
    """Pick each component's hyperparameters, then the blend weights, on `validation`.

    `item_features` must not contain information from the validation (or test) held-out pairs.
    """
    users = validation.evaluated_users
    seen = validation.train.matrix[users]
    params: dict[str, Any] = {}
    component_ndcg: dict[str, float] = {}
    cached: dict[str, np.ndarray] = {}
    for kind, grid in grids.items():
        best_ndcg = -1.0
        for setting in grid:
            model = _fit(model_type(kind)(setting), validation, item_features)
            ndcg = evaluate(model, validation).ndcg
            log(f"{kind} {dataclasses.asdict(setting)}: validation ndcg@10 {ndcg:.4f}")
            if ndcg > best_ndcg:
                best_ndcg, params[kind] = ndcg, setting
                scores = model.score(users)
                cached[kind] = scores / best_unseen(scores, seen)
        component_ndcg[kind] = best_ndcg
    weights, ndcg = _ascend(cached, component_ndcg, validation, weight_grid, log)
    return TunedBlend(params, weights, ndcg, component_ndcg)


def _ascend(
    cached: dict[str, np.ndarray],
    component_ndcg: dict[str, float],
    validation: Split,
    weight_grid: Sequence[float],
    log: Log,
) -> tuple[dict[str, float], float]:
    scorer = _CachedScores(validation.evaluated_users, validation.train.n_users)
    leader = max(component_ndcg, key=lambda kind: component_ndcg[kind])
    weights = {kind: 1.0 if kind == leader else 0.0 for kind in cached}
    best = component_ndcg[leader]
    for _ in range(ASCENT_ROUNDS):
        improved = False
        for kind in cached:
            for weight in weight_grid:
                trial = {**weights, kind: weight}
                if weight == weights[kind] or not any(trial.values()):
                    continue
                scorer.scores = sum(w * cached[name] for name, w in trial.items() if w)
                ndcg = evaluate(scorer, validation).ndcg
                if ndcg > best:
                    best, weights, improved = ndcg, trial, True
                    log(f"blend {weights}: validation ndcg@10 {ndcg:.4f}")
        if not improved:
            break
    return weights, best


class _CachedScores:
    """Serves precomputed score rows of the evaluated users to `evaluate`."""

    def __init__(self, users: np.ndarray, n_users: int) -> None:
        self.row = np.full(n_users, -1)
        self.row[users] = np.arange(len(users))
        self.scores = np.zeros((0, 0), dtype=np.float32)

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        return self.scores[self.row[user_indices]]


def _fit(model: Recommender, validation: Split, item_features: sp.spmatrix) -> Recommender:
    if getattr(model, "uses_item_features", False):
        return model.fit(validation.train, item_features)
    return model.fit(validation.train)
