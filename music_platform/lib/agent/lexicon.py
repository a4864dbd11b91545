"""The warehouse's own names (genres, artists, tracks, users), found in a question as people
type them: any case, accents dropped, punctuation anywhere, one typo (two in long names).

Matching is rapidfuzz's Levenshtein distance over the normalised names, bucketed by length so a
large catalogue stays fast. Words the question language itself uses ("song", "like", "me") are
never fuzzy-matched, and not matched to artists or tracks at all: a track called "Country" must
not turn "what country is she from" into a question about it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

KINDS = ("genre", "artist", "track", "user")
# Letters a typo is worth when exact and misspelt readings of a question compete.
TYPO_COST = 3
# Longer names (a scraped artist name holding a paragraph) are not looked for in questions.
MAX_NAME_TOKENS = 8
_TOKEN = re.compile(r"[^\W_]+")
# Spellings people use for genres whose names carry punctuation or spaces.
GENRE_ALIASES = {"rnb": "r&b", "randb": "r&b", "dnb": "drum and bass", "edm": "electronic"}


def normalise(text: str) -> str:
    """Casefolded, accents dropped, '&' read as 'and', punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    # NFC recomposes scripts NFKD split without accents (Hangul syllables).
    folded = unicodedata.normalize("NFC", bare).casefold().replace("&", " and ")
    return " ".join(_TOKEN.findall(folded))


def tokens(text: str) -> list[str]:
    return normalise(text).split()


def _max_distance(key: str) -> int:
    letters = len(key.replace(" ", ""))
    if letters < 5:
        return 0
    return 1 if letters < 12 else 2


@dataclass(frozen=True)
class Entity:
    kind: str
    entity_id: str
    name: str
    # How well known it is: breaks ties between entities sharing a name.
    weight: float = 0.0
    # What tells it apart from a namesake, e.g. a track's artist.
    detail: str = ""

    def label(self) -> str:
        return f"{self.name} ({self.detail})" if self.detail else self.name


@dataclass(frozen=True)
class Mention:
    """Words of the question recognised as one or more entities (best first)."""

    start: int
    end: int
    typed: str
    entities: tuple[Entity, ...]
    distance: int

    def of_kind(self, kind: str) -> tuple[Entity, ...]:
        return tuple(entity for entity in self.entities if entity.kind == kind)

    @property
    def kinds(self) -> set[str]:
        return {entity.kind for entity in self.entities}


