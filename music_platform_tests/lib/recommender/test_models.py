"""Every model: fit/score shapes, artefact round trip, recommend and explain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from music_platform.lib.recommender import InteractionMatrix
from music_platform.lib.recommender.models import (
    EASE,
    Blend,
    Content,
    ContentParams,
    EASEParams,
    Popularity,
    PureSVD,
    PureSVDParams,
    Recommender,
    RP3beta,
)

N_USERS, N_ITEMS, N_FEATURES = 30, 40, 12


@pytest.fixture(scope="module")
def train() -> InteractionMatrix:
    rng = np.random.default_rng(7)
    # Two taste groups, so item-item models have structure to find.
    users, items = [], []
    for user in range(N_USERS):
        pool = np.arange(0, 25) if user % 2 else np.arange(15, N_ITEMS)
        chosen = rng.choice(pool, size=8, replace=False)
        users += [100 + user] * len(chosen)
        items += (1000 + chosen).tolist()
    plays = rng.integers(1, 500, size=len(users))
    return InteractionMatrix.from_arrays(users, items, plays, item_ids=1000 + np.arange(N_ITEMS))


@pytest.fixture(scope="module")
def features() -> sp.csr_matrix:
    rng = np.random.default_rng(8)
    dense = (rng.random((N_ITEMS, N_FEATURES)) < 0.3) * rng.integers(1, 5, (N_ITEMS, N_FEATURES))
    return sp.csr_matrix(dense, dtype=np.float32)


MODELS: dict[str, Callable[[], Recommender]] = {
    "popularity": Popularity,
    "rp3beta": RP3beta,
    "ease": lambda: EASE(EASEParams(l2=10.0, min_item_users=1)),
    "pure_svd": lambda: PureSVD(PureSVDParams(factors=5)),
    "content": lambda: Content(ContentParams(min_feature_items=1)),
    "blend": lambda: Blend(
        {
            "rp3beta": RP3beta(),
            "content": Content(ContentParams(min_feature_items=1)),
            "popularity": Popularity(),
        },
        {"rp3beta": 1.0, "content": 0.5, "popularity": 0.1},
    ),
}


def fitted(name: str, train: InteractionMatrix, features: sp.csr_matrix) -> Recommender:
    model = MODELS[name]()
    if isinstance(model, Content | Blend):
        return model.fit(train, features)
    return model.fit(train)


@pytest.mark.parametrize("name", MODELS)
def test_score_is_a_dense_block_per_user(
    name: str, train: InteractionMatrix, features: sp.csr_matrix
) -> None:
    scores = fitted(name, train, features).score(np.array([0, 3, 5]))
    assert isinstance(scores, np.ndarray)
    assert scores.shape == (3, N_ITEMS)
    assert scores.dtype == np.float32
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("name", MODELS)
def test_saved_artefact_scores_identically(
    name: str, train: InteractionMatrix, features: sp.csr_matrix, tmp_path: Path
) -> None:
    model = fitted(name, train, features)
    path = model.save(tmp_path / "model.npz")
    loaded = Recommender.load(path)
    users = np.arange(N_USERS)
    assert type(loaded) is type(model)
    assert loaded.params == model.params
    assert np.array_equal(loaded.score(users), model.score(users))
    assert np.array_equal(loaded.train.item_ids, train.item_ids)
    assert loaded.recommend(4, k=5) == model.recommend(4, k=5)


def test_loading_checks_the_model_kind(
    train: InteractionMatrix, features: sp.csr_matrix, tmp_path: Path
) -> None:
    path = fitted("rp3beta", train, features).save(tmp_path / "model.npz")
    assert isinstance(RP3beta.load(path), RP3beta)
    with pytest.raises(TypeError):
        EASE.load(path)


@pytest.mark.parametrize("name", MODELS)
def test_recommend_ranks_unseen_items(
    name: str, train: InteractionMatrix, features: sp.csr_matrix
) -> None:
    model = fitted(name, train, features)
    seen = set(train.matrix[2].indices.tolist())
    ranked = model.recommend(2, k=10)
    assert len(ranked) == 10
    assert not seen & {item for item, _ in ranked}
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    with_seen = {item for item, _ in model.recommend(2, k=N_ITEMS, exclude_seen=False)}
    assert seen <= with_seen


@pytest.mark.parametrize("name", [n for n in MODELS if n != "popularity"])
def test_explain_names_the_users_own_items(
    name: str, train: InteractionMatrix, features: sp.csr_matrix
) -> None:
    model = fitted(name, train, features)
    seen = set(train.matrix[2].indices.tolist())
    item, _ = model.recommend(2, k=1)[0]
    seeds = model.explain(2, item, n=3)
    assert 1 <= len(seeds) <= 3
    assert {seed for seed, _ in seeds} <= seen
    weights = [weight for _, weight in seeds]
    assert all(weight > 0 for weight in weights)
    assert weights == sorted(weights, reverse=True)


def test_blend_contributions_add_up_to_the_item_based_score(
    train: InteractionMatrix, features: sp.csr_matrix
) -> None:
    blend = Blend(
        {"rp3beta": RP3beta(), "content": Content(ContentParams(min_feature_items=1))},
        {"rp3beta": 1.0, "content": 0.5},
    ).fit(train, features)
    item = blend.recommend(6, k=1)[0][0]
    score = blend.score(np.array([6]))[0, item]
    assert blend.contributions(6, item).sum() == pytest.approx(score, rel=1e-5)


def test_content_scores_items_nobody_played(
    train: InteractionMatrix, features: sp.csr_matrix
) -> None:
    # A new item 9999 with no listener, tagged like item 0.
    cold_features = sp.vstack([features, features[[0]]]).tocsr()
    cold_train = InteractionMatrix.from_arrays(
        *_pairs(train), item_ids=np.append(train.item_ids, 9999)
    )
    model = Content(ContentParams(min_feature_items=1)).fit(cold_train, cold_features)
    assert (model.score(np.arange(N_USERS))[:, -1] > 0).any()


def _pairs(matrix: InteractionMatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coo = matrix.matrix.tocoo()
    return matrix.user_ids[coo.row], matrix.item_ids[coo.col], coo.data
