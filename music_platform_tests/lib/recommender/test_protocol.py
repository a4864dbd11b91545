"""The evaluation protocol on a tiny example checked by hand.

Users and their items (ids sorted):
  user 1: 10 20 30 40 50             n=5  -> floor(1.0)=1 held out
  user 2: 10 20 60                   n=3  -> under 5: no draw, all train, not evaluated
  user 3: 5 20 30 40 70 80           n=6  -> floor(1.2)=1 held out
  user 4: 10 20 30 40 50 60 70 80 90 100  n=10 -> floor(2.0)=2 held out
default_rng(42) draws, in user order (user 2 draws nothing):
  permutation(5)  = [4 2 3 1 0]            -> user 1 holds out position 4: item 50
  permutation(6)  = [0 3 5 1 2 4]          -> user 3 holds out position 0: item 5
  permutation(10) = [6 8 4 2 9 3 0 7 1 5]  -> user 4 holds out positions 6, 8: items 70, 90
Items 5 and 90 then have no training interaction: they are not candidates, yet count in |test|.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from music_platform.lib.recommender import InteractionMatrix, evaluate, split
from music_platform.lib.recommender.protocol import evaluate_users
from music_platform.lib.recommender.ranking import top_k

ITEMS_BY_USER = {
    1: [10, 20, 30, 40, 50],
    2: [10, 20, 60],
    3: [5, 20, 30, 40, 70, 80],
    4: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
}
# One score per item id, the same for every user; ties on purpose.
ITEM_SCORES = {5: 9, 10: 1, 20: 1, 30: 2, 40: 2, 50: 5, 60: 3, 70: 3, 80: 0, 90: 8, 100: 3}


def tiny() -> InteractionMatrix:
    users = [user for user, items in ITEMS_BY_USER.items() for _ in items]
    items = [item for items in ITEMS_BY_USER.values() for item in items]
    return InteractionMatrix.from_arrays(users, items)


class FixedScores:
    def __init__(self, interactions: InteractionMatrix, by_item: dict[int, float]) -> None:
        self.row = np.array([by_item[int(i)] for i in interactions.item_ids], dtype=np.float32)

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        return np.tile(self.row, (len(user_indices), 1))


def items_of(matrix: InteractionMatrix, user_id: int) -> list[int]:
    row = matrix.matrix[matrix.user_index(user_id)[0]]
    return matrix.item_ids[row.indices].tolist()


def test_split_holds_out_the_positions_the_seed_draws() -> None:
    data = split(tiny(), seed=42)
    assert {user: items_of(data.test, user) for user in ITEMS_BY_USER} == {
        1: [50],
        2: [],
        3: [5],
        4: [70, 90],
    }
    assert items_of(data.train, 2) == [10, 20, 60]
    assert items_of(data.train, 4) == [10, 20, 30, 40, 50, 60, 80, 100]
    assert data.train.user_ids[data.evaluated_users].tolist() == [1, 3, 4]
    assert data.train.item_ids[~data.candidates].tolist() == [5, 90]
    assert data.train.nnz + data.test.nnz == tiny().nnz


def test_split_is_reproducible_and_seed_dependent() -> None:
    first, again = split(tiny(), 42), split(tiny(), 42)
    assert (first.test.matrix != again.test.matrix).nnz == 0
    assert (split(tiny(), 43).test.matrix != first.test.matrix).nnz > 0


def test_metrics_match_the_hand_computation() -> None:
    data = split(tiny(), seed=42)
    metrics = evaluate(FixedScores(data.train, ITEM_SCORES), data, k=3)
    # Rankings (training items and non-candidates 5, 90 excluded, ties by ascending id):
    #   user 1: 50 (5), 60 (3), 70 (3) [100 (3) loses the tie]  test {50}: hit at rank 1
    #   user 3: 50, 60, 100                                      test {5}: no hit possible
    #   user 4: 70 only                                          test {70, 90}: hit at rank 1
    ideal_user_4 = 1 + 1 / math.log2(3)
    assert metrics.users == 3
    assert metrics.precision == pytest.approx((1 / 3 + 0 + 1 / 3) / 3)
    assert metrics.recall == pytest.approx((1 + 0 + 1 / 2) / 3)
    assert metrics.ndcg == pytest.approx((1 + 0 + 1 / ideal_user_4) / 3)
    assert metrics.map == pytest.approx((1 + 0 + 1 / 2) / 3)
    assert metrics.hit_rate == pytest.approx(2 / 3)
    # Recommended {50, 60, 70, 100} out of 9 candidates.
    assert metrics.coverage == pytest.approx(4 / 9)


def test_each_users_metrics_are_kept_for_paired_comparisons() -> None:
    data = split(tiny(), seed=42)
    per_user = evaluate_users(FixedScores(data.train, ITEM_SCORES), data, k=3, batch_size=2)
    # The hand computation above, user by user (1, 3, 4), across two batches.
    assert data.train.user_ids[per_user.users].tolist() == [1, 3, 4]
    assert per_user.ndcg.tolist() == pytest.approx([1, 0, 1 / (1 + 1 / math.log2(3))])
    assert per_user.recall.tolist() == pytest.approx([1, 0, 1 / 2])
    assert per_user.hit.tolist() == [1, 0, 1]
    assert per_user.summary() == evaluate(FixedScores(data.train, ITEM_SCORES), data, k=3)


def test_a_hit_lower_down_is_discounted() -> None:
    data = split(tiny(), seed=42)
    metrics = evaluate(FixedScores(data.train, {**ITEM_SCORES, 60: 6}), data, k=3)
    # user 1 now ranks 60, 50, 70: the hit moves to rank 2.
    ideal_user_4 = 1 + 1 / math.log2(3)
    assert metrics.ndcg == pytest.approx((1 / math.log2(3) + 0 + 1 / ideal_user_4) / 3)
    assert metrics.map == pytest.approx((1 / 2 + 0 + 1 / 2) / 3)
    assert metrics.recall == pytest.approx((1 + 0 + 1 / 2) / 3)


def test_metric_names_carry_k() -> None:
    data = split(tiny(), seed=42)
    names = evaluate(FixedScores(data.train, ITEM_SCORES), data).as_dict()
    assert list(names) == [
        "ndcg@10",
        "precision@10",
        "recall@10",
        "map@10",
        "hit_rate@10",
        "coverage@10",
    ]


def test_top_k_breaks_ties_by_ascending_index() -> None:
    scores = np.array(
        [
            [1.0, 3.0, 3.0, 2.0, 3.0, 3.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [-np.inf, 5.0, -np.inf, -np.inf, -np.inf, -np.inf],
        ]
    )
    columns, valid = top_k(scores, 3)
    assert columns.tolist()[:2] == [[1, 2, 4], [0, 1, 2]]
    assert columns[2, 0] == 1
    assert valid.tolist() == [[True] * 3, [True] * 3, [True, False, False]]


def test_top_k_matches_a_full_sort_on_random_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(50, 40)).astype(float)
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    columns, _ = top_k(scores, 10)
    expected = [np.lexsort((np.arange(40), -row))[:10] for row in scores]
    assert np.array_equal(columns, np.array(expected))


def test_interactions_from_a_frame_sum_repeated_pairs_and_keep_the_mapping() -> None:
    frame = pl.DataFrame(
        {"user_id": ["b", "a", "b", "b"], "item_id": [7, 3, 7, 9], "plays": [1, 2, 3, 4]}
    )
    matrix = InteractionMatrix.from_frame(frame, weight_col="plays")
    assert matrix.user_ids.tolist() == ["a", "b"]
    assert matrix.item_ids.tolist() == [3, 7, 9]
    assert matrix.matrix.toarray().tolist() == [[2, 0, 0], [0, 4, 4]]
    assert matrix.item_index([9, 3]).tolist() == [2, 0]
    with pytest.raises(KeyError):
        matrix.user_index("c")
