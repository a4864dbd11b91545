"""The project's blend on the real HetRec 2011 Last.fm 2K files, under the fixed protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from music_platform.lib.recommender import evaluate, split
from music_platform.lib.recommender.models import ALS, Popularity
from research.components import SideData
from research.hetrec import load_friends, load_interactions, load_item_tags
from research.project import PROJECT_PARAMS, project_blend


@pytest.fixture(scope="module")
def hetrec(shared_data: Path) -> Path:
    return shared_data / "hetrec2011-lastfm-2k"


def test_loaders_read_the_published_counts(hetrec: Path) -> None:
    interactions = load_interactions(hetrec)
    assert (interactions.n_users, interactions.n_items, interactions.nnz) == (1892, 17632, 92834)
    tags, names = load_item_tags(hetrec, interactions.item_ids)
    assert tags.shape == (17632, 11946)
    assert tags.sum() == 186479 - _assignments_on_unplayed_artists(hetrec, interactions.item_ids)
    assert names[0] == "metal"


def test_held_out_pairs_leave_no_tags_behind(hetrec: Path) -> None:
    interactions = load_interactions(hetrec)
    held_out = split(interactions).test
    with_all, _ = load_item_tags(hetrec, interactions.item_ids)
    without, _ = load_item_tags(hetrec, interactions.item_ids, held_out)
    assert 0 < without.sum() < with_all.sum()


def test_friendships_are_symmetric_and_complete(hetrec: Path) -> None:
    interactions = load_interactions(hetrec)
    friends = load_friends(hetrec, interactions.user_ids)
    assert friends.shape == (1892, 1892)
    assert friends.nnz == 25434
    assert (friends != friends.T).nnz == 0
    assert friends.diagonal().sum() == 0
    some = interactions.user_ids[:100]
    assert load_friends(hetrec, some).shape == (100, 100)


@pytest.mark.slow
def test_project_blend_beats_its_own_als_and_popularity_clearly(hetrec: Path) -> None:
    interactions = load_interactions(hetrec)
    test_split = split(interactions)
    tags, _ = load_item_tags(hetrec, interactions.item_ids, test_split.test)
    side = SideData(item_features=tags, friends=load_friends(hetrec, interactions.user_ids))
    blend = evaluate(project_blend(side).fit(test_split.train), test_split)
    als = evaluate(ALS(PROJECT_PARAMS["als"]).fit(test_split.train), test_split)
    popularity = evaluate(Popularity().fit(test_split.train), test_split)
    assert popularity.ndcg == pytest.approx(0.0799, abs=0.001)
    assert blend.ndcg > 1.05 * als.ndcg
    assert blend.ndcg > 3 * popularity.ndcg
    assert blend.recall > 2.5 * popularity.recall
    assert blend.coverage > 10 * popularity.coverage


def _assignments_on_unplayed_artists(hetrec: Path, item_ids: np.ndarray) -> int:
    artists = pl.read_csv(hetrec / "user_taggedartists.dat", separator="\t")["artistID"]
    return int((~artists.is_in(item_ids.tolist())).sum())


@pytest.fixture
def interactions_only(hetrec: Path, tmp_path: Path) -> Path:
    """A HetRec folder holding only the interactions and the artist names."""
    for name in ("user_artists.dat", "artists.dat"):
        (tmp_path / name).write_bytes((hetrec / name).read_bytes())
    return tmp_path


def test_tags_and_friends_are_optional(interactions_only: Path) -> None:
    interactions = load_interactions(interactions_only)
    assert load_item_tags(interactions_only, interactions.item_ids) is None
    assert load_friends(interactions_only, interactions.user_ids) is None
    (interactions_only / "tags.dat").write_text("tagID\ttagValue\n")
    (interactions_only / "user_friends.dat").write_text("userID\tfriendID\n")
    (interactions_only / "user_taggedartists.dat").write_text(
        "userID\tartistID\ttagID\tday\tmonth\tyear\n"
    )
    assert load_friends(interactions_only, interactions.user_ids) is None
    assert load_item_tags(interactions_only, interactions.item_ids) is None


def test_blend_trains_without_tags_or_friends(interactions_only: Path) -> None:
    interactions = load_interactions(interactions_only)
    test_split = split(interactions)
    blend = project_blend(SideData()).fit(test_split.train)
    assert set(blend.components) == {"rp3beta", "als", "ease"}
    assert (
        evaluate(blend, test_split).ndcg
        > evaluate(Popularity().fit(test_split.train), test_split).ndcg
    )
