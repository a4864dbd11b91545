"""Hybrid retrieval over the catalogue index: vector similarity and BM25, fused by score.

Vectors catch meaning ("sad acoustic songs" finds tracks described as melancholic and
acoustic); BM25 catches exact words the model blurs (rare names, ids, spellings). Each ranks
its own candidates; the fused score is the cosine plus a weight times the BM25 score divided by
the best BM25 score the query could reach (every query term in a document once: the sum of
their idf), when a document reaches most of that score. A document matching all of a query's
rare words (a name) is lifted; one sharing a common word of a description is not, so keywords
add what the vectors miss without outvoting them on meaning. Reciprocal rank fusion with equal
weights did outvote them: on descriptive queries its recall@10 fell below the vectors' alone
(bench/retrieval.py).
Everything runs as parameterised SQL on the connection given, which may be read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import duckdb

from music_platform.lib.rag.embedding import DIMENSIONS, Embedder, default_embedder
from music_platform.lib.rag.index import DOCUMENTS_TABLE, TERMS_TABLE
from music_platform.lib.rag.terms import terms

Mode = Literal["hybrid", "vector", "bm25"]
KINDS = ("artist", "track")
# The usual constants: RRF's from Cormack et al. (2009), BM25's from Robertson's defaults.
RRF_K = 60
# The BM25 share of the fused score and the coverage it needs: tuned by bench/retrieval.py on
# one half of its labelled queries (descriptions, names, rare tags), checked on the other.
BM25_WEIGHT = 0.5
# Keywords count only for a document matching this share of the query's best BM25 score: near
# all its words, not one common word of a description.
BM25_COVERAGE = 0.6
BM25_K1 = 1.2
BM25_B = 0.75


class SearchUnavailableError(RuntimeError):
    """The index is missing; the message says how to build it."""


@dataclass(frozen=True)
class Hit:
    kind: str
    item_id: str
    name: str
    text: str
    score: float


VECTOR_SQL = f"""
SELECT kind, item_id, array_cosine_similarity(embedding, $query::FLOAT[{DIMENSIONS}]) AS score
FROM {DOCUMENTS_TABLE}
WHERE list_contains($kinds, kind)
ORDER BY score DESC, kind, item_id
LIMIT $limit
"""

# Okapi BM25 with Lucene's non-negative idf, over the documents of the requested kinds.
BM25_SQL = f"""
WITH query_terms AS (SELECT DISTINCT unnest($terms::VARCHAR[]) AS term),
corpus AS (
    SELECT count(*) AS documents, avg(terms) AS mean_terms
    FROM {DOCUMENTS_TABLE} WHERE list_contains($kinds, kind)
),
postings AS (
    SELECT t.kind, t.item_id, t.term, t.tf, d.terms
    FROM {TERMS_TABLE} AS t
    JOIN query_terms USING (term)
    JOIN {DOCUMENTS_TABLE} AS d USING (kind, item_id)
    WHERE list_contains($kinds, t.kind)
),
frequency AS (SELECT term, count(*) AS df FROM postings GROUP BY term)
SELECT kind, item_id,
       sum(
           ln(1 + (corpus.documents - frequency.df + 0.5) / (frequency.df + 0.5))
           * tf * ({BM25_K1} + 1)
           / (tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * terms / corpus.mean_terms))
       ) AS score
