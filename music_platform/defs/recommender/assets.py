"""The trained recommender: a versioned model asset gated by blocking quality checks."""

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.recommender.training import (
    PRIMARY_METRIC,
    ModelFactory,
    NotEvaluated,
    TrainingOutcome,
    train_and_register,
)
from music_platform.defs.shared.keys import (
    DIM_TRACK,
    FCT_LISTENS,
    MODEL_FRESHNESS,
    RECOMMENDER_MODEL,
    WAREHOUSE_POOL,
    single_run_backfill,
)
from music_platform.lib.model_registry import ModelCard, ModelRegistry
from music_platform.resources.warehouse import WarehouseResource
from music_platform.settings import Settings

if TYPE_CHECKING:  # numpy, scipy and polars load in the training step, not with the definitions
    import polars as pl

    from music_platform.lib.recommender.gating import PairedComparison
    from music_platform.lib.recommender.interactions import InteractionMatrix

MODEL_KEY = RECOMMENDER_MODEL
REGISTRY_NAME = "recommender"

# One row per (user, track) with its play count, over the training window ending at the newest
# listen. dbt builds the models into the `analytics` schema on every target.
PLAY_COUNTS_SQL = """
with window_end as (select max(listen_date) as last_day from analytics.fct_listens)
select user_id, track_id, count(*) as plays,
       min(listen_date) as first_day, max(listen_date) as last_day
from analytics.fct_listens, window_end
where datediff('day', listen_date, window_end.last_day) < ?
group by user_id, track_id
"""


# What serving needs to name, group and explain recommendations without opening the warehouse.
CATALOGUE_SQL = """
select track_id, track_name, artist_id, artist_name, album_name, genre, popularity,
       release_year, danceability, energy, valence, acousticness, tempo, source_name
from analytics.dim_track
"""


def project_model(catalogue: "pl.DataFrame", interactions: "InteractionMatrix") -> ModelFactory:
    """The platform's blend (lib/recommender/tracks.py), described by the catalogue's features.

    Evaluation holds out interactions but keeps every track, so one feature matrix serves the
    evaluated model and the refit one.
    """
    from music_platform.lib.recommender.tracks import platform_model, track_features

    features = track_features(catalogue, interactions.item_ids)
    return lambda: platform_model(features)


def registry(settings: Settings) -> ModelRegistry:
    return ModelRegistry(settings.models_dir, REGISTRY_NAME)


def _metrics_table(outcome: TrainingOutcome) -> str:
    previous = outcome.previous.metrics if outcome.previous else {}
    rows = ["| metric | model | popularity baseline | promoted before |", "|---|---|---|---|"]
    for name, value in outcome.card.metrics.items():
        before = f"{previous[name]:.4f}" if name in previous else "-"
        rows.append(
            f"| {name} | {value:.4f} | {outcome.card.baseline_metrics[name]:.4f} | {before} |"
        )
    return "\n".join(rows)


def _metric_figures(outcome: TrainingOutcome) -> dict[str, dg.MetadataValue]:
    """Each metric of the model and of its popularity baseline as a number, which Dagster plots
    across the model's versions on the asset's Plots tab."""
    return {
        **{name: dg.MetadataValue.float(value) for name, value in outcome.card.metrics.items()},
        **{
            f"baseline {name}": dg.MetadataValue.float(value)
            for name, value in outcome.card.baseline_metrics.items()
        },
    }


def gate_checks(outcome: TrainingOutcome) -> list[dg.AssetCheckResult]:
    """The two blocking checks: each fails only when its paired comparison blocks."""
    popularity = outcome.gate.against_popularity
    promoted = outcome.gate.against_promoted
    comparison = promoted.comparison if promoted else None
    if comparison is not None:
        promoted_description = (
            f"{PRIMARY_METRIC} {comparison.candidate_mean:.4f} against the promoted recipe's "
            f"{comparison.baseline_mean:.4f} refitted on the same split: {comparison.reason}"
        )
    else:
        promoted_description = promoted.note if promoted else "no model promoted yet"
    return [
        dg.AssetCheckResult(
            check_name="beats_popularity_baseline",
            passed=not popularity.blocks,
            metadata=_comparison_metadata(popularity),
            description=(
                f"{PRIMARY_METRIC} {popularity.candidate_mean:.4f} against popularity's "
                f"{popularity.baseline_mean:.4f}: {popularity.reason}"
            ),
        ),
        dg.AssetCheckResult(
            check_name="not_worse_than_promoted",
            passed=comparison is None or not comparison.blocks,
            metadata={
                "compared": comparison is not None,
                **(_comparison_metadata(comparison) if comparison else {}),
            },
            description=promoted_description,
        ),
    ]


def _comparison_metadata(comparison: "PairedComparison") -> dict[str, dg.MetadataValue | str]:
    """The comparison's figures as numbers Dagster plots across runs, its decision as text too."""
    return {
        PRIMARY_METRIC: dg.MetadataValue.float(comparison.candidate_mean),
        f"baseline {PRIMARY_METRIC}": dg.MetadataValue.float(comparison.baseline_mean),
        "difference": dg.MetadataValue.float(comparison.difference),
        "interval_low": dg.MetadataValue.float(comparison.low),
        "interval_high": dg.MetadataValue.float(comparison.high),
        "confidence": dg.MetadataValue.float(comparison.confidence),
        "tolerance": dg.MetadataValue.float(comparison.tolerance),
        "users": dg.MetadataValue.int(comparison.users),
        "decision_code": dg.MetadataValue.int(comparison.decision.code),
        "decision": comparison.decision.value,
        "reason": comparison.reason,
    }


