"""One searchable document per artist and per track, written from the marts.

The text says what a listener might search for: names, genres, tags, a Last.fm bio where the
warehouse has one, and for tracks the album, year and words for their audio features ("calm",
"danceable", "acoustic"). Optional columns are used when present, so the same code reads the
synthetic marts and a catalogue enriched with tags and bios.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

MARTS_SCHEMA = "analytics"
# Above / below these, an audio feature earns a word in the text (features are 0..1).
HIGH, LOW = 0.7, 0.3
FEATURE_WORDS: dict[str, tuple[str | None, str | None]] = {
    "danceability": ("danceable", None),
    "energy": ("energetic", "calm"),
    "acousticness": ("acoustic", "electronic"),
    "instrumentalness": ("instrumental", None),
    "valence": ("happy upbeat", "sad melancholic"),
    "speechiness": ("spoken word", None),
}
MAX_BIO_CHARS = 600


@dataclass(frozen=True)
class Document:
    kind: str  # "artist" or "track"
    item_id: str
    name: str
    text: str

    def text_hash(self, model_id: str) -> str:
        """Changes when the text or the embedding model does: then the vector is stale."""
        return hashlib.sha256(f"{model_id}\n{self.text}".encode()).hexdigest()


def _words(value: Any) -> list[str]:
    """Genres and tags arrive ';'-joined from the marts or as lists; either way, a clean list."""
    if value is None:
        return []
    parts = value if isinstance(value, list | tuple) else str(value).split(";")
    return [str(part).strip() for part in parts if part is not None and str(part).strip()]


def _sentence(label: str, values: Iterable[str]) -> str:
    values = list(dict.fromkeys(values))
    return f"{label}: {', '.join(values)}." if values else ""


def artist_document(row: Mapping[str, Any]) -> Document:
    name = str(row.get("artist_name") or row["artist_id"])
    bio = " ".join(str(row.get("bio") or "").split())[:MAX_BIO_CHARS]
    parts = [
        f"{name}. Artist.",
        _sentence("Genres", _words(row.get("genres")) or _words(row.get("primary_genre"))),
        _sentence("Tags", _words(row.get("tags"))),
        f"Country: {row['country_code']}." if row.get("country_code") else "",
        bio,
    ]
    return Document("artist", str(row["artist_id"]), name, " ".join(p for p in parts if p))


def _feature_words(row: Mapping[str, Any]) -> list[str]:
    words = []
    for column, (high, low) in FEATURE_WORDS.items():
        value = row.get(column)
        if value is None:
            continue
        if high and value >= HIGH:
            words.append(high)
        elif low and value <= LOW:
            words.append(low)
    return words


def track_document(row: Mapping[str, Any]) -> Document:
    name = str(row.get("track_name") or row["track_id"])
    artist = row.get("artist_name")
    parts = [
        f"{name} by {artist}. Track." if artist else f"{name}. Track.",
        f"Album: {row['album_name']}." if row.get("album_name") else "",
        _sentence("Genre", _words(row.get("genre"))),
        _sentence("Tags", _words(row.get("tags"))),
        f"Released {row['release_year']}." if row.get("release_year") else "",
        _sentence("Sound", _feature_words(row)),
    ]
    return Document("track", str(row["track_id"]), name, " ".join(p for p in parts if p))


def _rows(connection: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    return connection.sql(f"SELECT * FROM {MARTS_SCHEMA}.{table}").to_arrow_table().to_pylist()


def catalogue_documents(connection: duckdb.DuckDBPyConnection) -> list[Document]:
    """Every artist and track in the marts (`analytics.dim_artist`, `analytics.dim_track`)."""
    return [artist_document(row) for row in _rows(connection, "dim_artist")] + [
        track_document(row) for row in _rows(connection, "dim_track")
    ]