FROM postings JOIN frequency USING (term) CROSS JOIN corpus
GROUP BY kind, item_id
ORDER BY score DESC, kind, item_id
LIMIT $limit
"""

# The score of a document holding every query term once (tf 1 at average length): the idf sum.
IDEAL_BM25_SQL = f"""
WITH query_terms AS (SELECT DISTINCT unnest($terms::VARCHAR[]) AS term),
corpus AS (SELECT count(*) AS documents FROM {DOCUMENTS_TABLE} WHERE list_contains($kinds, kind)),
frequency AS (
    SELECT term, count(*) AS df FROM {TERMS_TABLE}
    WHERE list_contains($kinds, kind) AND term IN (SELECT term FROM query_terms)
    GROUP BY term
)
SELECT sum(ln(1 + (corpus.documents - coalesce(df, 0) + 0.5) / (coalesce(df, 0) + 0.5)))
FROM query_terms LEFT JOIN frequency USING (term) CROSS JOIN corpus
"""

DETAILS_SQL = f"""
SELECT kind, item_id, name, text FROM {DOCUMENTS_TABLE}
WHERE (kind, item_id) IN (SELECT unnest($kinds::VARCHAR[]), unnest($item_ids::VARCHAR[]))
"""


def _ranked(
    connection: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, object]
) -> list[tuple[tuple[str, str], float]]:
    try:
        rows = connection.execute(sql, parameters).fetchall()
    except duckdb.CatalogException:
        raise SearchUnavailableError(
            "the catalogue index is not built: materialize ml/catalogue_embeddings "
            "(`music-platform run`)"
        ) from None
    return [((kind, item_id), float(score)) for kind, item_id, score in rows]


def vector_ranking(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    *,
    limit: int,
    kinds: Sequence[str] = KINDS,
    embedder: Embedder | None = None,
) -> list[tuple[tuple[str, str], float]]:
    (vector,) = (embedder or default_embedder()).embed([query])
    parameters = {"query": vector.tolist(), "kinds": list(kinds), "limit": limit}
    return _ranked(connection, VECTOR_SQL, parameters)


def bm25_ranking(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    *,
    limit: int,
    kinds: Sequence[str] = KINDS,
) -> list[tuple[tuple[str, str], float]]:
    query_terms = terms(query)
    if not query_terms:
        return []
    parameters = {"terms": query_terms, "kinds": list(kinds), "limit": limit}
    return _ranked(connection, BM25_SQL, parameters)


def ideal_bm25(
    connection: duckdb.DuckDBPyConnection, query: str, *, kinds: Sequence[str] = KINDS
) -> float:
    """The BM25 score a document holding each of the query's terms once would get."""
    query_terms = terms(query)
    if not query_terms:
        return 0.0
    row = connection.execute(IDEAL_BM25_SQL, {"terms": query_terms, "kinds": list(kinds)})
    (ideal,) = row.fetchone() or (0.0,)
    return float(ideal or 0.0)


def reciprocal_rank_fusion(
    *rankings: list[tuple[tuple[str, str], float]],
) -> list[tuple[tuple[str, str], float]]:
    fused: dict[tuple[str, str], float] = {}
    for ranking in rankings:
        for rank, (key, _) in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def score_fusion(
    vector: list[tuple[tuple[str, str], float]],
    bm25: list[tuple[tuple[str, str], float]],
    ideal: float,
    bm25_weight: float = BM25_WEIGHT,
    bm25_coverage: float = BM25_COVERAGE,
) -> list[tuple[tuple[str, str], float]]:
    """Cosine plus `bm25_weight` times the BM25 score over its ideal, when that coverage is at
    least `bm25_coverage`; a document missing from the vector list takes that list's lowest
    cosine, one missing from the BM25 list or covering less adds nothing."""
    floor = min((score for _, score in vector), default=0.0)
    fused = dict.fromkeys((key for key, _ in bm25), floor)
    fused.update(vector)
    if ideal > 0:
        for key, score in bm25:
            coverage = min(score / ideal, 1.0)
            if coverage >= bm25_coverage:
                fused[key] += bm25_weight * coverage
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def search_catalogue(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    k: int = 10,
    kinds: Sequence[str] = KINDS,
    *,
    mode: Mode = "hybrid",
    embedder: Embedder | None = None,
) -> list[Hit]:
    """The `k` best documents for `query`, best first; `score` is the mode's own (cosine,
    BM25, or the fused score)."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; search {' or '.join(KINDS)}")
    # Each list offers more candidates than asked, so fusion can promote what both agree on.
    candidates = max(k * 5, 50)
    if mode == "vector":
        ranking = vector_ranking(connection, query, limit=k, kinds=kinds, embedder=embedder)
    elif mode == "bm25":
        ranking = bm25_ranking(connection, query, limit=k, kinds=kinds)
    else:
        ranking = score_fusion(
            vector_ranking(connection, query, limit=candidates, kinds=kinds, embedder=embedder),
            bm25_ranking(connection, query, limit=candidates, kinds=kinds),
            ideal_bm25(connection, query, kinds=kinds),
        )
    top = ranking[:k]
    if not top:
        return []
    keys = {"kinds": [kind for (kind, _), _ in top], "item_ids": [item for (_, item), _ in top]}
    details = {
        (kind, item_id): (name, text)
        for kind, item_id, name, text in connection.execute(DETAILS_SQL, keys).fetchall()
    }
    return [
        Hit(kind, item_id, *details[(kind, item_id)], score)
        for (kind, item_id), score in top
        if (kind, item_id) in details
    ]
