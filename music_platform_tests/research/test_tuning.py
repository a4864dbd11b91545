"""Blend tuning on a validation split: deterministic, exact, and builds a working blend."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from music_platform.lib.recommender import InteractionMatrix, evaluate, split
from music_platform.lib.recommender.models import (
    ALSParams,
    Blend,
    ContentParams,
    Popularity,
    PopularityParams,
    PureSVDParams,
    RP3betaParams,
    SocialParams,
)
from music_platform.lib.recommender.protocol import VALIDATION_SEED
from research.components import SideData, build_component
from research.tuning import Shortlist, tune_blend

GRIDS = {
    "rp3beta": [RP3betaParams(beta=0.0), RP3betaParams(beta=0.3)],
    "pure_svd": [PureSVDParams(factors=4)],
    "als": [ALSParams(factors=4)],
    "content": [ContentParams(min_feature_items=1)],
    "social": [SocialParams()],
    "popularity": [PopularityParams()],
}


def clustered(seed: int = 3) -> tuple[InteractionMatrix, SideData]:
    """60 users in 3 taste clusters over 45 items; each cluster's items share tags, and
    users befriend two others of their cluster."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(60):
        cluster = user % 3
        chosen = rng.choice(np.arange(15) + 15 * cluster, size=10, replace=False)
        noise = rng.choice(45, size=2, replace=False)
        picked = np.unique(np.concatenate([chosen, noise]))
        users += [user] * len(picked)
        items += picked.tolist()
    tags = np.zeros((45, 6), dtype=np.float32)
    tags[np.arange(45), np.arange(45) // 15] = 3
    tags[np.arange(45), 3 + rng.integers(0, 3, 45)] = 1
    plays = rng.integers(1, 100, len(users))
    befriends = np.repeat(np.arange(60), 2)
    friends = sp.csr_matrix(
        (np.ones(120), (befriends, (befriends + np.tile([3, 6], 60)) % 60)), shape=(60, 60)
    )
    side = SideData(item_features=sp.csr_matrix(tags), friends=sp.csr_matrix(friends + friends.T))
    return InteractionMatrix.from_arrays(users, items, plays), side


def test_tuning_is_reproducible_and_never_worse_than_its_best_component() -> None:
    interactions, side = clustered()
    validation = split(split(interactions).train, VALIDATION_SEED)
    first = tune_blend(validation, side, grids=GRIDS)
    again = tune_blend(validation, side, grids=GRIDS)
    assert first == again
    assert set(first.weights) == set(GRIDS)
    assert first.validation_ndcg >= max(first.component_ndcg.values())


def test_kinds_without_their_side_data_are_skipped() -> None:
    interactions, _ = clustered()
    validation = split(split(interactions).train, VALIDATION_SEED)
    tuned = tune_blend(validation, SideData(), grids=GRIDS)
    assert set(tuned.weights) == set(GRIDS) - {"content", "social"}


def test_the_tuned_blend_fits_and_beats_popularity_on_test() -> None:
    interactions, side = clustered()
    test_split = split(interactions)
    tuned = tune_blend(split(test_split.train, VALIDATION_SEED), side, grids=GRIDS)
    blend = tuned.build(side)
    assert isinstance(blend, Blend)
    assert set(blend.components) == {n for n, w in tuned.weights.items() if w > 0}
    blend.fit(test_split.train)
    popularity = Popularity().fit(test_split.train)
    assert evaluate(blend, test_split).ndcg > evaluate(popularity, test_split).ndcg


@pytest.mark.parametrize("depth", [2, 5, 44])
def test_shortlist_ndcg_is_the_protocols_for_any_weights(depth: int) -> None:
    # A shallow shortlist forces the exact re-ranking of most users, a deep one of none.
    interactions, side = clustered(seed=5)
    data = split(interactions)
    params = {kind: grid[0] for kind, grid in GRIDS.items()}
    models = {kind: build_component(kind, p, side).fit(data.train) for kind, p in params.items()}
    shortlist = Shortlist(models, data, depth=depth)
    rng = np.random.default_rng(0)
    for _ in range(5):
        weights = dict(zip(models, rng.choice([0.0, 0.1, 0.5, 1.0, 2.0], len(models)), strict=True))
        weights["rp3beta"] = 1.0
        kept = {kind: w for kind, w in weights.items() if w}
        blend = Blend({kind: models[kind] for kind in kept}, kept).fit(data.train)
        assert shortlist.ndcg(weights) == pytest.approx(evaluate(blend, data).ndcg, abs=1e-12)
