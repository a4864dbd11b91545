"""A question read without a model: the names it holds, found in the warehouse (lexicon.py),
and what it asks for, from a classifier over labelled phrasings (intents.py), become one tool
call; or, when the reading is unsure, a reply that says what was understood and offers the
likely choices. A wrong confident answer is the failure to avoid: an ask whose name could not
be found is never run on the raw words.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from music_platform.lib.agent.intents import (
    NUMBER_WORDS,
    PLACEHOLDERS,
    IntentClassifier,
    delexicalise,
    vocabulary,
)
from music_platform.lib.agent.lexicon import Entity, Lexicon, Mention, tokens

# The tool each ask is answered by, and the kind of name it cannot do without.
ASKS: dict[str, tuple[str | None, str | None]] = {
    "recommend_for_user": ("recommend_for_user", None),
    "genre_songs": ("top_tracks_for_genre", "genre"),
    "artist_tracks": ("tracks_by_artist", "artist"),
    "track_info": ("track_metadata", "track"),
    "artist_info": ("artist_metadata", "artist"),
    "similar_tracks": ("similar_tracks", "track"),
    "similar_artists": ("similar_artists", "artist"),
    "search": ("search_catalogue", None),
    "count": (None, None),
    "help": (None, None),
}
DESCRIBED = {
    "recommend_for_user": "recommendations for a listener",
    "genre_songs": "songs in a genre",
    "artist_tracks": "an artist's tracks",
    "track_info": "a track's details",
    "artist_info": "an artist's details",
    "similar_tracks": "tracks similar to a track",
    "similar_artists": "artists similar to an artist",
    "search": "a catalogue search",
}
WHAT_CAN_BE_ASKED = (
    "Without a language model I can answer: songs in a genre ('a good pop song', '5 rock "
    "tracks'); tracks by an artist; a track or an artist's details ('tell me about <name>'); "
    "tracks or artists similar to one; recommendations for a listener ('for user <id>', or "
    "'for me' when your user id is set); and catalogue searches ('search for <words>')."
)
# Below this probability an ask is not taken on its wording alone.
MIN_CONFIDENCE = 0.2
# An ask that lacks its name wins a clarification only this far ahead of the best runnable one.
CLARIFY_MARGIN = 0.15
# Below this probability, words left unexplained make the reading a guess, offered as one.
SURE = 0.75
_ME = {"me", "my", "i", "mine", "myself", "im"}
_SINGULAR = re.compile(r"\b(?:a|an|one|single)\b(?:\s+\w+){0,3}?\s+(?:song|track|tune)\b")
_PLURAL = re.compile(r"\b(?:songs|tracks|tunes|hits)\b")
_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
# The governed metric a counting question names, first match wins (see _marts__metrics.yml).
METRIC_WORDS = (
    ("new_listeners", {"signups", "signup", "new"}),
    ("minutes_played", {"minutes", "hours", "time"}),
    ("sessions", {"sessions", "session"}),
    ("average_completion", {"completion", "completed", "finished"}),
    ("listeners", {"listeners", "people", "listener"}),
    ("listens", {"listens", "plays", "streams", "played", "listened", "listen"}),
)
GROUPINGS = {
    "day": "metric_time__day",
    "daily": "metric_time__day",
    "week": "metric_time__week",
    "weekly": "metric_time__week",
    "month": "metric_time__month",
    "monthly": "metric_time__month",
    "genre": "track__genre",
    "artist": "artist__artist_name",
}
_SEARCH_TEXT = re.compile(
    r"^(?:please\s+)?(?:search|find|look(?:\s+up|\s+for)?)\s+(?:in\s+)?(?:the\s+catalogue\s+)?"
    r"(?:for\s+)?(?P<q>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)


@dataclass
class Understanding:
    """A question's reading: the calls to make, or a reply in their place."""

    intent: str | None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # What was read into the question, said with the answer (a typo taken for a name).
    notes: list[str] = field(default_factory=list)
    reply: str | None = None
    choices: list[str] = field(default_factory=list)
    # The ask needs a model (a count), rather than being unclear.
    needs_model: bool = False
    # The reply asks the user something back (which one, who they are).
    clarifying: bool = False


