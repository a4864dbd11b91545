"""Catalogue retrieval: recall@10 of vector, BM25 and hybrid search on a labelled query set over
the real HetRec 2011 Last.fm artists, and embedding throughput beside a bare onnxruntime
session call (the baseline) in the same run.

Builds the index with the platform's own code (documents, embedder, `refresh_index`) in a
scratch DuckDB file and searches it with `search_catalogue`, as the agent's tool does.

    uv run python bench/retrieval.py [--artists 2000] [--data ../shared/data] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from report import write_json
from retrieval_set import hetrec_catalogue
from rich.console import Console
from rich.table import Table

from music_platform.lib.rag.embedding import BATCH_SIZE, Embedder
from music_platform.lib.rag.index import refresh_index
from music_platform.lib.rag.search import search_catalogue

K = 10
MODES = ("vector", "bm25", "hybrid")
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
    recalls: dict[str, dict[str, list[float]]] = {m: {"description": [], "name": []} for m in MODES}
    with tempfile.TemporaryDirectory() as scratch:
        connection = duckdb.connect(str(Path(scratch) / "index.duckdb"))
        refresh_index(connection, documents, embedder)
        for query in queries:
            for mode in MODES:
                hits = search_catalogue(
                    connection, query.query, k=K, kinds=("artist",), mode=mode, embedder=embedder
                )
                recalls[mode][query.kind].append(
                    recall_at_k([hit.item_id for hit in hits], query.relevant)
                )
        connection.close()

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    overall = {m: mean(recalls[m]["description"] + recalls[m]["name"]) for m in MODES}
    table = Table(
        title=f"catalogue retrieval: {len(documents)} HetRec artists, {len(queries)} queries"
    )
    table.add_column("mode")
    for column in ("recall@10", "descriptions", "names"):
        table.add_column(column, justify="right")
    for mode in MODES:
        table.add_row(
            mode,
            f"{overall[mode]:.3f}",
            f"{mean(recalls[mode]['description']):.3f}",
            f"{mean(recalls[mode]['name']):.3f}",
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
            "recall@10": {mode: round(overall[mode], 4) for mode in MODES},
            "recall@10_by_kind": {
                mode: {kind: round(mean(values), 4) for kind, values in recalls[mode].items()}
                for mode in MODES
            },
            "documents": len(documents),
            "embed_per_s": round(embed_per_s, 1),
            "bare_embed_per_s": round(bare_per_s, 1),
            "ratio": round(embed_per_s / bare_per_s, 3),
        },
    )


if __name__ == "__main__":
    main()
