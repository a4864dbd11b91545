"""Score fusion: keywords lift a document only when it holds nearly all of a query's words."""

from __future__ import annotations

from music_platform.lib.rag.search import score_fusion


def _ids(ranking: list[tuple[tuple[str, str], float]]) -> list[str]:
    return [item for (_, item), _ in ranking]


VECTOR = [(("artist", "a"), 0.50), (("artist", "b"), 0.48), (("artist", "c"), 0.30)]


def test_a_complete_keyword_match_is_lifted() -> None:
    # "c" holds every word of the query (its BM25 score is the ideal): it overtakes.
    bm25 = [(("artist", "c"), 9.0), (("artist", "a"), 2.0)]
    fused = score_fusion(VECTOR, bm25, ideal=9.0, bm25_weight=0.3, bm25_coverage=0.8)
    assert _ids(fused) == ["c", "a", "b"]


def test_a_partial_keyword_match_does_not_outvote_meaning() -> None:
    # "b" shares one common word: under the coverage, it gains nothing.
    bm25 = [(("artist", "b"), 4.0)]
    fused = score_fusion(VECTOR, bm25, ideal=9.0, bm25_weight=0.3, bm25_coverage=0.8)
    assert _ids(fused) == ["a", "b", "c"]


def test_keyword_only_documents_join_after_the_vectors() -> None:
    bm25 = [(("artist", "d"), 9.0)]
    unweighted = score_fusion(VECTOR, bm25, ideal=9.0, bm25_weight=0.0)
    assert _ids(unweighted)[:3] == ["a", "b", "c"] and "d" in _ids(unweighted)
    weighted = score_fusion(VECTOR, bm25, ideal=9.0, bm25_weight=0.3, bm25_coverage=0.8)
    assert _ids(weighted)[0] == "d"
