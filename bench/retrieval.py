"""Catalogue retrieval: recall@10 of vector, BM25 and hybrid search on a labelled query set over
the real HetRec 2011 Last.fm artists, and embedding throughput beside a bare onnxruntime
session call (the baseline) in the same run.

The fusion's BM25 weight is tuned on one half of the labelled queries (every other query of each
kind) and every retriever is reported on the other, held-out half: vector, BM25, reciprocal
rank fusion, score fusion at the tuned weight, and the platform's hybrid search as shipped
(BM25_WEIGHT in lib/rag/search.py) run through `search_catalogue` itself.

Builds the index with the platform's own code (documents, embedder, `refresh_index`) in a
scratch DuckDB file and searches it with `search_catalogue`, as the agent's tool does.

    uv run python bench/retrieval.py [--artists 2000] [--data ../shared/data] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
from report import write_json
from retrieval_set import hetrec_catalogue
from rich.console import Console
from rich.table import Table

from music_platform.lib.rag.embedding import BATCH_SIZE, Embedder
from music_platform.lib.rag.index import refresh_index
from music_platform.lib.rag.search import (
    BM25_COVERAGE,
    BM25_WEIGHT,
    bm25_ranking,
    ideal_bm25,
    reciprocal_rank_fusion,
    score_fusion,
    search_catalogue,
    vector_ranking,
)

K = 10
CANDIDATES = 50  # what search_catalogue's hybrid mode takes from each list for k=10
MODES = ("vector", "bm25", "hybrid")
# The BM25 weights and coverages tried on the tuning half.
BM25_WEIGHTS = [round(0.05 * step, 2) for step in range(11)]
BM25_COVERAGES = (0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def recall_at_k(hits: list[str], relevant: frozenset[str]) -> float:
    """Share of the relevant items found in the top K, out of at most K findable."""
    return len(set(hits[:K]) & relevant) / min(K, len(relevant))


def throughput(embedder: Embedder, texts: list[str]) -> tuple[float, float]:
    """Strings per second through the whole embedder, and through the bare session call on
    the same batches already tokenised (what tokenising, pooling and normalising add)."""
    embedder.embed(texts[:BATCH_SIZE])  # warm up
    started = time.perf_counter()
    embedder.embed(texts)
    embed_per_s = len(texts) / (time.perf_counter() - started)
    ordered = sorted(texts, key=len)
    batches = [
        embedder.encode(ordered[i : i + BATCH_SIZE]) for i in range(0, len(ordered), BATCH_SIZE)
    ]
    started = time.perf_counter()
    for inputs in batches:
        embedder.session.run(["last_hidden_state"], inputs)
    bare_per_s = len(texts) / (time.perf_counter() - started)
    return embed_per_s, bare_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artists", type=int, default=2000, help="Artists in the catalogue.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="The shared data folder.")
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON to this path.")
    args = parser.parse_args()
    data_dir = args.data / "hetrec2011-lastfm-2k"
    if not (data_dir / "artists.dat").exists():
        sys.exit(f"no HetRec data at {data_dir}: pass --data with the folder holding it")

    documents, queries = hetrec_catalogue(data_dir, args.artists)
    embedder = Embedder()
    embed_per_s, bare_per_s = throughput(embedder, [d.text for d in documents])
    with tempfile.TemporaryDirectory() as scratch:
        connection = duckdb.connect(str(Path(scratch) / "index.duckdb"))
        refresh_index(connection, documents, embedder)
        lists = [
            (
                vector_ranking(
                    connection, q.query, limit=CANDIDATES, kinds=("artist",), embedder=embedder
                ),
                bm25_ranking(connection, q.query, limit=CANDIDATES, kinds=("artist",)),
                ideal_bm25(connection, q.query, kinds=("artist",)),
            )
            for q in queries
        ]
        # The platform's own hybrid search, to check the fusion below is the one it runs.
        shipped = [
            [
                hit.item_id
                for hit in search_catalogue(
                    connection, q.query, k=K, kinds=("artist",), embedder=embedder
                )
            ]
            for q in queries
        ]
        connection.close()

    def ids(ranking: list[tuple[tuple[str, str], float]]) -> list[str]:
        return [item for (_, item), _ in ranking]

    def recall(indices: list[int], rank: Callable[[int], list[str]]) -> float:
        values = [recall_at_k(rank(i), queries[i].relevant) for i in indices]
        return sum(values) / len(values) if values else 0.0

    def fused(weight: float, coverage: float) -> Callable[[int], list[str]]:
        return lambda i: ids(score_fusion(*lists[i], bm25_weight=weight, bm25_coverage=coverage))

    seen: dict[str, int] = {}
    tune, held_out = [], []
    for i, query in enumerate(queries):
        seen[query.kind] = seen.get(query.kind, 0) + 1
        (tune if seen[query.kind] % 2 else held_out).append(i)
    # The best on the tuning half; ties go to the larger weight (keeping keywords' say), then
    # to the lower coverage.
    tuned = max(
        ((w, c) for w in BM25_WEIGHTS for c in BM25_COVERAGES),
        key=lambda wc: (round(recall(tune, fused(*wc)), 6), wc[0], -wc[1]),
    )
    rankers: dict[str, Callable[[int], list[str]]] = {
        "vector": lambda i: ids(lists[i][0]),
        "bm25": lambda i: ids(lists[i][1]),
        "hybrid, reciprocal rank fusion": lambda i: ids(
            reciprocal_rank_fusion(lists[i][0], lists[i][1])
        ),
        f"hybrid, score fusion tuned (bm25 {tuned[0]} at {tuned[1]})": fused(*tuned),
        f"hybrid as shipped (bm25 {BM25_WEIGHT} at {BM25_COVERAGE})": lambda i: shipped[i],
    }
    kinds = ("description", "name", "keyword")
    by_kind = {kind: [i for i in held_out if queries[i].kind == kind] for kind in kinds}
    table = Table(
        title=f"catalogue retrieval, recall@10: {len(documents)} HetRec artists, {len(queries)} "
        f"queries ({len(tune)} to tune the fusion, {len(held_out)} held out)"
    )
    table.add_column("retriever")
    # Every fusion tried, on both halves: how sharp the choice is.
    grid = {
        f"{w} at {c}": [round(recall(half, fused(w, c)), 4) for half in (tune, held_out)]
        for w in BM25_WEIGHTS
        for c in BM25_COVERAGES
    }
    for column in ("held-out", "descriptions", "names", "keywords", "tuning half", "all"):
        table.add_column(column, justify="right")
    figures = {}
    everything = list(range(len(queries)))
    for label, rank in rankers.items():
        figures[label] = {
            "held_out": round(recall(held_out, rank), 4),
            "held_out_by_kind": {k: round(recall(v, rank), 4) for k, v in by_kind.items()},
            "tune": round(recall(tune, rank), 4),
            "all": round(recall(everything, rank), 4),
        }
        table.add_row(
            label,
            f"{figures[label]['held_out']:.3f}",
            f"{figures[label]['held_out_by_kind']['description']:.3f}",
            f"{figures[label]['held_out_by_kind']['name']:.3f}",
            f"{figures[label]['held_out_by_kind']['keyword']:.3f}",
            f"{figures[label]['tune']:.3f}",
            f"{figures[label]['all']:.3f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"embedding: {embed_per_s:,.0f} strings/s through the embedder, "
        f"{bare_per_s:,.0f}/s for the bare onnxruntime call "
        f"(ratio {embed_per_s / bare_per_s:.2f})"
    )
    write_json(
        args.json,
        "retrieval",
        {
            "queries": len(queries),
            "tune_queries": len(tune),
            "held_out_queries": len(held_out),
            "tuned_bm25": {"weight": tuned[0], "coverage": tuned[1]},
            "shipped_bm25": {"weight": BM25_WEIGHT, "coverage": BM25_COVERAGE},
            "recall@10": figures,
            "fusion_grid_tune_held_out": grid,
            "documents": len(documents),
            "embed_per_s": round(embed_per_s, 1),
            "bare_embed_per_s": round(bare_per_s, 1),
            "ratio": round(embed_per_s / bare_per_s, 3),
        },
    )


if __name__ == "__main__":
    main()
