"""Train, evaluate and (if it earns it) promote the recommender.

Evaluation follows the platform's one fixed protocol (lib/recommender/protocol.py) on the
training window; the model that serves is then refit on the whole window. The candidate is
judged by paired tests over the evaluated users (lib/recommender/gating.py: a bootstrap interval
of the per-user NDCG@10 difference), never by two point estimates:

- against popularity, fitted on the same training split: blocked when worse beyond noise (no
  tolerance: popularity is what serving falls back to);
- against the promoted model's recipe (kind and hyperparameters, read from its artefact) refitted
  on the same training split and scored on the same held-out items: blocked when worse beyond
  noise and the tolerance. The promoted artefact itself cannot be scored fairly: it was fitted on
  listening that is held out here. A candidate with the promoted model's recipe is a retrain on
  newer listening, and nothing is compared.

A blocked comparison fails its check; otherwise the check passes. The candidate is promoted only
on a clear win: better than popularity beyond noise, and better than the promoted recipe beyond
noise (or a retrain of it, or nothing promoted yet). An inconclusive or tolerated difference
keeps the promoted model serving (with none, serving falls back to popularity).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from music_platform.lib.model_registry import ModelCard, ModelRegistry

if TYPE_CHECKING:  # numpy, scipy and polars load in the training step, not with the definitions
    import numpy as np
    import polars as pl
    import scipy.sparse as sp

    from music_platform.lib.recommender.gating import PairedComparison
    from music_platform.lib.recommender.interactions import InteractionMatrix
    from music_platform.lib.recommender.models.base import Recommender
    from music_platform.lib.recommender.protocol import Split

PRIMARY_METRIC = "ndcg@10"
CATALOGUE_FILE = "catalogue.parquet"

ModelFactory = Callable[[], "Recommender"]


@dataclass(frozen=True)
class PromotedComparison:
    """The candidate against a promoted version's recipe, or (no comparison) why not."""

    version: str
    note: str
    comparison: PairedComparison | None = None


@dataclass(frozen=True)
class Gate:
    """Both comparisons and the promotion decision they lead to (see the module docstring)."""

    against_popularity: PairedComparison
    against_promoted: PromotedComparison | None

    @property
    def beats_baseline(self) -> bool:
        """Better than popularity beyond noise."""
        return self.against_popularity.decision == "better"

    @property
    def not_worse_than_previous(self) -> bool:
        comparison = self._promoted_comparison
        return comparison is None or not comparison.blocks

    @property
    def promote(self) -> bool:
        comparison = self._promoted_comparison
        return self.beats_baseline and (comparison is None or comparison.decision == "better")

    @property
    def reason(self) -> str:
        """Why the candidate is promoted or not."""
        comparison = self._promoted_comparison
        if self.promote:
            return "better than popularity" + (" and the promoted recipe" if comparison else "")
        if not self.beats_baseline:
            return f"{self.against_popularity.decision} against popularity"
        assert comparison is not None  # only a comparison with the promoted recipe remains
        return f"{comparison.decision} against the promoted recipe"

    def record(self) -> dict[str, dict[str, Any]]:
        """Numbers (and decisions and reasons as text) for the model card."""
        promoted: dict[str, Any] = {"compared": 0, "note": "no model promoted yet"}
        if self.against_promoted is not None:
            comparison = self.against_promoted.comparison
            promoted = {
                "compared": int(comparison is not None),
                "version": self.against_promoted.version,
                "note": self.against_promoted.note,
                **(comparison.as_record() if comparison else {}),
            }
        return {
            "popularity": self.against_popularity.as_record(),
            "promoted": promoted,
            "promotion": {"promoted": int(self.promote), "reason": self.reason},
        }

    @property
    def _promoted_comparison(self) -> PairedComparison | None:
        return self.against_promoted.comparison if self.against_promoted else None


