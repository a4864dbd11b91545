"""Reproducible tuning of the project's blend on a validation split (never on test).

Each component kind gets a small fixed grid; the best setting by validation NDCG@10 is kept.
The blend weights are then found by coordinate ascent over a fixed weight grid, starting from
the best single component. Everything is deterministic: fixed grids, fixed visiting order,
seeded factorisations.

Coordinate ascent scores many weightings, so it ranks a shortlist per user instead of every
item: the union of each component's top `SHORTLIST_DEPTH`. An item outside it scores at most
the weighted sum of the components' cut-off scores; users whose blended top-k does not clear
that bound are re-ranked over all items. The figures are therefore exactly `protocol.evaluate`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from music_platform.lib.recommender.models import (
    ALSParams,
    Blend,
    ContentParams,
    EASEParams,
    PopularityParams,
    Recommender,
    RP3betaParams,
    SocialParams,
)
from music_platform.lib.recommender.models.blend import best_unseen
from music_platform.lib.recommender.protocol import Split, evaluate
from music_platform.lib.recommender.ranking import mask_seen, top_k
from research.components import SideData, build_component

DEFAULT_GRIDS: dict[str, Sequence[Any]] = {
    "rp3beta": [
        RP3betaParams(alpha=alpha, beta=beta, weighting="bm25")
        for alpha, beta in ((0.8, 0.1), (0.6, 0.2), (1.0, 0.1))
    ],
    "als": [
        ALSParams(factors=factors, regularization=regularization, alpha=alpha)
        for factors, regularization, alpha in ((32, 0.1, 0.02), (32, 0.1, 0.05), (64, 1.0, 0.02))
    ],
    "ease": [EASEParams(l2=l2) for l2 in (100.0, 300.0)],
    "content": [ContentParams(min_feature_items=min_items) for min_items in (20, 50, 100)],
    "social": [SocialParams(weighting=weighting) for weighting in ("binary", "log")],
    "popularity": [PopularityParams()],
}
WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
ASCENT_ROUNDS = 3
SHORTLIST_DEPTH = 100
K = 10

Log = Callable[[str], None]


@dataclass(frozen=True)
class TunedBlend:
    """The chosen component settings and blend weights, with their validation NDCG@10."""

    params: dict[str, Any]
    weights: dict[str, float]
    validation_ndcg: float
    component_ndcg: dict[str, float]

    def build(self, side: SideData) -> Blend:
        """An unfitted blend with the chosen settings (components with weight 0 left out)."""
        kept = {name: w for name, w in self.weights.items() if w > 0}
        components = {name: build_component(name, self.params[name], side) for name in kept}
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
    side: SideData,
    grids: Mapping[str, Sequence[Any]] = DEFAULT_GRIDS,
    weight_grid: Sequence[float] = WEIGHT_GRID,
    log: Log = lambda message: None,
) -> TunedBlend:
    """Pick each component's hyperparameters, then the blend weights, on `validation`.

    `side` must hold no information from the validation (or test) held-out pairs. Kinds it
    cannot support (no item features, no friends) are skipped.
    """
    params: dict[str, Any] = {}
    component_ndcg: dict[str, float] = {}
    fitted: dict[str, Recommender] = {}
    for kind, grid in grids.items():
        if not side.supports(kind):
            log(f"{kind}: skipped, its side data is missing")
            continue
        best_ndcg = -1.0
        for setting in grid:
            model = build_component(kind, setting, side).fit(validation.train)
            ndcg = evaluate(model, validation).ndcg
            log(f"{kind} {dataclasses.asdict(setting)}: validation ndcg@10 {ndcg:.4f}")
            if ndcg > best_ndcg:
                best_ndcg, params[kind], fitted[kind] = ndcg, setting, model
        component_ndcg[kind] = best_ndcg
    shortlist = Shortlist(fitted, validation)
    weights, ndcg = _ascend(shortlist, component_ndcg, weight_grid, log)
    return TunedBlend(params, weights, ndcg, component_ndcg)


def _ascend(
    shortlist: Shortlist,
    component_ndcg: dict[str, float],
    weight_grid: Sequence[float],
    log: Log,
) -> tuple[dict[str, float], float]:
    leader = max(component_ndcg, key=lambda kind: component_ndcg[kind])
    weights = {kind: 1.0 if kind == leader else 0.0 for kind in component_ndcg}
    best = shortlist.ndcg(weights)
    for _ in range(ASCENT_ROUNDS):
        improved = False
        for kind in component_ndcg:
            for weight in weight_grid:
                trial = {**weights, kind: weight}
                if weight == weights[kind] or not any(trial.values()):
                    continue
                ndcg = shortlist.ndcg(trial)
                if ndcg > best:
                    best, weights, improved = ndcg, trial, True
                    log(f"blend {weights}: validation ndcg@10 {ndcg:.4f}")
        if not improved:
            break
    return weights, best


class Shortlist:
    """Blend NDCG@k of fitted components on a split, for any non-negative weights, exactly.

    Scores are normalised per user as `Blend` does. Per user it keeps the union of each
    component's `depth` best rankable items and each component's cut-off score there.
    """

    def __init__(
        self,
        models: Mapping[str, Recommender],
        data: Split,
        depth: int = SHORTLIST_DEPTH,
        batch_size: int = 256,
    ) -> None:
        self.models, self.data = dict(models), data
        self.users = data.evaluated_users
        depth = min(depth, data.train.n_items - 1)
        self.cutoff = {name: np.empty(len(self.users), dtype=np.float32) for name in models}
        lists: list[np.ndarray] = []
        values: dict[str, list[np.ndarray]] = {name: [] for name in models}
        for start in range(0, len(self.users), batch_size):
            rows = slice(start, start + batch_size)
            blocks = self._normalised(self.users[rows])
            rankable = np.isfinite(next(iter(blocks.values())))
            chosen = np.zeros_like(rankable)
            for name, block in blocks.items():
                top = np.argpartition(-block, depth, axis=1)[:, :depth]
                np.put_along_axis(chosen, top, True, axis=1)
                self.cutoff[name][rows] = np.take_along_axis(block, top, axis=1).min(axis=1)
            chosen &= rankable
            for row, mask in enumerate(chosen):
                items = np.flatnonzero(mask)  # ascending: top_k's tie order stays item order
                lists.append(items)
                for name, block in blocks.items():
                    values[name].append(block[row, items])
        width = max((len(items) for items in lists), default=0)
        self.items = np.zeros((len(lists), width), dtype=np.int64)
        self.padding = np.ones((len(lists), width), dtype=bool)
        self.scores = {name: np.zeros((len(lists), width), np.float32) for name in models}
        for row, items in enumerate(lists):
            self.items[row, : len(items)] = items
            self.padding[row, : len(items)] = False
            for name in models:
                self.scores[name][row, : len(items)] = values[name][row]
        relevant = data.test.matrix[self.users].toarray() > 0
        self.relevant = np.take_along_axis(relevant, self.items, axis=1) & ~self.padding
        self.n_relevant = relevant.sum(axis=1)

    def ndcg(self, weights: Mapping[str, float]) -> float:
        active = {name: w for name, w in weights.items() if w}
        blended = sum(w * self.scores[name] for name, w in active.items())
        blended = np.where(self.padding, -np.inf, blended)
        top, valid = top_k(blended, K)
        hits = np.take_along_axis(self.relevant, top, axis=1) & valid
        gains = _ndcg(hits, self.n_relevant)
        # An item off the shortlist scores at most `bound`; where the k-th pick does not beat
        # it (strictly: a tie could go to a lower item index), rank that user over all items.
        kth = np.take_along_axis(blended, top[:, -1:], axis=1)[:, 0]
        bound = sum(w * self.cutoff[name] for name, w in active.items())
        redo = np.flatnonzero(~(kth > bound) & np.isfinite(bound))
        if len(redo):
            gains[redo] = self._full_ndcg(redo, active)
        return float(gains.mean()) if len(gains) else 0.0

    def _full_ndcg(self, rows: np.ndarray, weights: Mapping[str, float]) -> np.ndarray:
        blocks = self._normalised(self.users[rows])
        blended = sum(w * blocks[name] for name, w in weights.items())
        top, valid = top_k(blended, K)
        relevant = self.data.test.matrix[self.users[rows]].toarray() > 0
        hits = np.take_along_axis(relevant, top, axis=1) & valid
        return _ndcg(hits, self.n_relevant[rows])

    def _normalised(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """Each model's scores as the blend scales them, unrankable items at -inf."""
        seen = self.data.train.matrix[users]
        blocks = {}
        for name, model in self.models.items():
            raw = np.asarray(model.score(users), dtype=np.float32)
            block = raw / best_unseen(raw, seen)
            block[np.isnan(block)] = -np.inf
            block[:, ~self.data.candidates] = -np.inf
            mask_seen(block, seen)
            blocks[name] = block
        return blocks


def _ndcg(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    ideal = np.cumsum(discounts)
    ranks = hits.shape[1]
    return (hits * discounts[:ranks]).sum(axis=1) / ideal[np.minimum(K, n_relevant) - 1]
