"""The labelled query set for catalogue retrieval, over the real HetRec 2011 Last.fm artists.

Each artist's document holds its name and its five most used Last.fm tags. Two kinds of query:
- descriptions that paraphrase a tag without (mostly) using its words, relevant to every artist
  carrying that tag among its top five: meaning, which keyword search misses;
- an artist's name as a person types it (lower case, no punctuation), relevant to that artist;
- a rare tag typed verbatim (one few artists carry), relevant to every artist carrying it among
  its top five: exact words, which the vectors may blur.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from music_platform.lib.rag.documents import Document, artist_document

TOP_TAGS = 5

# (query, the Last.fm tag it describes)
DESCRIPTIONS: list[tuple[str, str]] = [
    ("bands that scream over heavy guitars with emotional lyrics", "screamo"),
    ("women singers", "female vocalists"),
    ("music from the nineteen eighties", "80s"),
    ("rappers and beats from the streets", "hip-hop"),
    ("calm relaxing lounge music", "chillout"),
    ("guitar legends of the sixties and seventies", "classic rock"),
    ("bands from the united kingdom", "british"),
    ("music from brazil", "brazilian"),
    ("scores written for films", "soundtrack"),
    ("atmospheric drones and textures without beats", "ambient"),
    ("tunes without any singing", "instrumental"),
    ("cowboy music from nashville", "country"),
    ("orchestral symphonies by great composers", "classical"),
    ("saxophone improvisation and swing", "jazz"),
    ("rhythm and blues", "rnb"),
    ("bands from sweden", "swedish"),
    ("artists from japan", "japanese"),
    ("bands from germany", "german"),
    ("artists from canada", "canadian"),
    ("pop made with synthesizers", "synthpop"),
    ("brutal growling extreme metal", "death metal"),
    ("spiritual songs praising god", "christian"),
    ("sad teenage guitar music about heartbreak", "emo"),
    ("trippy mind-expanding sixties sounds", "psychedelic"),
    ("harsh mechanical noise and aggressive electronic beats", "industrial"),
    ("storytellers with an acoustic guitar writing their own songs", "singer-songwriter"),
    ("dark romantic gloomy music", "gothic"),
    ("music to dance to in nightclubs", "dance"),
    ("slow moody electronic beats from bristol", "trip-hop"),
    ("fast rebellious three chord rock", "punk"),
]
NAME_QUERIES = 15
KEYWORD_QUERIES = 15
# A keyword query's tag is carried by this many of the chosen artists: rare, but not unique.
KEYWORD_ARTISTS = (2, 6)


@dataclass(frozen=True)
class LabelledQuery:
    query: str
    kind: str  # "description", "name" or "keyword"
    relevant: frozenset[str]


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, separator="\t", encoding="utf8-lossy", quote_char=None)


def hetrec_catalogue(data_dir: Path, artists: int) -> tuple[list[Document], list[LabelledQuery]]:
    """The `artists` most listened tagged artists as documents, and the labelled queries."""
    plays = _read(data_dir / "user_artists.dat").group_by("artistID").agg(pl.col("weight").sum())
    names = _read(data_dir / "artists.dat").select("id", "name")
    tag_names = _read(data_dir / "tags.dat")
    top_tags = (
        _read(data_dir / "user_taggedartists.dat")
        .group_by("artistID", "tagID")
        .len()
        .join(tag_names, on="tagID")
        .sort(["artistID", "len", "tagValue"], descending=[False, True, False])
        .group_by("artistID", maintain_order=True)
        .head(TOP_TAGS)
        .group_by("artistID", maintain_order=True)
        .agg(pl.col("tagValue").alias("tags"))
    )
    chosen = (
        plays.join(top_tags, on="artistID")
        .join(names, left_on="artistID", right_on="id")
        .sort(["weight", "artistID"], descending=[True, False])
        .head(artists)
    )
    rows = chosen.iter_rows(named=True)
    documents = [
        artist_document(
            {"artist_id": str(r["artistID"]), "artist_name": r["name"], "tags": r["tags"]}
        )
        for r in rows
    ]
    queries = [
        LabelledQuery(
            query,
            "description",
            frozenset(str(r["artistID"]) for r in chosen.iter_rows(named=True) if tag in r["tags"]),
        )
        for query, tag in DESCRIPTIONS
    ]
    # Names spread over the popularity range, typed as a person would.
    step = max(1, chosen.height // NAME_QUERIES)
    for r in chosen[::step].head(NAME_QUERIES).iter_rows(named=True):
        typed = re.sub(r"[^\w\s]", " ", r["name"].lower())
        queries.append(
            LabelledQuery(" ".join(typed.split()), "name", frozenset({str(r["artistID"])}))
        )
    carriers: dict[str, set[str]] = {}
    for r in chosen.iter_rows(named=True):
        for tag in r["tags"]:
            carriers.setdefault(tag, set()).add(str(r["artistID"]))
    low, high = KEYWORD_ARTISTS
    rare = sorted(tag for tag, ids in carriers.items() if low <= len(ids) <= high)
    # Spread over the alphabet rather than the first few.
    step = max(1, len(rare) // KEYWORD_QUERIES)
    for tag in rare[::step][:KEYWORD_QUERIES]:
        queries.append(LabelledQuery(tag.lower(), "keyword", frozenset(carriers[tag])))
    return documents, [q for q in queries if q.relevant]