class Lexicon:
    """Every name of the warehouse, normalised, with the entities behind it."""

    def __init__(self, entities: Iterable[Entity], vocabulary: Iterable[str] = ()) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.by_key: dict[str, list[Entity]] = defaultdict(list)
        self.ids: dict[str, Entity] = {}
        for entity in entities:
            self.ids.setdefault(entity.entity_id, entity)
            key = normalise(entity.name)
            if key and len(key.split()) <= MAX_NAME_TOKENS:
                self.by_key[key].append(entity)
                compact = key.replace(" ", "")
                if entity.kind == "genre" and compact != key:
                    self.by_key[compact].append(entity)
        for alias, genre in GENRE_ALIASES.items():
            self.by_key.setdefault(alias, []).extend(self.by_key.get(normalise(genre), []))
        for found in self.by_key.values():
            found.sort(key=lambda entity: (-entity.weight, entity.entity_id))
        self.keys_by_length: dict[int, list[str]] = defaultdict(list)
        for key in self.by_key:
            self.keys_by_length[len(key)].append(key)

    @classmethod
    def from_warehouse(
        cls, connection: duckdb.DuckDBPyConnection, vocabulary: Iterable[str] = ()
    ) -> Lexicon:
        return cls(_warehouse_entities(connection), vocabulary)

    # -- finding names in a question -------------------------------------------------------
    def find(self, question: str) -> list[Mention]:
        """The entities named in `question`, left to right, without overlaps: exact matches
        before typos, longer names before shorter ones."""
        raw = question.split()
        words = tokens(question)
        found: list[Mention] = []
        for token in raw:
            entity = self.ids.get(token.strip("\"'.,;:!?()[]"))
            if entity is not None:
                # An id is matched as typed; it is located among the normalised words.
                at = _locate(words, normalise(token))
                if at is not None:
                    found.append(Mention(at[0], at[1], token, (entity,), 0))
        for start in range(len(words)):
            for end in range(start + 1, min(start + MAX_NAME_TOKENS, len(words)) + 1):
                mention = self._match(words, start, end)
                if mention is not None:
                    found.append(mention)
        return _without_overlaps(found)

    def _match(self, words: list[str], start: int, end: int) -> Mention | None:
        span = words[start:end]
        key = " ".join(span)
        common = all(word in self.vocabulary for word in span)
        entities = self.by_key.get(key) or self.by_key.get(key.replace(" ", ""))
        distance = 0
        if not entities and any(word not in self.vocabulary for word in span):
            entities, distance = self._fuzzy(span)
        if not entities:
            return None
        if common:
            # Everyday words name a genre at most ("house", "country"), never an artist or track.
            entities = [entity for entity in entities if entity.kind in {"genre", "user"}]
            if not entities:
                return None
        return Mention(start, end, key, tuple(entities), distance)

    def _fuzzy(self, span: list[str]) -> tuple[list[Entity], int]:
        key = " ".join(span)
        limit = _max_distance(key)
        if limit == 0:
            return [], 0
        candidates = [
            candidate
            for length in range(len(key) - limit, len(key) + limit + 1)
            for candidate in self.keys_by_length.get(length, ())
        ]
        best = process.extract(
            key, candidates, scorer=Levenshtein.distance, score_cutoff=limit, limit=5
        )
        if not best:
            return [], 0
        distance = min(score for _, score, _ in best)
        # A word of the question at either end of the span must be the name's own word as
        # typed: "pop songs" is the genre and a word, not the track "Pop Song" misspelt.
        closest = [
            name
            for name, score, _ in best
            if score == distance and self._same_edges(span, name.split())
        ]
        # Typos tolerated only in names long enough to keep them apart.
        entities = [
            entity
            for name in closest
            if _max_distance(name) >= distance
            for entity in self.by_key[name]
        ]
        return entities, int(distance)

    def _same_edges(self, span: list[str], name: list[str]) -> bool:
        return all(
            span[i] == name[i] for i in (0, -1) if span[i] in self.vocabulary and span[i] != "the"
        )

    def suggest(self, text: str, kind: str, limit: int = 3, cutoff: float = 60) -> list[Entity]:
        """The entities of `kind` whose names look most like `text`, for 'did you mean'."""
        words = [word for word in tokens(text) if word not in self.vocabulary]
        if not words:
            return []
        keys = [key for key, found in self.by_key.items() if any(e.kind == kind for e in found)]
        best = process.extract(
            " ".join(words), keys, scorer=fuzz.WRatio, score_cutoff=cutoff, limit=limit * 2
        )
        chosen: list[Entity] = []
        for key, _, _ in best:
            chosen.extend(entity for entity in self.by_key[key] if entity.kind == kind)
        return list(dict.fromkeys(chosen))[:limit]


def _locate(words: list[str], normalised: str) -> tuple[int, int] | None:
    parts = normalised.split()
    for start in range(len(words) - len(parts) + 1):
        if words[start : start + len(parts)] == parts:
            return start, start + len(parts)
    return None


def _without_overlaps(found: list[Mention]) -> list[Mention]:
    chosen: list[Mention] = []
    taken: set[int] = set()

    # The most letters named wins, a typo costing some: "rule forver" is the track "Rule
    # Forever" misspelt rather than the track "Rule" followed by a stray word.
    def weight(mention: Mention) -> tuple[int, int]:
        letters = len(mention.typed.replace(" ", ""))
        return (TYPO_COST * mention.distance - letters, mention.start)

    for mention in sorted(found, key=weight):
        span = set(range(mention.start, mention.end))
        if span & taken:
            continue
        taken |= span
        chosen.append(mention)
    return sorted(chosen, key=lambda mention: mention.start)


def _warehouse_entities(connection: duckdb.DuckDBPyConnection) -> list[Entity]:
    entities: list[Entity] = []
    queries = {
        "genre": "SELECT genre, genre, count(*), '' FROM analytics.dim_track "
        "WHERE genre IS NOT NULL GROUP BY genre",
        "artist": "SELECT artist_id, artist_name, coalesce(popularity, 0), '' "
        "FROM analytics.dim_artist WHERE artist_name IS NOT NULL",
        "track": "SELECT track_id, track_name, coalesce(popularity, 0), "
        "coalesce('by ' || artist_name, '') FROM analytics.dim_track WHERE track_name IS NOT NULL",
        "user": "SELECT user_id, user_id, 0, '' FROM analytics.dim_user",
    }
    for kind, sql in queries.items():
        for entity_id, name, weight, detail in connection.execute(sql).fetchall():
            entities.append(Entity(kind, str(entity_id), str(name), float(weight), detail))
    return entities
