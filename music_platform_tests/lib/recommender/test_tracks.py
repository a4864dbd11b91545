"""The platform's model over tracks: catalogue features and the blend built from them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from music_platform.lib.recommender import InteractionMatrix, evaluate, split
from music_platform.lib.recommender.models import Blend, Popularity, Recommender
from music_platform.lib.recommender.tracks import platform_model, track_features
from music_platform.lib.synthetic import (
    Catalogue,
    SyntheticConfig,
    generate_catalogue,
    generate_listens,
    generate_users,
)

N_BINNED = 6 * 5  # six binned columns, five bins each


def catalogue() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "track_id": ["t1", "t2", "t3", "t9"],
            "artist_id": ["a", "a", "b", "c"],
            "genre": ["rock", "jazz", None, "pop"],
            "danceability": [0.1, 0.5, None, 0.9],
            "energy": [0.7, 0.7, 0.1, 0.1],
            "valence": [0.1, 0.3, 0.5, 0.7],
            "acousticness": [0.9, 0.1, 0.5, 0.5],
            "tempo": [80.0, 120.0, 200.0, None],
            "popularity": [10, 50, 90, None],
        }
    )


def test_track_features_align_rows_to_the_item_ids() -> None:
    # t4 is not in the catalogue; t9 is in the catalogue but not among the items.
    features = track_features(catalogue(), np.array(["t1", "t2", "t3", "t4"]))
    # Columns: genres jazz, rock; artists a, b; then the bins.
    assert features.shape == (4, 2 + 2 + N_BINNED)
    assert set(features.data) == {1.0}
    per_row = np.diff(features.indptr)
    assert per_row.tolist() == [8, 8, 6, 0]  # t3: no genre, no danceability
    shared = (features @ features.T).toarray()
    assert shared[0, 1] == 2  # same artist, same energy bin
    assert shared[0, 2] == 0


def test_track_features_match_ids_of_any_type_and_skip_absent_columns() -> None:
    frame = (
        catalogue()
        .select("track_id", "genre")
        .with_columns(pl.col("track_id").str.slice(1).cast(pl.Int64))
    )
    features = track_features(frame, np.array([1, 2, 3]))
    assert features.shape == (3, 2)
    assert np.diff(features.indptr).tolist() == [1, 1, 0]


@pytest.fixture(scope="module")
def world() -> tuple[InteractionMatrix, Catalogue]:
    """Three weeks of a small synthetic world's listening, as the asset reads it."""
    config = SyntheticConfig(seed=11, users=150, artists=80, tracks=800, events_per_day=1500)
    tracks = generate_catalogue(config)
    users = generate_users(config, as_of=date(2026, 1, 31))
    days = [date(2026, 1, 10) + timedelta(days=d) for d in range(21)]
    listens = pl.concat([generate_listens(config, day, tracks, users) for day in days])
    plays = listens.group_by("user_id", "track_id").len("plays")
    interactions = InteractionMatrix.from_arrays(
        plays["user_id"].to_numpy(), plays["track_id"].to_numpy(), plays["plays"].to_numpy()
    )
    return interactions, tracks


def test_platform_model_beats_popularity_and_uses_the_catalogue(
    world: tuple[InteractionMatrix, Catalogue],
) -> None:
    interactions, tracks = world
    data = split(interactions)
    features = track_features(tracks.tracks, interactions.item_ids)
    with_features = evaluate(platform_model(features).fit(data.train), data)
    collaborative = evaluate(platform_model().fit(data.train), data)
    popularity = evaluate(Popularity().fit(data.train), data)
    assert collaborative.ndcg > 1.2 * popularity.ndcg
    assert with_features.ndcg > collaborative.ndcg


def test_platform_model_round_trips_through_its_artefact(
    world: tuple[InteractionMatrix, Catalogue], tmp_path: Path
) -> None:
    interactions, tracks = world
    features = track_features(tracks.tracks, interactions.item_ids)
    model = platform_model(features).fit(interactions)
    loaded = Recommender.load(model.save(tmp_path / "platform"))
    assert isinstance(loaded, Blend)
    assert loaded.params == model.params
    users = np.arange(interactions.n_users)
    assert np.array_equal(loaded.score(users), model.score(users))
    items = [item for item, _ in loaded.recommend(7, k=10)]
    assert loaded.explain_many(7, items) == model.explain_many(7, items)
    assert any(loaded.explain_many(7, items))


def test_platform_model_refuses_features_of_another_item_set(
    world: tuple[InteractionMatrix, Catalogue],
) -> None:
    interactions, _ = world
    with pytest.raises(ValueError):
        platform_model(sp.csr_matrix((3, 4))).fit(interactions)
