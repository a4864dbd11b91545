"""A tiny hand-written catalogue in a real DuckDB warehouse, with the marts' column names."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from music_platform.lib.rag.embedding import Embedder, default_embedder

ARTISTS = [
    # artist_id, artist_name, genres (';'-joined, as the marts hold them), bio
    ("a1", "Frostbitten Ravens", "black metal;metal", "Norwegian black metal from Bergen."),
    ("a2", "Velvet Lanterns", "indie pop;pop", "Dreamy indie pop with soft female vocals."),
    ("a3", "DJ Kalimba", "house;electronic", "Club house music for the dance floor."),
    ("a4", "Old Oak Fiddlers", "folk;bluegrass", "Acoustic Appalachian folk and bluegrass."),
    ("a5", "Marisol Quintero", "latin;salsa", "Salsa singer from Cali, Colombia."),
]
TRACKS = [
    # track_id, track_name, artist_id, genre, energy, acousticness, valence
    ("t1", "Winter Throne", "a1", "black metal", 0.95, 0.01, 0.1),
    ("t2", "Paper Moons", "a2", "indie pop", 0.4, 0.5, 0.8),
    ("t3", "Warehouse 4AM", "a3", "house", 0.9, 0.02, 0.7),
    ("t4", "Creek Lullaby", "a4", "folk", 0.15, 0.95, 0.2),
    ("t5", "Bailando Sola", "a5", "salsa", 0.8, 0.3, 0.9),
    ("t6", "Grey Harbour", "a4", "folk", 0.2, 0.9, 0.15),
]


def build_marts(path: Path) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA analytics")
        connection.execute(
            "CREATE TABLE analytics.dim_artist (artist_id VARCHAR, artist_name VARCHAR, "
            "genres VARCHAR, primary_genre VARCHAR, country_code VARCHAR, bio VARCHAR)"
        )
        for artist_id, name, genres, bio in ARTISTS:
            connection.execute(
                "INSERT INTO analytics.dim_artist VALUES (?, ?, ?, ?, NULL, ?)",
                [artist_id, name, genres, genres.split(";")[0], bio],
            )
        connection.execute(
            "CREATE TABLE analytics.dim_track AS SELECT t.*, a.artist_name, "
            "'Album ' || t.track_name AS album_name, 2020 AS release_year "
            "FROM (VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(TRACKS)) + ") "
            "AS t(track_id, track_name, artist_id, genre, energy, acousticness, valence) "
            "JOIN analytics.dim_artist AS a USING (artist_id)",
            [value for track in TRACKS for value in track],
        )


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return default_embedder()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    build_marts(path)
    return path
