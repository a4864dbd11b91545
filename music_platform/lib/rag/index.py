"""The catalogue index in the DuckDB warehouse, refreshed incrementally.

`rag.catalogue_documents` holds one row per document with its text, a hash of the text and
model, and its embedding as a FLOAT[384] array; `rag.catalogue_terms` holds each document's
term frequencies for BM25. A refresh embeds only documents that are new or whose hash changed
and deletes those no longer in the catalogue, in one transaction, so a crash leaves the previous
index whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from music_platform.lib.rag.documents import Document
from music_platform.lib.rag.embedding import DIMENSIONS, Embedder
from music_platform.lib.rag.terms import term_counts

INDEX_SCHEMA = "rag"
DOCUMENTS_TABLE = f"{INDEX_SCHEMA}.catalogue_documents"
TERMS_TABLE = f"{INDEX_SCHEMA}.catalogue_terms"

SCHEMA_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {INDEX_SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {DOCUMENTS_TABLE} (
        kind VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        text VARCHAR NOT NULL,
        text_hash VARCHAR NOT NULL,
        model_id VARCHAR NOT NULL,
        terms INTEGER NOT NULL,
        embedding FLOAT[{DIMENSIONS}] NOT NULL,
        embedded_at TIMESTAMPTZ NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {TERMS_TABLE} (
        kind VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        term VARCHAR NOT NULL,
        tf INTEGER NOT NULL
    )""",
)


@dataclass(frozen=True)
class RefreshCounts:
    embedded: int
    unchanged: int
    removed: int

    @property
    def documents(self) -> int:
        return self.embedded + self.unchanged


def _existing_hashes(connection: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    rows = connection.execute(f"SELECT kind, item_id, text_hash FROM {DOCUMENTS_TABLE}").fetchall()
    return {(kind, item_id): text_hash for kind, item_id, text_hash in rows}


def _document_rows(
    documents: Sequence[Document], vectors: np.ndarray, model_id: str
) -> tuple[pa.Table, pa.Table]:
    counts = [term_counts(document.text) for document in documents]
    now = datetime.now(UTC)
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    document_rows = pa.table(
        {
            "kind": [d.kind for d in documents],
            "item_id": [d.item_id for d in documents],
            "name": [d.name for d in documents],
            "text": [d.text for d in documents],
            "text_hash": [d.text_hash(model_id) for d in documents],
            "model_id": [model_id] * len(documents),
            "terms": pa.array([sum(c.values()) for c in counts], type=pa.int32()),
            "embedding": pa.FixedSizeListArray.from_arrays(flat, DIMENSIONS),
            "embedded_at": pa.array([now] * len(documents), type=pa.timestamp("us", tz="UTC")),
        }
    )
    term_rows = pa.table(
        {
            "kind": [d.kind for d, c in zip(documents, counts, strict=True) for _ in c],
            "item_id": [d.item_id for d, c in zip(documents, counts, strict=True) for _ in c],
            "term": [term for c in counts for term in c],
            "tf": pa.array([n for c in counts for n in c.values()], type=pa.int32()),
        }
    )
    return document_rows, term_rows


def refresh_index(
    connection: duckdb.DuckDBPyConnection, documents: Sequence[Document], embedder: Embedder
) -> RefreshCounts:
    """Bring the index in line with `documents`, embedding only what is new or changed."""
    seen: set[tuple[str, str]] = set()
    for document in documents:
        key = (document.kind, document.item_id)
        if key in seen:
            raise ValueError(
                f"two documents for {document.kind} {document.item_id!r}: the catalogue's ids "
                "must be unique; fix the duplicate in the marts"
            )
        seen.add(key)
    for statement in SCHEMA_DDL:
        connection.execute(statement)
    existing = _existing_hashes(connection)
    stale = [
        d for d in documents if existing.get((d.kind, d.item_id)) != d.text_hash(embedder.model_id)
    ]
    removed = [key for key in existing if key not in seen]
    # Embedding is the slow part; it runs before the transaction so the index stays readable.
    vectors = embedder.embed([d.text for d in stale])
    document_rows, term_rows = _document_rows(stale, vectors, embedder.model_id)
    replaced = pa.table(
        {
            "kind": [d.kind for d in stale] + [kind for kind, _ in removed],
            "item_id": [d.item_id for d in stale] + [item_id for _, item_id in removed],
        }
    )
    connection.execute("BEGIN")
    try:
        connection.register("replaced", replaced)
        connection.register("document_rows", document_rows)
        connection.register("term_rows", term_rows)
        for table in (DOCUMENTS_TABLE, TERMS_TABLE):
            connection.execute(
                f"DELETE FROM {table} WHERE (kind, item_id) IN (SELECT kind, item_id FROM replaced)"
            )
        connection.execute(f"INSERT INTO {DOCUMENTS_TABLE} BY NAME SELECT * FROM document_rows")
        connection.execute(f"INSERT INTO {TERMS_TABLE} BY NAME SELECT * FROM term_rows")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        for name in ("replaced", "document_rows", "term_rows"):
            connection.unregister(name)
    return RefreshCounts(
        embedded=len(stale), unchanged=len(documents) - len(stale), removed=len(removed)
    )


@dataclass(frozen=True)
class IndexHealth:
    documents: int
    missing_embeddings: int
    max_norm_error: float


def index_health(connection: duckdb.DuckDBPyConnection) -> IndexHealth:
    """What the asset's check looks at: every row embedded with a unit vector."""
    documents, missing, error = connection.execute(
        f"""SELECT count(*),
                   count(*) FILTER (WHERE embedding IS NULL),
                   coalesce(max(abs(sqrt(array_inner_product(embedding, embedding)) - 1)), 0)
            FROM {DOCUMENTS_TABLE}"""
    ).fetchone()
    return IndexHealth(int(documents), int(missing), float(error))
