from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from music_platform.lib.agent.sql_guard import open_marts
from music_platform.lib.rag.documents import catalogue_documents
from music_platform.lib.rag.embedding import Embedder
from music_platform.lib.rag.index import DOCUMENTS_TABLE, index_health, refresh_index
from music_platform.lib.rag.search import SearchUnavailableError, search_catalogue
from music_platform_tests.lib.rag.conftest import ARTISTS, TRACKS


def _refresh(path: Path, embedder: Embedder):
    with duckdb.connect(str(path)) as connection:
        return refresh_index(connection, catalogue_documents(connection), embedder)


def test_documents_carry_names_genres_bios_and_sound_words(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        documents = {(d.kind, d.item_id): d for d in catalogue_documents(connection)}
    assert len(documents) == len(ARTISTS) + len(TRACKS)
    ravens = documents[("artist", "a1")].text
    assert "Frostbitten Ravens" in ravens and "black metal, metal" in ravens
    assert "Bergen" in ravens
    lullaby = documents[("track", "t4")].text
    assert "Creek Lullaby by Old Oak Fiddlers" in lullaby
    assert "calm" in lullaby and "acoustic" in lullaby and "sad" in lullaby


def test_refresh_embeds_only_what_changed_and_removes_what_left(
    warehouse: Path, embedder: Embedder
) -> None:
    first = _refresh(warehouse, embedder)
    assert (first.embedded, first.unchanged, first.removed) == (11, 0, 0)
    assert _refresh(warehouse, embedder).embedded == 0

    with duckdb.connect(str(warehouse)) as connection:
        before = dict(
            connection.execute(f"SELECT item_id, embedding FROM {DOCUMENTS_TABLE}").fetchall()
        )
        connection.execute(
            "UPDATE analytics.dim_artist SET bio = 'Ambient drone.' WHERE artist_id = 'a2'"
        )
        connection.execute("DELETE FROM analytics.dim_track WHERE track_id = 't6'")
    second = _refresh(warehouse, embedder)
    assert (second.embedded, second.unchanged, second.removed) == (1, 9, 1)

    with duckdb.connect(str(warehouse)) as connection:
        after = dict(
            connection.execute(f"SELECT item_id, embedding FROM {DOCUMENTS_TABLE}").fetchall()
        )
        health = index_health(connection)
    assert set(after) == set(before) - {"t6"}
    assert after["a2"] != before["a2"]
    assert all(after[key] == before[key] for key in after if key != "a2")
    assert (health.documents, health.missing_embeddings) == (10, 0)
    assert health.max_norm_error < 1e-4


@pytest.mark.parametrize(
    ("query", "kinds", "expected"),
    [
        ("Winter Throne", ("track",), "t1"),  # an exact name
        ("frostbitten ravens", ("artist",), "a1"),  # a name in another case
        ("a soft sleepy acoustic song", ("track",), "t4"),  # meaning, not words
        ("dance club music", ("artist",), "a3"),
        ("singer from Colombia", ("artist",), "a5"),  # a bio
    ],
)
def test_hybrid_search_finds_the_item(
    warehouse: Path, embedder: Embedder, query: str, kinds: tuple[str, ...], expected: str
) -> None:
    _refresh(warehouse, embedder)
    # On the agent's read-only connection, as the tool runs it.
    connection = open_marts(warehouse)
    try:
        hits = search_catalogue(connection, query, k=3, kinds=kinds, embedder=embedder)
    finally:
        connection.close()
    assert hits[0].item_id == expected, hits
    assert {hit.kind for hit in hits} == set(kinds)
    assert hits[0].score >= hits[-1].score


def test_each_mode_ranks_and_unknown_kinds_are_refused(warehouse: Path, embedder: Embedder) -> None:
    _refresh(warehouse, embedder)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        bm25 = search_catalogue(connection, "Bergen", k=5, mode="bm25")
        vector = search_catalogue(connection, "Bergen", k=5, mode="vector", embedder=embedder)
        nothing = search_catalogue(connection, "the of and", k=5, mode="bm25")
    # Only the artist's bio holds the word; vectors rank every document.
    assert [hit.item_id for hit in bm25] == ["a1"]
    assert len(vector) == 5
    assert nothing == []
    with pytest.raises(ValueError, match="unknown kinds"):
        search_catalogue(connection, "x", kinds=("album",))


def test_search_without_an_index_says_how_to_build_it(warehouse: Path) -> None:
    connection = open_marts(warehouse)
    try:
        with pytest.raises(SearchUnavailableError, match="ml/catalogue_embeddings"):
            search_catalogue(connection, "anything")
    finally:
        connection.close()
