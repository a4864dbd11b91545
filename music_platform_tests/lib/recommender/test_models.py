"""Every model: fit/score shapes, artefact round trip, recommend and explain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from music_platform.lib.recommender import InteractionMatrix
from music_platform.lib.recommender.models import (
    ALS,
    EASE,
    ALSParams,
    Blend,
    Content,
    ContentParams,
    EASEParams,
    Popularity,
    PureSVD,
    PureSVDParams,
    Recommender,
    RP3beta,
    Social,
)
from music_platform.lib.recommender.models.base import from_recipe, read_recipe

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


def friendships() -> sp.csr_matrix:
    """Users 1..29 in a ring, each a friend of the next two; user 0 has no friends."""
    ring = np.arange(1, N_USERS)
    rows = np.concatenate([ring, ring])
    cols = np.concatenate([np.roll(ring, -1), np.roll(ring, -2)])
    pairs = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(N_USERS, N_USERS))
    return sp.csr_matrix((pairs + pairs.T) > 0, dtype=np.float32)


Factory = Callable[[sp.csr_matrix], Recommender]
MODELS: dict[str, Factory] = {
    "popularity": lambda features: Popularity(),
    "rp3beta": lambda features: RP3beta(),
    "ease": lambda features: EASE(EASEParams(l2=10.0, min_item_users=2)),
    "pure_svd": lambda features: PureSVD(PureSVDParams(factors=5)),
    "als": lambda features: ALS(ALSParams(factors=4, iterations=10)),
    "content": lambda features: Content(ContentParams(min_feature_items=1), features),
    "social": lambda features: Social(friends=friendships()),
    "blend": lambda features: Blend(
        {
            "rp3beta": RP3beta(),
            "als": ALS(ALSParams(factors=4)),
            "ease": EASE(EASEParams(l2=10.0, min_item_users=2)),
            "content": Content(ContentParams(min_feature_items=1), features),
            "social": Social(friends=friendships()),
            "popularity": Popularity(),
        },
        {"rp3beta": 1.0, "als": 0.5, "ease": 0.5, "content": 0.5, "social": 0.2, "popularity": 0.1},
    ),
}
EXPLAINED = [name for name in MODELS if name not in ("popularity", "social")]


def fitted(name: str, train: InteractionMatrix, features: sp.csr_matrix) -> Recommender:
    return MODELS[name](features).fit(train)


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


@pytest.mark.parametrize("name", [name for name in MODELS if name not in ("social", "blend")])
def test_a_recipe_read_from_an_artefact_refits_to_the_same_model(
    name: str, train: InteractionMatrix, features: sp.csr_matrix, tmp_path: Path
) -> None:
    model = fitted(name, train, features)
    recipe = read_recipe(model.save(tmp_path / "model.npz"))
    assert recipe == model.recipe()
    refitted = from_recipe(recipe, features).fit(train)
    users = np.arange(N_USERS)
    assert np.array_equal(refitted.score(users), model.score(users))


def test_a_blend_recipe_refits_its_content_part_with_the_features_given(
    train: InteractionMatrix, features: sp.csr_matrix, tmp_path: Path
) -> None:
    parts = {
        "rp3beta": RP3beta(),
        "als": ALS(ALSParams(factors=4)),
        "content": Content(ContentParams(min_feature_items=1), features),
    }
    model = Blend(parts, {"rp3beta": 1.0, "als": 0.25, "content": 1.0}).fit(train)
    recipe = read_recipe(model.save(tmp_path / "model.npz"))
    refitted = from_recipe(recipe, features).fit(train)
    users = np.arange(N_USERS)
    assert np.array_equal(refitted.score(users), model.score(users))


def test_a_recipe_needing_side_data_it_lacks_cannot_be_refitted(
    train: InteractionMatrix, features: sp.csr_matrix
) -> None:
    with pytest.raises(ValueError, match="item_features"):
        from_recipe(fitted("content", train, features).recipe()).fit(train)
    with pytest.raises(ValueError, match="friends"):
        from_recipe(fitted("blend", train, features).recipe(), features).fit(train)


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


@pytest.mark.parametrize("name", EXPLAINED)
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


@pytest.mark.parametrize("name", MODELS)
def test_explain_many_explains_each_item_as_explain_does(
    name: str, train: InteractionMatrix, features: sp.csr_matrix
) -> None:
    model = fitted(name, train, features)
    items = [item for item, _ in model.recommend(5, k=8)] + [int(train.matrix[5].indices[0])]
    many = model.explain_many(5, items, n=2)
    assert len(many) == len(items)
    for item, seeds in zip(items, many, strict=True):
        one = model.explain(5, item, n=2)
        assert [seed for seed, _ in seeds] == [seed for seed, _ in one]
        assert [weight for _, weight in seeds] == pytest.approx([w for _, w in one], rel=1e-4)
    assert model.explain_many(5, [], n=2) == []


@pytest.mark.parametrize("name", ["rp3beta", "ease", "pure_svd", "content"])
def test_item_contributions_add_up_to_the_score(
    name: str, train: InteractionMatrix, features: sp.csr_matrix
) -> None:
    model = fitted(name, train, features)
    items = np.arange(N_ITEMS)
    totals = model.item_contributions(3, items).sum(axis=1)
    assert totals == pytest.approx(model.score(np.array([3]))[0], rel=1e-4, abs=1e-6)


def test_als_contributions_are_the_terms_of_its_least_squares_score(
    train: InteractionMatrix,
) -> None:
    # Conjugate gradient stops near the exact solution the contributions decompose.
    model = ALS(ALSParams(factors=4, iterations=30)).fit(train)
    items = np.arange(N_ITEMS)
    totals = model.item_contributions(3, items).sum(axis=1)
    assert totals == pytest.approx(model.score(np.array([3]))[0], rel=0.05, abs=0.01)


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


def test_social_scores_what_friends_play(train: InteractionMatrix) -> None:
    model = Social(friends=friendships()).fit(train)
    scores = model.score(np.arange(N_USERS))
    assert not scores[0].any()  # no friends
    friends_items = set(train.matrix[[2, 3, 28, 29]].indices.tolist())  # user 1's friends
    assert set(np.flatnonzero(scores[1]).tolist()) == friends_items
    with pytest.raises(ValueError):
        Social().fit(train)


def test_ease_leaves_rarely_played_items_out(train: InteractionMatrix) -> None:
    model = EASE(EASEParams(l2=10.0, min_item_users=5)).fit(train)
    rare = np.flatnonzero(np.bincount(train.matrix.indices, minlength=N_ITEMS) < 5)
    assert len(rare)
    assert not model.score(np.arange(N_USERS))[:, rare].any()
    seeds = train.matrix[0].indices
    weights = model.item_contributions(0, rare)
    assert weights.shape == (len(rare), len(seeds)) and not weights.any()


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