@dataclass(frozen=True)
class _Reading:
    intent: str
    probability: float
    kinds: tuple[str, ...]  # the kind each mention was read as


class Understander:
    def __init__(self, lexicon: Lexicon, classifier: IntentClassifier) -> None:
        self.lexicon = lexicon
        self.classifier = classifier

    @classmethod
    def from_warehouse(cls, connection: duckdb.DuckDBPyConnection) -> Understander:
        return cls(Lexicon.from_warehouse(connection, vocabulary()), IntentClassifier.trained())

    def understand(self, question: str, asking_user: str | None = None) -> Understanding:
        # Days are read as a placeholder: they are dates, not names the warehouse holds.
        days = _DAY.findall(question)
        question = _DAY.sub(f" {PLACEHOLDERS['day']} ", question)
        words = tokens(question)
        mentions = self.lexicon.find(question)
        if words[:1] == ["search"]:
            # Said outright: whatever the names in it, a search.
            return self._build(_Reading("search", 1.0, ()), question, words, [], asking_user, days)
        readings = self._readings(words, mentions)
        runnable = [r for r in readings if _runnable(r, mentions, words)]
        best = runnable[0] if runnable else None
        top = readings[0]
        if best is None or best.probability < MIN_CONFIDENCE:
            return self._unclear(question, top, mentions)
        if top is not best and top.probability > best.probability + CLARIFY_MARGIN:
            missing = ASKS[top.intent][1]
            if missing is not None:
                return self._unclear(question, top, mentions)
        unknown = [
            word
            for word in _unnamed_words(words, mentions)
            if word not in self.lexicon.vocabulary
            and word not in ENGLISH_STOP_WORDS
            and _number([word]) is None
        ]
        if best.intent == "help" and unknown and best.probability < SURE:
            return self._unclear(question, top, mentions)
        # Words around a genre are its adjectives; around a track or an artist, whose names
        # are everyday words, they may mean the question is about something else.
        if unknown and ASKS[best.intent][1] in {"artist", "track"} and best.probability < SURE:
            return self._unsure(best, mentions, unknown)
        return self._build(best, question, words, mentions, asking_user, days)

    # -- reading ---------------------------------------------------------------------------
    def _readings(self, words: list[str], mentions: list[Mention]) -> list[_Reading]:
        """Every intent under every way of reading the mentions' kinds, most likely first."""
        options = [sorted(mention.kinds, key=_kind_order) for mention in mentions]
        readings: list[_Reading] = []
        for kinds in itertools.islice(itertools.product(*options), 16):
            text = list(words)
            for mention, kind in sorted(
                zip(mentions, kinds, strict=True), key=lambda pair: -pair[0].start
            ):
                text[mention.start : mention.end] = [PLACEHOLDERS[kind]]
            for intent, probability in self.classifier.rank(delexicalise(" ".join(text))):
                readings.append(_Reading(intent, probability, tuple(kinds)))
        readings.sort(key=lambda reading: -reading.probability)
        return readings

    # -- the calls -------------------------------------------------------------------------
    def _build(
        self,
        reading: _Reading,
        question: str,
        words: list[str],
        mentions: list[Mention],
        asking_user: str | None,
        days: list[str],
    ) -> Understanding:
        intent = reading.intent
        understanding = Understanding(intent)
        if intent == "help":
            understanding.clarifying = True
            understanding.reply = WHAT_CAN_BE_ASKED
            return understanding
        if intent == "count":
            metric_query = _metric_query(reading, mentions, words, days)
            if metric_query is not None:
                understanding.calls.append(("query_metrics", metric_query))
                return understanding
            understanding.needs_model = True
            understanding.reply = (
                "This question needs a language model: counts and totals are not computed by "
                "the rules. " + WHAT_CAN_BE_ASKED
            )
            return understanding
        if intent == "search":
            match = _SEARCH_TEXT.match(question.strip())
            query = (match["q"] if match else question).strip().strip("\"'").strip()
            understanding.calls.append(("search_catalogue", {"query": query}))
            return understanding
        tool, needed = ASKS[intent]
        assert tool is not None
        arguments: dict[str, Any] = {}
        count = _number(words)
        if intent == "recommend_for_user":
            user = _named(reading, mentions, "user")
            genre = _named(reading, mentions, "genre")
            if user:
                arguments["user_id"] = user[0][0][0].entity_id
            elif asking_user:
                arguments["user_id"] = asking_user
                understanding.notes.append(f"'for me' read as user {asking_user}")
            elif not genre:
                understanding.clarifying = True
                understanding.reply = (
                    "I understood you want recommendations, but not for whom: name a user "
                    "('for user <id>'), or set your user id (--user, the user_id field, or "
                    "MUSIC_PLATFORM_AGENT_USER_ID) so that 'me' means you. Or ask for a genre."
                )
                return understanding
            else:
                # No listener known: the genre's most played tracks, and the answer says so.
                tool = "top_tracks_for_genre"
                understanding.notes.append(
                    "no user id is set for 'me' (--user, or MUSIC_PLATFORM_AGENT_USER_ID), so "
                    "these are the genre's most played tracks"
                )
            if genre:
                arguments["genre"] = genre[0][0][0].name
        else:
            assert needed is not None
            entity, mention = self._pick(reading, mentions, needed, understanding)
            if entity is None:
                return understanding
            key = {"genre": "genre", "artist": "artist", "track": "track_id"}[needed]
            arguments[key] = entity.name if needed == "genre" else entity.entity_id
            if mention.distance:
                understanding.notes.append(f"'{mention.typed}' read as {entity.label()}")
        if intent == "genre_songs" and count is None:
            text = " ".join(words)
            if _SINGULAR.search(text) and not _PLURAL.search(text):
                count = 1
        if count is not None and intent not in {"track_info", "artist_info"}:
            arguments["k"] = count
        understanding.calls.append((tool, arguments))
        return understanding

    def _pick(
        self,
        reading: _Reading,
        mentions: list[Mention],
        kind: str,
        understanding: Understanding,
    ) -> tuple[Entity | None, Mention]:
        """The one entity of `kind` the question names; namesakes are told apart by another
        name in the question (a track's artist), else offered as choices."""
        entities, mention = _named(reading, mentions, kind)[0]
        if len(entities) > 1 and kind == "track":
            artists = {
                entity.name for m in mentions if m is not mention for entity in m.of_kind("artist")
            }
            by_artist = [e for e in entities if e.detail.removeprefix("by ") in artists]
            if len(by_artist) == 1:
                return by_artist[0], mention
        if len(entities) > 1 and len({e.name for e in entities}) < len(entities):
            understanding.clarifying = True
            understanding.reply = (
                f"I understood you asked for {DESCRIBED[reading.intent]}, but several {kind}s "
                f"are called '{entities[0].name}'. Which one did you mean?"
            )
            understanding.choices = [f"{e.label()} [{kind}:{e.entity_id}]" for e in entities[:5]]
            return None, mention
        return entities[0], mention

    def _unsure(
        self, reading: _Reading, mentions: list[Mention], unknown: list[str]
    ) -> Understanding:
        needed = ASKS[reading.intent][1]
        assert needed is not None
        entities = [entity for found, _ in _named(reading, mentions, needed) for entity in found]
        return Understanding(
            None,
            reply=(
                f"I am not sure what you asked: I did not follow '{' '.join(unknown)}'. Did you "
                f"mean {DESCRIBED[reading.intent]}, about one of these?"
            ),
            choices=[f"{e.label()} [{e.kind}:{e.entity_id}]" for e in entities[:5]],
            clarifying=True,
        )

    def _unclear(self, question: str, top: _Reading, mentions: list[Mention]) -> Understanding:
        understanding = Understanding(None)
        needed = ASKS[top.intent][1] if top.probability >= MIN_CONFIDENCE else None
        unnamed = " ".join(
            word
            for word in _unnamed_words(tokens(question), mentions)
            if word not in self.lexicon.vocabulary
        )
        if needed is None and not mentions:
            # Nothing recognised: perhaps a name beyond a typo.
            suggestions = [
                entity
                for kind in ("artist", "track")
                for entity in self.lexicon.suggest(unnamed, kind, limit=2, cutoff=80)
            ]
            if suggestions:
                understanding.clarifying = True
                understanding.reply = (
                    f"I did not recognise '{unnamed}' in the warehouse. Did you mean one of these?"
                )
                understanding.choices = [
                    f"{e.label()} [{e.kind}:{e.entity_id}]" for e in suggestions
                ]
                return understanding
        if needed is not None and top.intent in DESCRIBED:
            suggestions = self.lexicon.suggest(unnamed, needed)
            understanding.reply = (
                f"I understood you asked for {DESCRIBED[top.intent]}, but I found no {needed} "
                "of that name in the warehouse."
            )
            if suggestions:
                understanding.clarifying = True
                understanding.reply += " Did you mean one of these?"
                understanding.choices = [
                    f"{e.label()} [{e.kind}:{e.entity_id}]" for e in suggestions
                ]
            return understanding
        named = [f"{entity.kind} {entity.label()}" for m in mentions for entity in m.entities[:1]]
        understood = f" I recognised {', '.join(named)}." if named else ""
        understanding.reply = f"I did not understand the question.{understood} {WHAT_CAN_BE_ASKED}"
        return understanding


