"""The trained recommender: a versioned model asset gated by blocking quality checks."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.recommender.plots import metrics_chart
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
)
from music_platform.lib.model_registry import ModelRegistry
from music_platform.resources.warehouse import WarehouseResource
from music_platform.settings import Settings

if TYPE_CHECKING:  # numpy, scipy and polars load in the training step, not with the definitions
    import polars as pl

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


def _metrics_plot(outcome: TrainingOutcome) -> dg.MetadataValue:
    series = {
        f"model {outcome.card.version}": outcome.card.metrics,
        "popularity baseline": outcome.card.baseline_metrics,
    }
    if outcome.previous:
        series[f"promoted before ({outcome.previous.version})"] = outcome.previous.metrics
    return metrics_chart(series, title=f"{outcome.card.kind}: top-10 metrics")


def _check_results(outcome: TrainingOutcome) -> list[dg.AssetCheckResult]:
    metric, baseline = (
        outcome.card.metrics[PRIMARY_METRIC],
        outcome.card.baseline_metrics[PRIMARY_METRIC],
    )
    previous = outcome.previous.metrics[PRIMARY_METRIC] if outcome.previous else None
    return [
        dg.AssetCheckResult(
            check_name="beats_popularity_baseline",
            passed=outcome.beats_baseline,
            metadata={PRIMARY_METRIC: metric, f"baseline {PRIMARY_METRIC}": baseline},
            description=f"{PRIMARY_METRIC} {metric:.4f} against popularity's {baseline:.4f}",
        ),
        dg.AssetCheckResult(
            check_name="not_worse_than_promoted",
            passed=outcome.not_worse_than_previous,
            metadata={PRIMARY_METRIC: metric, f"promoted {PRIMARY_METRIC}": previous or 0.0},
            description=(
                "no model promoted yet"
                if previous is None
                else f"{PRIMARY_METRIC} {metric:.4f} against the promoted {previous:.4f}"
            ),
        ),
    ]


def _not_evaluated(
    outcome: NotEvaluated, interactions: "InteractionMatrix"
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    serving = (
        f"model {outcome.previous.version} (promoted before)"
        if outcome.previous
        else "no model: recommendations fall back to popularity"
    )
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
    check_specs=[
        dg.AssetCheckSpec(
            "beats_popularity_baseline",
            asset=MODEL_KEY,
            blocking=True,
            description="NDCG@10 on held-out listening beats the popularity baseline.",
        ),
        dg.AssetCheckSpec(
            "not_worse_than_promoted",
            asset=MODEL_KEY,
            blocking=True,
            description="NDCG@10 is not clearly below the promoted model's.",
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
    outcome = train_and_register(
        interactions,
        project_model(catalogue, interactions),
        registry(settings),
        training_window=window,
        tolerance=settings.recommender_tolerance,
        catalogue=catalogue,
    )
    if isinstance(outcome, NotEvaluated):
        context.log.warning(f"recommender {outcome.reason}")
        yield from _not_evaluated(outcome, interactions)
        return
    context.log.info(
        f"model {outcome.card.version}: {PRIMARY_METRIC}={outcome.card.metrics[PRIMARY_METRIC]:.4f}"
        f" ({'promoted' if outcome.promoted else 'not promoted'})"
    )
    yield dg.MaterializeResult(
        metadata={
            "version": outcome.card.version,
            "promoted": outcome.promoted,
            "kind": outcome.card.kind,
            "params": dg.MetadataValue.json(outcome.card.params),
            "training_window": dg.MetadataValue.json(window),
            "users": interactions.n_users,
            "tracks": interactions.n_items,
            "interactions": interactions.nnz,
            "train_seconds": round(outcome.train_seconds, 3),
            "metrics": dg.MetadataValue.md(_metrics_table(outcome)),
            "metrics_plot": _metrics_plot(outcome),
            **{name: dg.MetadataValue.float(value) for name, value in outcome.card.metrics.items()},
        }
    )
    yield from _check_results(outcome)
