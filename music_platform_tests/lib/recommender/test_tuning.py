"""Blend tuning on a validation split: deterministic, and its result builds a working blend."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from music_platform.lib.recommender import InteractionMatrix, evaluate, split
from music_platform.lib.recommender.models import (
    Blend,
    ContentParams,
    Popularity,
    PopularityParams,
    PureSVDParams,
    RP3betaParams,
)
from music_platform.lib.recommender.protocol import VALIDATION_SEED
from music_platform.lib.recommender.tuning import tune_blend

GRIDS = {
    "rp3beta": [RP3betaParams(beta=0.0), RP3betaParams(beta=0.3)],
    "pure_svd": [PureSVDParams(factors=4)],
    "content": [ContentParams(min_feature_items=1)],
    "popularity": [PopularityParams()],
}


def clustered(seed: int = 3) -> tuple[InteractionMatrix, sp.csr_matrix]:
    """60 users in 3 taste clusters over 45 items; each cluster's items share tags."""
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
    return InteractionMatrix.from_arrays(users, items, plays), sp.csr_matrix(tags)


def test_tuning_is_reproducible_and_never_worse_than_its_best_component() -> None:
    interactions, tags = clustered()
    validation = split(split(interactions).train, VALIDATION_SEED)
    first = tune_blend(validation, tags, grids=GRIDS)
    again = tune_blend(validation, tags, grids=GRIDS)
    assert first == again
    assert set(first.weights) == set(GRIDS)
    assert first.validation_ndcg >= max(first.component_ndcg.values())


def test_the_tuned_blend_fits_and_beats_popularity_on_test() -> None:
    interactions, tags = clustered()
    test_split = split(interactions)
    tuned = tune_blend(split(test_split.train, VALIDATION_SEED), tags, grids=GRIDS)
    blend = tuned.build()
    assert isinstance(blend, Blend)
    assert set(blend.components) == {n for n, w in tuned.weights.items() if w > 0}
    blend.fit(test_split.train, tags)
    popularity = Popularity().fit(test_split.train)
    assert evaluate(blend, test_split).ndcg > evaluate(popularity, test_split).ndcg