def _runnable(reading: _Reading, mentions: list[Mention], words: list[str]) -> bool:
    """Whether the ask can be made: the names it needs are in the question."""
    tool, needed = ASKS[reading.intent]
    if tool is None:
        return True
    if reading.intent == "search":
        # Names in a question make it about them, unless it says outright to search.
        return not mentions or words[:1] == ["search"]
    return needed is None or bool(_named(reading, mentions, needed))


def _metric_query(
    reading: _Reading, mentions: list[Mention], words: list[str], days: list[str]
) -> dict[str, Any] | None:
    """A counting question as a query of the governed metric it names, filtered by the genre,
    artist and day it names and grouped by what it counts "per"; None when it names none."""
    said = set(words)
    metric = next((name for name, cues in METRIC_WORDS if said & cues), None)
    if metric is None:
        return None
    where = [
        f"{{{{ Dimension('track__genre') }}}} = '{_quoted(entities[0].name)}'"
        for entities, _ in _named(reading, mentions, "genre")
    ]
    where += [
        f"{{{{ Dimension('artist__artist_name') }}}} = '{_quoted(entities[0].name)}'"
        for entities, _ in _named(reading, mentions, "artist")
    ]
    where += [f"{{{{ TimeDimension('metric_time', 'day') }}}} = '{day}'" for day in days]
    group_by = [
        GROUPINGS[word]
        for before, word in zip(["", *words], words, strict=False)
        if word in GROUPINGS and (before in {"per", "by", "each", "every"} or word.endswith("ly"))
    ]
    query: dict[str, Any] = {"metrics": [metric]}
    if where:
        query["where"] = where
    if group_by:
        query["group_by"] = list(dict.fromkeys(group_by))
    return query


def _quoted(value: str) -> str:
    return value.replace("'", "''")


def _kind_order(kind: str) -> int:
    return ("user", "genre", "artist", "track").index(kind)


def _named(
    reading: _Reading, mentions: list[Mention], kind: str
) -> list[tuple[tuple[Entity, ...], Mention]]:
    """The mentions this reading takes as `kind`, with their entities of that kind."""
    return [
        (mention.of_kind(kind), mention)
        for mention, read_as in zip(mentions, reading.kinds, strict=True)
        if read_as == kind
    ]


def _number(words: list[str]) -> int | None:
    for word in words:
        value = int(word) if word.isdigit() else NUMBER_WORDS.get(word)
        if value is not None and 1 <= value <= 50:
            return value
    return None


def _unnamed_words(words: list[str], mentions: list[Mention]) -> list[str]:
    taken = {i for mention in mentions for i in range(mention.start, mention.end)}
    return [word for i, word in enumerate(words) if i not in taken]