def _serving(previous: ModelCard | None) -> str:
    if previous is None:
        return "no model: recommendations fall back to popularity"
    return f"model {previous.version} (promoted before)"


def _not_evaluated(
    outcome: NotEvaluated, interactions: "InteractionMatrix"
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    serving = _serving(outcome.previous)
    yield dg.MaterializeResult(
        metadata={
            "evaluated": False,
            "reason": outcome.reason,
            "promoted": False,
            "serving": serving,
            "users": interactions.n_users,
            "tracks": interactions.n_items,
            "interactions": interactions.nnz,
        }
    )
    for check_name in ("beats_popularity_baseline", "not_worse_than_promoted"):
        yield dg.AssetCheckResult(
            check_name=check_name,
            passed=True,
            metadata={"evaluated": False},
            description=f"{outcome.reason}; serving {serving}",
        )


@dg.asset(
    key=MODEL_KEY,
    deps=[FCT_LISTENS, DIM_TRACK],
    description=(
        "Track recommender: a blend of RP3beta and ALS over confidence-weighted play counts "
        "with content over the catalogue (genre, artist, audio features), evaluated on "
        "held-out listening with the platform's protocol and promoted only when it passes."
    ),
    group_name="ml",
    kinds={"python", "scipy"},
    freshness_policy=MODEL_FRESHNESS,
    pool=WAREHOUSE_POOL,
    # Once per run whatever days it covers, so a backfill of the daily path can include it.
    backfill_policy=single_run_backfill,
    check_specs=[
        dg.AssetCheckSpec(
            "beats_popularity_baseline",
            asset=MODEL_KEY,
            blocking=True,
            description=(
                "NDCG@10 on held-out listening is not below the popularity baseline's beyond "
                "noise (a paired bootstrap interval over the evaluated users)."
            ),
        ),
        dg.AssetCheckSpec(
            "not_worse_than_promoted",
            asset=MODEL_KEY,
            blocking=True,
            description=(
                "NDCG@10 is not below the promoted recipe's, refitted on the same split, beyond "
                "noise and the tolerance (MUSIC_PLATFORM_RECOMMENDER_TOLERANCE)."
            ),
        ),
    ],
)
def recommender_model(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    warehouse: dg.ResourceParam[WarehouseResource],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import numpy as np
    import polars as pl

    from music_platform.lib.recommender.interactions import InteractionMatrix
    from music_platform.lib.recommender.tracks import platform_model, track_features

    plays = warehouse.client().fetch_arrow(PLAY_COUNTS_SQL, [settings.recommender_training_days])
    if plays.num_rows == 0:
        raise ValueError("fct_listens is empty: materialize the daily models before training")
    interactions = InteractionMatrix.from_arrays(
        np.asarray(plays["user_id"].to_pylist(), dtype=str),
        np.asarray(plays["track_id"].to_pylist(), dtype=str),
        plays["plays"].to_numpy(),
    )
    catalogue = pl.from_arrow(warehouse.client().fetch_arrow(CATALOGUE_SQL))
    window = {
        "first_day": min(plays["first_day"].to_pylist()).isoformat(),
        "last_day": max(plays["last_day"].to_pylist()).isoformat(),
        "days": str(settings.recommender_training_days),
    }
    # Built once: the candidate's content part and a refit of the promoted recipe share them.
    features = track_features(catalogue, interactions.item_ids)
    outcome = train_and_register(
        interactions,
        partial(platform_model, features),
        registry(settings),
        training_window=window,
        tolerance=settings.recommender_tolerance,
        catalogue=catalogue,
        item_features=features,
    )
    if isinstance(outcome, NotEvaluated):
        context.log.warning(f"recommender {outcome.reason}")
        yield from _not_evaluated(outcome, interactions)
        return
    serving = (
        f"model {outcome.card.version} (promoted now)"
        if outcome.promoted
        else _serving(outcome.previous)
    )
    context.log.info(
        f"model {outcome.card.version}: {PRIMARY_METRIC}={outcome.card.metrics[PRIMARY_METRIC]:.4f}"
        f" ({'promoted' if outcome.promoted else 'not promoted'}: {outcome.gate.reason})"
    )
    yield dg.MaterializeResult(
        metadata={
            "version": outcome.card.version,
            "promoted": outcome.promoted,
            "promotion": outcome.gate.reason,
            "serving": serving,
            "kind": outcome.card.kind,
            "params": dg.MetadataValue.json(outcome.card.params),
            "training_window": dg.MetadataValue.json(window),
            "users": interactions.n_users,
            "tracks": interactions.n_items,
            "interactions": interactions.nnz,
            "train_seconds": round(outcome.train_seconds, 3),
            "metrics": dg.MetadataValue.md(_metrics_table(outcome)),
            **_metric_figures(outcome),
        }
    )
    yield from gate_checks(outcome)
