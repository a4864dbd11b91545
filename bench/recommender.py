"""Benchmark the project's recommender against popularity and tuned implicit ALS.

All three run in one process under the fixed protocol (music_platform.lib.recommender.protocol)
on the HetRec 2011 Last.fm 2K files. The project's blend and ALS are both tuned on the
validation split (seed 43, carved out of train) and then fitted on train and scored on test.
The blend's components are scored on test on their own too, to show what blending adds.

    uv sync --group bench --inexact
    uv run --group bench python bench/recommender.py --json bench-recommender.json
"""

import os

# implicit warns (and slows down) when OpenBLAS runs its own threads; set before numpy loads.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib.recommender import InteractionMatrix, Split, evaluate, split
from music_platform.lib.recommender.models import Blend, Popularity
from music_platform.lib.recommender.protocol import TEST_SEED, VALIDATION_SEED
from research.components import SideData
from research.hetrec import load_friends, load_interactions, load_item_tags
from research.tuning import tune_blend

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/hetrec2011-lastfm-2k"
PROJECT_MODEL = "blend"
# Wide enough for the table when the output is a file or a pipe (rich then assumes 80).
console = Console(width=None if sys.stdout.isatty() else 150)


@dataclass(frozen=True)
class ALSParams:
    factors: int
    regularization: float
    weighting: str  # "bm25" (implicit's bm25_weight) or "log" (log1p play counts)
    alpha: float
    iterations: int


ALS_GRID = [
    ALSParams(factors, regularization, weighting, alpha, 15)
    for factors, regularization, (weighting, alpha) in product(
        (16, 32, 64),
        (0.1, 1.0),
        (("bm25", 0.02), ("bm25", 0.05), ("log", 1.0)),
    )
]
ALS_ITERATIONS = (15, 30, 50)


class ImplicitALS:
    """implicit's ALS behind the project's fit/score interface."""

    def __init__(self, params: ALSParams) -> None:
        self.params = params

    def fit(self, train: InteractionMatrix) -> "ImplicitALS":
        p = self.params
        if p.weighting == "bm25":
            confidence = bm25_weight(train.matrix, K1=100, B=0.8).tocsr()
        else:
            confidence = train.matrix.copy()
            confidence.data = np.log1p(confidence.data)
        model = AlternatingLeastSquares(
            factors=p.factors,
            regularization=p.regularization,
            alpha=p.alpha,
            iterations=p.iterations,
            random_state=0,
            num_threads=2,
        )
        model.fit(sp.csr_matrix(confidence, dtype=np.float32), show_progress=False)
        self.user_factors = np.asarray(model.user_factors)
        self.item_factors = np.asarray(model.item_factors)
        return self

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        return self.user_factors[user_indices] @ self.item_factors.T


def tune_als(validation: Split) -> tuple[ALSParams, float]:
    """Grid over factors, regularisation and weighting, then over iterations for the best."""

    def ndcg(params: ALSParams) -> float:
        value = evaluate(ImplicitALS(params).fit(validation.train), validation).ndcg
        console.log(f"als {params}: validation ndcg@10 {value:.4f}")
        return value

    scored = {params: ndcg(params) for params in ALS_GRID}
    best = max(scored, key=lambda params: scored[params])
    for iterations in ALS_ITERATIONS:
        params = ALSParams(**{**best.__dict__, "iterations": iterations})
        if params not in scored:
            scored[params] = ndcg(params)
    best = max(scored, key=lambda params: scored[params])
    return best, scored[best]


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def run(data_dir: Path) -> dict[str, Any]:
    interactions = load_interactions(data_dir)
    test_split = split(interactions, TEST_SEED)
    validation = split(test_split.train, VALIDATION_SEED)

    friends = load_friends(data_dir, interactions.user_ids)

    def side_without(held_out: InteractionMatrix) -> SideData:
        tags = load_item_tags(data_dir, interactions.item_ids, held_out)
        return SideData(item_features=tags[0] if tags else None, friends=friends)

    # Tag assignments on held-out pairs would leak them: validation drops val+test pairs.
    both_held_out = test_split.test.with_matrix(test_split.test.matrix + validation.test.matrix)
    validation_side = side_without(both_held_out)
    tuned, tune_s = timed(lambda: tune_blend(validation, validation_side, log=console.log))
    (als_params, als_validation), als_tune_s = timed(lambda: tune_als(validation))

    test_side = side_without(test_split.test)
    candidates: list[tuple[str, Callable[[], Any]]] = [
        (PROJECT_MODEL, lambda: tuned.build(test_side).fit(test_split.train)),
        ("implicit_als", lambda: ImplicitALS(als_params).fit(test_split.train)),
        ("popularity", lambda: Popularity().fit(test_split.train)),
    ]
    models: dict[str, dict[str, float]] = {}
    for name, fit in candidates:
        model, train_s = timed(fit)
        metrics, score_s = timed(lambda model=model: evaluate(model, test_split))
        models[name] = {**metrics.as_dict(), "train_s": train_s, "score_s": score_s}
        if isinstance(model, Blend):
            # Fitted already inside the blend: no training time of their own to report.
            for part, component in model.components.items():
                metrics, score_s = timed(lambda c=component: evaluate(c, test_split))
                models[f"{name}/{part}"] = {**metrics.as_dict(), "score_s": score_s}
    return {
        "models": models,
        "project_model": PROJECT_MODEL,
        "tuning": {
            PROJECT_MODEL: {**tuned.as_dict(), "tuning_s": tune_s},
            "implicit_als": {
                **als_params.__dict__,
                "validation_ndcg@10": als_validation,
                "tuning_s": als_tune_s,
            },
        },
        "protocol": {
            "data": data_dir.name,
            "test_seed": TEST_SEED,
            "validation_seed": VALIDATION_SEED,
            "evaluated_users": len(test_split.evaluated_users),
            "candidates": int(test_split.candidates.sum()),
        },
    }


def show(report: dict[str, Any]) -> None:
    models = report["models"]
    baseline_ndcg = {name: models[name]["ndcg@10"] for name in ("implicit_als", "popularity")}
    table = Table(title="Recommenders on HetRec 2011 Last.fm 2K (test split, seed 42)")
    columns = ["ndcg@10", "precision@10", "recall@10", "map@10", "hit_rate@10", "coverage@10"]
    for header in ["model", *columns, "train s", "score s", "ndcg / ALS", "ndcg / pop"]:
        table.add_column(header, justify="left" if header == "model" else "right")
    for name, row in models.items():
        table.add_row(
            name + (" *" if name == report["project_model"] else ""),
            *(f"{row[column]:.4f}" for column in columns),
            f"{row['train_s']:.2f}" if "train_s" in row else "-",
            f"{row['score_s']:.2f}",
            *(f"{row['ndcg@10'] / baseline_ndcg[b]:.3f}x" for b in baseline_ndcg),
        )
    console.print(table)
    console.print_json(data=report["tuning"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder with user_artists.dat, user_taggedartists.dat, tags.dat, user_friends.dat",
    )
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    report, report["bench_s"] = timed(lambda: run(args.data))
    show(report)
    console.print(f"whole benchmark: {report['bench_s']:.0f} s")
    write_json(args.json, "recommender", report)


if __name__ == "__main__":
    main()
