"""Synthetic listening shaped like the warehouse: play counts and a `dim_track`-like catalogue.

Tests and benchmarks train and serve the platform's model on it without running the pipeline;
`promote_model` trains it and promotes it in a registry, as the pipeline's recommender does.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from music_platform.defs.recommender.assets import REGISTRY_NAME, project_model
from music_platform.defs.recommender.training import train_and_register
from music_platform.lib.model_registry import ModelRegistry
from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.synthetic import (
    SyntheticConfig,
    generate_catalogue,
    generate_listens,
    generate_users,
)


def synthetic_world(
    config: SyntheticConfig, first_day: date, days: int
) -> tuple[InteractionMatrix, pl.DataFrame]:
    """(users x tracks play counts over `days` days, the catalogue serving reads)."""
    catalogue = generate_catalogue(config)
    users = generate_users(config, as_of=first_day)
    listens = pl.concat(
        generate_listens(config, first_day + timedelta(days=offset), catalogue, users)
        for offset in range(days)
    )
    plays = listens.group_by("user_id", "track_id").len("plays")
    interactions = InteractionMatrix.from_arrays(
        plays["user_id"].to_numpy().astype(str),
        plays["track_id"].to_numpy().astype(str),
        plays["plays"].to_numpy(),
    )
    # The columns of CATALOGUE_SQL in defs/recommender/assets.py, as dim_track has them.
    served = catalogue.tracks.join(
        catalogue.artists.select("artist_id", "artist_name"), on="artist_id"
    ).select(
        "track_id",
        "track_name",
        "artist_id",
        "artist_name",
        "album_name",
        "genre",
        "popularity",
        pl.col("release_date").dt.year().alias("release_year"),
        "danceability",
        "energy",
        "valence",
        "acousticness",
        "tempo",
        pl.lit("synthetic").alias("source_name"),
    )
    return interactions, served


WINDOW = {"first_day": "2026-01-01", "last_day": "2026-01-07", "days": "7"}


def serving_world() -> tuple[InteractionMatrix, pl.DataFrame]:
    """The small world (seven days from `WINDOW`'s first) the serving tests promote a model on."""
    config = SyntheticConfig(seed=3, users=120, artists=40, tracks=400, events_per_day=1500)
    return synthetic_world(config, date(2026, 1, 1), days=7)


def promote_model(models_dir: Path, world: tuple[InteractionMatrix, pl.DataFrame]) -> str:
    interactions, catalogue = world
    outcome = train_and_register(
        interactions,
        project_model(catalogue, interactions),
        ModelRegistry(models_dir, REGISTRY_NAME),
        training_window=WINDOW,
        tolerance=0.5,
        catalogue=catalogue,
    )
    assert outcome.promoted
    return outcome.card.version