@dataclass(frozen=True)
class TrainingOutcome:
    card: ModelCard
    previous: ModelCard | None
    gate: Gate
    train_seconds: float

    @property
    def beats_baseline(self) -> bool:
        return self.gate.beats_baseline

    @property
    def not_worse_than_previous(self) -> bool:
        return self.gate.not_worse_than_previous

    @property
    def promoted(self) -> bool:
        return self.gate.promote


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
    item_features: sp.spmatrix | None = None,
) -> TrainingOutcome | NotEvaluated:
    """Evaluate a fresh model against the baselines, store it, and promote it if it earns it.

    The `catalogue` (track metadata for serving) is stored beside the artefact before any
    promotion, so a service never sees a promoted model without it. `item_features` (rows in
    `interactions.item_ids` order) let the promoted recipe's content part be refitted.

    `tolerance` is the relative drop in the primary metric allowed against the promoted recipe
    before the candidate is blocked.
    """
    from music_platform.lib.recommender import protocol
    from music_platform.lib.recommender.gating import compare_paired
    from music_platform.lib.recommender.models.popularity import Popularity

    previous = registry.promoted()
    shortfall = protocol.evaluation_shortfall(interactions)
    if shortfall is not None:
        return NotEvaluated(reason=shortfall, previous=previous)
    split = protocol.split(interactions)
    baseline = protocol.evaluate_users(Popularity().fit(split.train), split)
    candidate = make_model().fit(split.train)
    evaluated = protocol.evaluate_users(candidate, split)
    gate = Gate(
        against_popularity=compare_paired(evaluated.ndcg, baseline.ndcg),
        against_promoted=None
        if previous is None
        else _against_promoted(
            previous, registry, candidate, evaluated.ndcg, split, tolerance, item_features
        ),
    )

    started = time.perf_counter()
    final = make_model().fit(interactions)
    train_seconds = time.perf_counter() - started
    version, folder = registry.new_version()
    card = ModelCard(
        name=registry.name,
        version=version,
        kind=type(final).__name__,
        params=dataclasses.asdict(final.params),
        metrics=evaluated.summary().as_dict(),
        baseline_metrics=baseline.summary().as_dict(),
        training_window=training_window,
        gates=gate.record(),
    )
    try:
        final.save(folder / card.artefact)
        if catalogue is not None:
            catalogue.write_parquet(folder / CATALOGUE_FILE)
        registry.publish(card)
    except BaseException:
        registry.discard(version)
        raise

    if gate.promote:
        registry.promote(version)
    return TrainingOutcome(card=card, previous=previous, gate=gate, train_seconds=train_seconds)


def _against_promoted(
    previous: ModelCard,
    registry: ModelRegistry,
    candidate: Recommender,
    candidate_ndcg: np.ndarray,
    split: Split,
    tolerance: float,
    item_features: sp.spmatrix | None,
) -> PromotedComparison:
    """The promoted recipe refitted on the candidate's training split and scored on its users."""
    from music_platform.lib.recommender import protocol
    from music_platform.lib.recommender.gating import compare_paired
    from music_platform.lib.recommender.models.base import from_recipe, read_recipe

    try:
        recipe = read_recipe(registry.artefact_path(previous))
        if recipe == candidate.recipe():
            note = (
                f"a retrain of the promoted model's recipe ({previous.version}) on newer "
                "listening: judged against popularity alone"
            )
            return PromotedComparison(previous.version, note)
        refitted = from_recipe(recipe, item_features).fit(split.train)
    # An artefact gone, a kind no longer in the code, side data this window lacks.
    except (OSError, KeyError, ValueError) as error:
        note = (
            f"not compared: the promoted model's recipe ({previous.version}) cannot be "
            f"refitted ({error}); judged against popularity alone"
        )
        return PromotedComparison(previous.version, note)
    promoted_ndcg = protocol.evaluate_users(refitted, split).ndcg
    comparison = compare_paired(candidate_ndcg, promoted_ndcg, tolerance=tolerance)
    return PromotedComparison(previous.version, "refitted on the same split", comparison)
