"""Promotion is earned: a model that loses to popularity is stored but never served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from music_platform.defs.recommender.training import (
    NotEvaluated,
    TrainingOutcome,
    train_and_register,
)
from music_platform.lib.model_registry import CARD, ModelCard, ModelRegistry
from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.models import RP3beta, RP3betaParams
from music_platform.lib.recommender.models.popularity import Popularity

WINDOW = {"first_day": "2026-01-01", "last_day": "2026-01-31", "days": "31"}


class ReversedPopularity(Popularity):
    """A deliberately broken model: recommends the least popular items first."""

    kind = "reversed_popularity"

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        return -super().score(user_indices)


@pytest.fixture(scope="module")
def listening(shared_data: Path) -> InteractionMatrix:
    """Real listening: the first 600 HetRec 2011 Last.fm users and their artists."""
    frame = pl.read_csv(shared_data / "hetrec2011-lastfm-2k" / "user_artists.dat", separator="\t")
    frame = frame.filter(pl.col("userID") <= frame["userID"].unique().sort()[599])
    return InteractionMatrix.from_arrays(
        frame["userID"].to_numpy(), frame["artistID"].to_numpy(), frame["weight"].to_numpy()
    )


def test_good_model_is_promoted(tmp_path: Path, listening: InteractionMatrix) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    outcome = train_and_register(
        listening,
        lambda: RP3beta(RP3betaParams()),
        registry,
        training_window=WINDOW,
        tolerance=0.1,
    )
    assert outcome.beats_baseline and outcome.promoted
    promoted = registry.promoted()
    assert promoted is not None and promoted.version == outcome.card.version
    loaded = RP3beta.load(registry.artefact_path(promoted))
    assert loaded.recommend(0, k=5)


def test_broken_model_is_refused_and_the_promoted_one_stays(
    tmp_path: Path, listening: InteractionMatrix
) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    data = listening
    good = train_and_register(
        data, lambda: RP3beta(RP3betaParams()), registry, training_window=WINDOW, tolerance=0.1
    )
    broken = train_and_register(
        data, ReversedPopularity, registry, training_window=WINDOW, tolerance=0.1
    )
    assert not broken.beats_baseline
    assert not broken.not_worse_than_previous
    assert not broken.promoted
    promoted = registry.promoted()
    assert promoted is not None and promoted.version == good.card.version


@pytest.mark.parametrize("users", [1, 2])
def test_too_few_listeners_is_not_evaluated_and_the_promoted_model_stays(
    tmp_path: Path, listening: InteractionMatrix, users: int
) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    promoted = train_and_register(
        listening, lambda: RP3beta(RP3betaParams()), registry, training_window=WINDOW, tolerance=0.1
    )
    assert isinstance(promoted, TrainingOutcome) and promoted.promoted
    frame = pl.DataFrame(
        {
            "user": [f"u{n % users}" for n in range(40)],
            "track": [f"t{n}" for n in range(40)],
            "plays": [1 + n % 3 for n in range(40)],
        }
    )
    few = InteractionMatrix.from_arrays(
        frame["user"].to_numpy(), frame["track"].to_numpy(), frame["plays"].to_numpy()
    )
    outcome = train_and_register(
        few, lambda: RP3beta(RP3betaParams()), registry, training_window=WINDOW, tolerance=0.1
    )
    assert isinstance(outcome, NotEvaluated)
    assert outcome.reason == (
        f"not evaluated: {users} users with at least 5 listened tracks, needs 10"
    )
    assert outcome.previous is not None and outcome.previous.version == promoted.card.version
    current = registry.promoted()
    assert current is not None and current.version == promoted.card.version


class UnsaveableRP3beta(RP3beta):
    """Trains, then fails to write its artefact as a full disk would, half a file in."""

    def save(self, path: Path) -> None:
        path.write_bytes(b"half a model")
        raise OSError(28, "No space left on device", str(path))


def test_a_failed_write_leaves_no_version_behind_and_the_promoted_model_stays(
    tmp_path: Path, listening: InteractionMatrix
) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    good = train_and_register(
        listening, lambda: RP3beta(RP3betaParams()), registry, training_window=WINDOW, tolerance=0.1
    )
    with pytest.raises(OSError, match="No space left"):
        train_and_register(
            listening,
            lambda: UnsaveableRP3beta(RP3betaParams()),
            registry,
            training_window=WINDOW,
            tolerance=0.1,
        )
    assert sorted(p.name for p in registry.folder.iterdir()) == sorted(
        [good.card.version, "promoted.json"]
    )
    promoted = registry.promoted()
    assert promoted is not None and promoted.version == good.card.version


class RP3betaTwin(RP3beta):
    """Another recipe (its own kind) that scores exactly as RP3beta does."""

    kind = "rp3beta_twin"


def test_a_retrain_of_the_promoted_recipe_is_promoted(
    tmp_path: Path, listening: InteractionMatrix
) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    first = train_and_register(
        listening, lambda: RP3beta(RP3betaParams()), registry, training_window=WINDOW, tolerance=0.1
    )
    retrain = train_and_register(
        listening, lambda: RP3beta(RP3betaParams()), registry, training_window=WINDOW, tolerance=0.1
    )
    assert isinstance(retrain, TrainingOutcome) and retrain.promoted
    against = retrain.gate.against_promoted
    assert against is not None and against.comparison is None
    assert against.note.startswith(
        f"a retrain of the promoted model's recipe ({first.card.version})"
    )
    promoted = registry.promoted()
    assert promoted is not None and promoted.version == retrain.card.version


def test_a_recipe_no_better_than_the_promoted_one_passes_but_the_promoted_one_keeps_serving(
    tmp_path: Path, listening: InteractionMatrix
) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    good = train_and_register(
        listening, lambda: RP3beta(RP3betaParams()), registry, training_window=WINDOW, tolerance=0.1
    )
    twin = train_and_register(
        listening,
        lambda: RP3betaTwin(RP3betaParams()),
        registry,
        training_window=WINDOW,
        tolerance=0.1,
    )
    assert isinstance(twin, TrainingOutcome)
    assert twin.beats_baseline and twin.not_worse_than_previous and not twin.promoted
    against = twin.gate.against_promoted
    assert against is not None and against.comparison is not None
    assert against.comparison.reason.startswith(
        "inconclusive: the difference +0.0000 is within noise"
    )
    assert twin.gate.reason == "inconclusive against the promoted recipe"
    promoted = registry.promoted()
    assert promoted is not None and promoted.version == good.card.version


def test_the_card_records_the_gate_as_numbers(tmp_path: Path, listening: InteractionMatrix) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    train_and_register(
        listening, lambda: RP3beta(RP3betaParams()), registry, training_window=WINDOW, tolerance=0.1
    )
    broken = train_and_register(
        listening, ReversedPopularity, registry, training_window=WINDOW, tolerance=0.1
    )
    assert isinstance(broken, TrainingOutcome)
    card = ModelCard.read(registry.folder / broken.card.version / CARD)
    popularity, promoted = card.gates["popularity"], card.gates["promoted"]
    assert popularity["decision"] == "worse" and popularity["decision_code"] == -2
    assert popularity["interval_low"] <= popularity["difference"] <= popularity["interval_high"] < 0
    assert popularity["users"] == promoted["users"] > 100
    assert promoted["compared"] == 1 and promoted["tolerance"] == 0.1
    assert promoted["interval_high"] < -0.1 * promoted["baseline_mean"]
    assert card.gates["promotion"] == {"promoted": 0, "reason": "worse against popularity"}
