"""Train, evaluate and (if it earns it) promote the recommender.

Evaluation follows the platform's one fixed protocol (lib/recommender/protocol.py) on the
training window; the model that serves is then refit on the whole window. A model is promoted
only when it beats the popularity baseline and is not clearly worse than the promoted one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from music_platform.lib.model_registry import ModelCard, ModelRegistry

if TYPE_CHECKING:  # numpy, scipy and polars load in the training step, not with the definitions
    import polars as pl

    from music_platform.lib.recommender.interactions import InteractionMatrix
    from music_platform.lib.recommender.models.base import Recommender

PRIMARY_METRIC = "ndcg@10"
CATALOGUE_FILE = "catalogue.parquet"

ModelFactory = Callable[[], "Recommender"]


@dataclass(frozen=True)
class TrainingOutcome:
    card: ModelCard
    previous: ModelCard | None
    beats_baseline: bool
    not_worse_than_previous: bool
    train_seconds: float

    @property
    def promoted(self) -> bool:
        return self.beats_baseline and self.not_worse_than_previous


@dataclass(frozen=True)
class NotEvaluated:
    """Too little listening for the protocol: nothing is trained, the promoted model stays."""

    reason: str
    previous: ModelCard | None


def train_and_register(
    interactions: InteractionMatrix,
    make_model: ModelFactory,
    registry: ModelRegistry,
    *,
    training_window: dict[str, str],
    tolerance: float,
    catalogue: pl.DataFrame | None = None,
) -> TrainingOutcome | NotEvaluated:
    """Evaluate a fresh model against the baseline, store it, and promote it if it passes.

    The `catalogue` (track metadata for serving) is stored beside the artefact before any
    promotion, so a service never sees a promoted model without it.

    `tolerance` is the relative drop in the primary metric allowed against the promoted model
    (its window differs, so an exact comparison would refuse healthy retrains).
    """
    from music_platform.lib.recommender import protocol
    from music_platform.lib.recommender.models.popularity import Popularity

    shortfall = protocol.evaluation_shortfall(interactions)
    if shortfall is not None:
        return NotEvaluated(reason=shortfall, previous=registry.promoted())
    split = protocol.split(interactions)
    baseline = protocol.evaluate(Popularity().fit(split.train), split).as_dict()
    candidate = make_model()
    metrics = protocol.evaluate(candidate.fit(split.train), split).as_dict()

    started = time.perf_counter()
    final = make_model().fit(interactions)
    train_seconds = time.perf_counter() - started
    version, folder = registry.new_version()
    card = ModelCard(
        name=registry.name,
        version=version,
        kind=type(final).__name__,
        params=dataclasses.asdict(final.params),
        metrics=metrics,
        baseline_metrics=baseline,
        training_window=training_window,
    )
    try:
        final.save(folder / card.artefact)
        if catalogue is not None:
            catalogue.write_parquet(folder / CATALOGUE_FILE)
        registry.publish(card)
    except BaseException:
        registry.discard(version)
        raise

    previous = registry.promoted()
    outcome = TrainingOutcome(
        card=card,
        previous=previous,
        beats_baseline=metrics[PRIMARY_METRIC] > baseline[PRIMARY_METRIC],
        not_worse_than_previous=previous is None
        or metrics[PRIMARY_METRIC] >= previous.metrics[PRIMARY_METRIC] * (1 - tolerance),
        train_seconds=train_seconds,
    )
    if outcome.promoted:
        registry.promote(version)
    return outcome
