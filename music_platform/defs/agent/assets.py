"""The catalogue's embeddings for the agent's `search_catalogue` tool, kept in the warehouse and
refreshed incrementally: only new or changed documents are embedded."""

from collections.abc import Iterator

import dagster as dg

from music_platform.defs.shared.keys import (
    CATALOGUE_EMBEDDINGS,
    CATALOGUE_FRESHNESS,
    DIM_ARTIST,
    DIM_TRACK,
    WAREHOUSE_POOL,
)
from music_platform.resources.warehouse import WarehouseResource

EMBEDDINGS_KEY = CATALOGUE_EMBEDDINGS
CHECK_NAME = "every_document_embedded"
# Below the default 0 of every other step: see op_tags below.
EMBEDDINGS_PRIORITY = "-1"
# float32 sums of 384 squares: a unit vector comes back within ~1e-6 of 1.
NORM_TOLERANCE = 1e-3


@dg.asset(
    key=EMBEDDINGS_KEY,
    deps=[DIM_ARTIST, DIM_TRACK],
    description=(
        "One document per artist and track (names, genres, tags, bios, audio-feature words), "
        "embedded offline with all-MiniLM-L6-v2 (int8 ONNX) into rag.catalogue_documents with "
        "BM25 term counts in rag.catalogue_terms: the index behind the agent's hybrid "
        "catalogue search. Only new or changed documents are embedded; deleted ones removed."
    ),
    group_name="ml",
    kinds={"python", "duckdb"},
    freshness_policy=CATALOGUE_FRESHNESS,
    pool=WAREHOUSE_POOL,
    # Embedding a fresh catalogue takes longer than the daily marts; nothing waits for it, so
    # when both are ready the marts and the recommender go first (steps run one at a time in
    # `local`, and in the other environments they share the warehouse pool's single slot).
    op_tags={"dagster/priority": EMBEDDINGS_PRIORITY},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=EMBEDDINGS_KEY,
            blocking=True,
            description="Every artist and track has exactly one unit-length embedding.",
        )
    ],
)
def catalogue_embeddings(
    context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[WarehouseResource]
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    if warehouse.engine != "duckdb":
        # The agent's tools read the DuckDB warehouse only; Snowflake has no index to serve.
        reason = f"not built: catalogue search runs on a DuckDB warehouse, not {warehouse.engine}"
        context.log.warning(reason)
        yield dg.MaterializeResult(metadata={"built": False, "reason": reason})
        yield dg.AssetCheckResult(
            check_name=CHECK_NAME, passed=True, metadata={"built": False}, description=reason
        )
        return

    # Imported here: onnxruntime and the index code stay out of the code location's import.
    from music_platform.lib.rag.documents import catalogue_documents
    from music_platform.lib.rag.embedding import DIMENSIONS, default_embedder
    from music_platform.lib.rag.index import DOCUMENTS_TABLE, index_health, refresh_index

    embedder = default_embedder()
    with warehouse.client().connect() as connection:
        documents = catalogue_documents(connection)
        counts = refresh_index(connection, documents, embedder)
        health = index_health(connection)
    context.log.info(
        f"{counts.embedded} documents embedded, {counts.unchanged} unchanged, "
        f"{counts.removed} removed"
    )
    yield dg.MaterializeResult(
        metadata={
            "built": True,
            "documents": counts.documents,
            "embedded": counts.embedded,
            "unchanged": counts.unchanged,
            "removed": counts.removed,
            "model": embedder.model_id,
            "dimensions": DIMENSIONS,
            "table": DOCUMENTS_TABLE,
            "dagster/row_count": counts.documents,
        }
    )
    problems = []
    if health.documents != counts.documents:
        problems.append(f"{health.documents} rows indexed for {counts.documents} documents")
    if health.missing_embeddings:
        problems.append(f"{health.missing_embeddings} rows without an embedding")
    if health.max_norm_error > NORM_TOLERANCE:
        problems.append(f"a vector's length is off 1 by {health.max_norm_error:.2g}")
    yield dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=not problems,
        metadata={
            "documents": health.documents,
            "missing_embeddings": health.missing_embeddings,
            "max_norm_error": health.max_norm_error,
        },
        description="; ".join(problems) or f"{health.documents} documents, all unit vectors",
    )
