"""The assistant's evaluation: questions as people type them (lower case, no question mark,
adjectives, "for me", accents dropped, a typo, two names in one question), each with the tool
and the entities it should cause and the facts its answer must state, or the clarification it
should get instead of a confident answer. Shared by the tests and bench/agent.py.

Every name is drawn from the built warehouse when the set is built, so the questions stay
valid when the synthetic world changes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import cycle
from typing import Any

import duckdb
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from music_platform.lib.agent.intents import vocabulary
from music_platform.lib.agent.lexicon import normalise
from music_platform.lib.agent.loop import AgentAnswer
from music_platform.lib.agent.router import render_outcome
from music_platform.lib.agent.sql_guard import open_marts
from music_platform.lib.agent.tools import ToolOutcome
from music_platform.lib.agent.understanding import Understander
from music_platform_tests.support.agent.world import INJECTED_ARTIST, AgentWorld

ASKS = (
    "genre songs",
    "tracks by artist",
    "track by name",
    "track metadata",
    "artist metadata",
    "recommendations",
    "similar tracks",
    "similar artists",
    "search",
    "metrics",
    "clarification",
)
# The asking user of "for me" questions: the world's first listener.
ME = 0


@dataclass(frozen=True)
class Question:
    ask: str
    text: str
    # The tool and the arguments (a subset) it should be called with; None: no tool should be
    # called and the answer should offer `choices` instead.
    tool: str | None
    arguments: dict[str, Any] = field(default_factory=dict)
    # Each group is satisfied when the answer contains any one of its strings.
    facts: tuple[tuple[str, ...], ...] = ()
    choices: tuple[str, ...] = ()
    user_id: str | None = None
    # Checks on the tool's result: how many tracks, how many artists among them at least.
    tracks: int | None = None
    min_artists: int | None = None


@dataclass(frozen=True)
class WorldNames:
    """Names of the world a person could type and mean one thing by, and namesakes."""

    genres: list[dict[str, Any]]
    artists: list[dict[str, Any]]
    tracks: list[dict[str, Any]]
    namesakes: list[list[dict[str, Any]]]
    users: list[str]
    # Listens and listeners per day, and per genre.
    days: list[dict[str, Any]]


# -- how people type a name -----------------------------------------------------------------
def _lower(name: str) -> str:
    return name.lower()


def _no_accents(name: str) -> str:
    return normalise(name)


def typo(name: str) -> str:
    """One letter dropped from the middle of the name's longest word."""
    words = normalise(name).split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    words[longest] = word[: len(word) // 2] + word[len(word) // 2 + 1 :]
    return " ".join(words)


def _as_typed(name: str) -> str:
    return name


FORMS: tuple[Callable[[str], str], ...] = (_lower, _no_accents, typo, _as_typed)


def _forms() -> cycle[Callable[[str], str]]:
    return cycle(FORMS)


# -- the names, from the warehouse ----------------------------------------------------------
def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = connection.execute(sql)
    columns = [column[0] for column in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def world_names(world: AgentWorld) -> WorldNames:
    with open_marts(world.warehouse_path) as connection:
        genres = _rows(
            connection,
            "SELECT t.genre, count(DISTINCT t.track_id) AS tracks, count(DISTINCT t.artist_id) "
            "AS artists, count(l.user_id) AS listens, count(DISTINCT l.user_id) AS listeners "
            "FROM analytics.dim_track AS t LEFT JOIN analytics.fct_listens AS l USING (track_id) "
            "WHERE t.genre IS NOT NULL GROUP BY t.genre "
            "HAVING count(DISTINCT t.artist_id) >= 3 ORDER BY tracks DESC, t.genre",
        )
        artists = _rows(
            connection,
            "SELECT a.artist_id, a.artist_name, a.country_code, count(DISTINCT l.user_id) "
            "AS listeners, count(l.user_id) AS plays FROM analytics.dim_artist AS a "
            "JOIN analytics.dim_track AS t USING (artist_id) "
            "JOIN analytics.fct_listens AS l USING (track_id) "
            "GROUP BY ALL ORDER BY listeners DESC, a.artist_id",
        )
        tracks = _rows(
            connection,
            "SELECT t.track_id, t.track_name, t.artist_id, t.artist_name, t.album_name, "
            "t.genre, count(DISTINCT l.user_id) AS listeners, count(l.user_id) AS plays "
            "FROM analytics.dim_track AS t JOIN analytics.fct_listens AS l USING (track_id) "
            "GROUP BY ALL ORDER BY listeners DESC, t.track_id",
        )
        days = _rows(
            connection,
            "SELECT strftime(listen_date, '%Y-%m-%d') AS day, count(*) AS listens, "
            "count(DISTINCT user_id) AS listeners FROM analytics.fct_listens "
            "GROUP BY listen_date ORDER BY listen_date",
        )
        top_tracks = _rows(
            connection,
            "SELECT t.artist_id, t.track_id, t.track_name, count(DISTINCT l.user_id) AS "
            "listeners, count(*) AS plays FROM analytics.dim_track AS t "
            "JOIN analytics.fct_listens AS l USING (track_id) "
            "GROUP BY ALL ORDER BY listeners DESC, plays DESC, t.track_id",
        )
    everything = [normalise(g["genre"]) for g in genres]
    everything += [normalise(a["artist_name"]) for a in artists]
    everything += [normalise(t["track_name"]) for t in tracks]
    counts = Counter(everything)
    language = vocabulary()

    def usable(name: str) -> bool:
        """A name a person could type and mean only one thing by, even with a typo."""
        key = normalise(name)
        if INJECTED_ARTIST.lower() in name.lower() or counts[key] != 1:
            return False
        if len(key.replace(" ", "")) < 6 or all(word in language for word in key.split()):
            return False
        misspelt = typo(name)
        near = process.extract(misspelt, everything, scorer=Levenshtein.distance, limit=3)
        return [n for n, distance, _ in near if distance <= 1] == [key]

    for artist in artists:
        artist["top_track"] = next(
            t["track_name"] for t in top_tracks if t["artist_id"] == artist["artist_id"]
        )
    by_name: dict[str, list[dict[str, Any]]] = {}
    for track in tracks:
        if INJECTED_ARTIST.lower() not in (track["artist_name"] or "").lower():
            by_name.setdefault(normalise(track["track_name"]), []).append(track)
    return WorldNames(
        genres=genres[:8],
        artists=[a for a in artists if usable(a["artist_name"])][:12],
        tracks=[
            t
            for t in tracks
            if usable(t["track_name"]) and INJECTED_ARTIST.lower() not in t["artist_name"].lower()
        ][:14],
        namesakes=[group for group in by_name.values() if len(group) > 1][:4],
        users=[str(user) for user in world.interactions.user_ids[:10]],
        days=days,
    )


# -- the questions --------------------------------------------------------------------------
# How people type some genres' names.
GENRE_SPELLINGS = {
    "hip hop": ("hiphop", "hip-hop"),
    "r&b": ("rnb", "r and b"),
    "k-pop": ("kpop", "k pop"),
    "drum and bass": ("drum & bass", "dnb"),
    "indie rock": ("indie-rock",),
}

GENRE_SONGS = [
    ("recommend a good {g} song", 1),
    ("give me 5 {g} tracks", 5),
    ("{g} songs", None),
    ("top {g} tracks", None),
    ("best {g} songs right now", None),
    ("i want to hear some chill {g}", None),
    ("play me an upbeat {g} track", 1),
    ("what are the most popular {g} songs", None),
    ("three {g} songs please", 3),
    ("any good {g} tunes", None),
    ("suggest a nice {g} song for a road trip", 1),
    ("Recommend 4 {g} tracks?", 4),
    ("whats hot in {g}", None),
    ("need some {g} for the gym", None),
    ("i feel like listening to {g}", None),
    ("a sad {g} song", 1),
    ("2 {g} songs", 2),
    ("popular {g} music", None),
    ("got any {g} recommendations", None),
    ("put on a {g} track", 1),
    ("can u suggest six {g} songs", 6),
    ("looking for energetic {g}", None),
    ("good {g} to dance to", None),
    ("whats a good {g} song", 1),
]
ARTIST_TRACKS = [
    "songs by {a}",
    "{a} tracks",
    "what has {a} released",
    "play something by {a}",
    "show me {a} songs",
    "list 3 songs by {a}",
    "what songs does {a} have",
    "best songs of {a}",
    "anything from {a}",
    "music by {a} please",
    "Which tracks did {a} make?",
    "{a} discography",
    "give me the most played tracks by {a}",
    "what did {a} put out",
    "i like {a} what songs do they have",
    "tracks from {a} pls",
    "gimme {a} songs",
]
TRACK_BY_NAME = [
    "find the song {t}",
    "is there a track called {t}",
    "{t} by {a}",
    "look up {t}",
    "who sings {t}",
    "who made {t}",
    "the song {t}",
    "Find the track {t}?",
    "whos the artist of {t}",
    "can you find {t} by {a}",
    "which artist did {t}",
    "do you have {t}",
    "i am looking for the song {t}",
    "whats {t} by {a}",
]
TRACK_METADATA = [
    ("how long is {t}", ("artist",)),
    ("when was {t} released", ("release",)),
    ("is {t} explicit", ("artist",)),
    ("how many people listened to {t}", ("listeners",)),
    ("how many plays does {t} have", ("plays",)),
    ("how danceable is {t}", ("danceability",)),
    ("what album is {t} on", ("album",)),
    ("tell me about the song {t}", ("artist", "listeners")),
    ("details of {t}", ("artist",)),
    ("what genre is the track {t}", ("genre",)),
    ("audio features of {t}", ("energy",)),
    ("tempo of {t}", ("tempo",)),
    ("what year did {t} come out", ("release",)),
    ("how many listeners does the song {t} have", ("listeners",)),
    ("who is the artist behind {t}", ("artist",)),
]
ARTIST_METADATA = [
    ("tell me about {a}", ("top",)),
    ("who is {a}", ("country",)),
    ("where is {a} from", ("country",)),
    ("how many followers does {a} have", ("followers",)),
    ("how many listeners does {a} have", ("listeners",)),
    ("{a} bio", ("country",)),
    ("what genre is {a}", ("genres",)),
    ("top tracks of the artist {a}", ("top",)),
    ("info on {a}", ("listeners",)),
    ("how popular is {a}", ("popularity",)),
    ("how many plays does {a} get", ("plays",)),
    ("Who Is {a}?", ("country",)),
    ("what kind of music does {a} make", ("genres",)),
    ("what country does {a} come from", ("country",)),
    ("{a} most popular songs and stats", ("top",)),
]
RECOMMEND_USER = [
    "recommend tracks for user {u}",
    "what should {u} listen to",
    "recommendations for {u}",
    "{u} needs new music",
    "suggest 5 songs for user {u}",
    "what would {u} like",
    "recommend something for {u}",
    "new music for listener {u}",
    "what might {u} enjoy",
]
RECOMMEND_ME = [
    "recommend something for me",
    "what should i listen to next",
    "songs i might like",
    "suggest me something new",
    "my recommendations",
    "pick some tracks for me",
    "what do you think i would like",
    "surprise me with something i havent heard",
]
RECOMMEND_GENRE = [
    "recommend {g} for {u}",
    "any good {g} for me",
    "{g} recommendations for {u}",
    "some {g} for me please",
    "what {g} should i listen to",
    "personal {g} picks for {u}",
    "suggest 3 {g} tracks for me",
]
SIMILAR_TRACKS = [
    "songs like {t}",
    "something similar to {t}",
    "more like {t}",
    "i loved {t} give me more like it",
    "tracks similar to {t} please",
    "what else sounds like the song {t}",
    "similar songs to {t}",
    "if i like {t} what else would i like",
    "play something like {t}",
    "tracks that go with {t}",
    "Songs similar to {t}?",
    "people who played {t} also played",
    "anything similar to {t} by {a}",
    "more songs like {t} pls",
]
SIMILAR_ARTISTS = [
    "artists like {a}",
    "who sounds like {a}",
    "bands similar to {a}",
    "something similar to {a}",
    "fans of {a} also like",
    "who else is like {a}",
    "similar artists to {a}",
    "if i like {a} who else should i check out",
    "more artists like {a}",
    "Which artists are similar to {a}?",
    "artists that sound like {a}",
    "recommend artists like {a}",
    "other bands like {a}",
    "who is similar to {a}",
]
SEARCH = [
    "search the catalogue for {t} by {a}",
    "search for {t} {a}",
    "search {t} by {a}",
]
FREE_SEARCH = [
    "search for sad acoustic songs",
    "find music for a rainy afternoon",
    "look for songs about summer nights",
    "search the catalogue for dreamy synths",
    "find something with saxophone",
]


def build_questions(world: AgentWorld) -> list[Question]:
    names = world_names(world)
    questions: list[Question] = []
    me = names.users[ME]
    genres = cycle(names.genres)
    forms = _forms()

    def genre_text(genre: str, turn: int) -> str:
        spellings = (genre, *GENRE_SPELLINGS.get(genre, ()))
        return spellings[turn % len(spellings)]

    for turn, (template, k) in enumerate(GENRE_SONGS):
        genre = next(genres)
        questions.append(
            Question(
                "genre songs",
                template.format(g=genre_text(genre["genre"], turn)),
                "top_tracks_for_genre",
                {"genre": genre["genre"], **({"k": k} if k else {})},
                facts=((genre["genre"],),),
                tracks=k or 10,
                min_artists=min(k or 10, genre["artists"]),
            )
        )
    artists = cycle(names.artists)
    for template in ARTIST_TRACKS:
        artist = next(artists)
        k = 3 if "3" in template else None
        questions.append(
            Question(
                "tracks by artist",
                template.format(a=next(forms)(artist["artist_name"])),
                "tracks_by_artist",
                {"artist": artist["artist_id"], **({"k": k} if k else {})},
                facts=((artist["top_track"],),),
            )
        )
    tracks = cycle(names.tracks)
    for template in TRACK_BY_NAME:
        track = next(tracks)
        questions.append(
            Question(
                "track by name",
                template.format(t=next(forms)(track["track_name"]), a=track["artist_name"]),
                "track_metadata",
                {"track_id": track["track_id"]},
                facts=((f"track:{track['track_id']}",), (track["artist_name"],)),
            )
        )
    for template, wanted in TRACK_METADATA:
        track = next(tracks)
        questions.append(
            Question(
                "track metadata",
                template.format(t=next(forms)(track["track_name"])),
                "track_metadata",
                {"track_id": track["track_id"]},
                facts=tuple(_track_fact(track, fact) for fact in wanted),
            )
        )
    for template, wanted in ARTIST_METADATA:
        artist = next(artists)
        questions.append(
            Question(
                "artist metadata",
                template.format(a=next(forms)(artist["artist_name"])),
                "artist_metadata",
                {"artist": artist["artist_id"]},
                facts=((artist["artist_name"],), *(_artist_fact(artist, f) for f in wanted)),
            )
        )
    users = cycle(names.users[1:])
    for template in RECOMMEND_USER:
        user = next(users)
        k = 5 if "5" in template else None
        questions.append(
            Question(
                "recommendations",
                template.format(u=user),
                "recommend_for_user",
                {"user_id": user, **({"k": k} if k else {})},
                facts=(("because you listened to", "popular with listeners like you"),),
                tracks=k or 10,
            )
        )
    for template in RECOMMEND_ME:
        questions.append(
            Question(
                "recommendations",
                template,
                "recommend_for_user",
                {"user_id": me},
                facts=(("because you listened to", "popular with listeners like you"),),
                user_id=me,
            )
        )
    for turn, template in enumerate(RECOMMEND_GENRE):
        user = next(users) if "{u}" in template else me
        genre = next(genres)
        k = 3 if "3" in template else None
        questions.append(
            Question(
                "recommendations",
                template.format(g=genre_text(genre["genre"], turn), u=user),
                "recommend_for_user",
                {"user_id": user, "genre": genre["genre"], **({"k": k} if k else {})},
                facts=((genre["genre"],),),
                user_id=me,
                tracks=k or 10,
            )
        )
    for template in SIMILAR_TRACKS:
        track = next(tracks)
        questions.append(
            Question(
                "similar tracks",
                template.format(t=next(forms)(track["track_name"]), a=track["artist_name"]),
                "similar_tracks",
                {"track_id": track["track_id"]},
                facts=(("listeners of this track also played it", "listeners in"),),
            )
        )
    for template in SIMILAR_ARTISTS:
        artist = next(artists)
        questions.append(
            Question(
                "similar artists",
                template.format(a=next(forms)(artist["artist_name"])),
                "similar_artists",
                {"artist": artist["artist_id"]},
                facts=(("in common",),),
            )
        )
    for template in SEARCH:
        track = next(tracks)
        questions.append(
            Question(
                "search",
                template.format(t=track["track_name"].lower(), a=track["artist_name"].lower()),
                "search_catalogue",
                facts=((f"track:{track['track_id']}",),),
            )
        )
    for text in FREE_SEARCH:
        questions.append(Question("search", text, "search_catalogue"))
    questions.extend(_metric_questions(names))
    questions.extend(_clarifications(names))
    return questions


def _metric_questions(names: WorldNames) -> list[Question]:
    """Counting questions, answered by the governed metrics."""
    day, other_day = names.days[1], names.days[2]
    genre, other_genre = names.genres[0], names.genres[1]

    def on(day: dict[str, Any]) -> str:
        return f"{{{{ TimeDimension('metric_time', 'day') }}}} = '{day['day']}'"

    def of(genre: dict[str, Any]) -> str:
        return f"{{{{ Dimension('track__genre') }}}} = '{genre['genre']}'"

    cases = [
        (f"how many listens were there on {day['day']}", "listens", on(day), day["listens"]),
        (
            f"number of listeners on {other_day['day']}",
            "listeners",
            on(other_day),
            other_day["listeners"],
        ),
        (
            f"how many people listened to {genre['genre']}",
            "listeners",
            of(genre),
            genre["listeners"],
        ),
        (
            f"total plays of {other_genre['genre']} songs",
            "listens",
            of(other_genre),
            other_genre["listens"],
        ),
        (f"how many streams did {genre['genre']} get", "listens", of(genre), genre["listens"]),
        (
            f"listeners of {other_genre['genre']} music",
            "listeners",
            of(other_genre),
            other_genre["listeners"],
        ),
    ]
    questions = [
        Question(
            "metrics",
            text,
            "query_metrics",
            {"metrics": [metric], "where": [where]},
            facts=((f"{metric}: {expected}",),),
        )
        for text, metric, where, expected in cases
    ]
    questions += [
        Question(
            "metrics",
            "listens per day",
            "query_metrics",
            {"metrics": ["listens"], "group_by": ["metric_time__day"]},
            facts=tuple((f"listens: {d['listens']}",) for d in names.days),
        ),
        Question(
            "metrics",
            "daily listeners",
            "query_metrics",
            {"metrics": ["listeners"], "group_by": ["metric_time__day"]},
            facts=tuple((f"listeners: {d['listeners']}",) for d in names.days),
        ),
    ]
    return questions


def _clarifications(names: WorldNames) -> list[Question]:
    """Questions a confident answer would get wrong: namesakes, names beyond a typo, 'me'
    unknown. The answer should offer the choices (or ask back) and call no tool."""
    questions = []
    for template, group in zip(
        ("tell me about the song {t}", "who sings {t}", "songs like {t}", "find the track {t}"),
        cycle(names.namesakes),
        strict=False,
    ):
        questions.append(
            Question(
                "clarification",
                template.format(t=group[0]["track_name"].lower()),
                None,
                choices=tuple(f"track:{track['track_id']}" for track in group),
            )
        )
    # Short names: a long one takes two typos as one name (see lexicon.py).
    short = [a for a in names.artists if len(normalise(a["artist_name"]).replace(" ", "")) < 12]
    for template, artist in zip(
        ("songs by {a}", "tell me about {a}", "artists like {a}", "who is {a}"),
        cycle(short),
        strict=False,
    ):
        questions.append(
            Question(
                "clarification",
                template.format(a=two_typos(artist["artist_name"])),
                None,
                choices=(f"artist:{artist['artist_id']}",),
            )
        )
    for text in ("what should i listen to", "recommend me something good"):
        questions.append(Question("clarification", text, None, facts=(("user id",),)))
    for text in ("tell me a joke", "hello", "what can you do"):
        questions.append(Question("clarification", text, None, facts=(("I can answer",),)))
    # Not a music question, though a track is called "The Weather": no confident answer.
    questions.append(Question("clarification", "what is the weather like in paris", None))
    return questions


def two_typos(name: str) -> str:
    """Past a typo: two letters dropped from a name too short for two to be taken as one."""
    words = normalise(name).split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    words[longest] = word[:1] + word[2:-2] + word[-1:]
    return " ".join(words)


def _track_fact(track: dict[str, Any], fact: str) -> tuple[str, ...]:
    if fact == "listeners":
        return (
            f"listeners (distinct users): {track['listeners']}",
            f"listeners: {track['listeners']}",
        )
    if fact == "plays":
        return (f"plays (listens): {track['plays']}", f"plays: {track['plays']}")
    if fact == "artist":
        return (track["artist_name"],)
    if fact == "album":
        return (track["album_name"],)
    if fact == "genre":
        return (track["genre"],)
    # A field of the track's metadata, labelled as the marts name it.
    return (fact,)


def _artist_fact(artist: dict[str, Any], fact: str) -> tuple[str, ...]:
    if fact == "listeners":
        return (
            f"listeners (distinct users): {artist['listeners']}",
            f"listeners: {artist['listeners']}",
        )
    if fact == "plays":
        return (f"plays (listens): {artist['plays']}", f"plays: {artist['plays']}")
    if fact == "top":
        return (artist["top_track"],)
    if fact == "country":
        return (artist["country_code"],)
    return (fact,)


# -- scoring --------------------------------------------------------------------------------
def _matches(expected: Any, actual: Any, names: dict[str, str]) -> bool:
    wanted = str(expected).strip().casefold()
    given = str(actual).strip().casefold()
    # An artist may be given by id or by name.
    return given == wanted or names.get(given) == wanted


def correct(question: Question, answer: AgentAnswer, artist_names: dict[str, str]) -> bool:
    """The expected tool answered with the expected arguments and the answer states the facts
    (and passes the result's checks); or, for a clarification, no tool answered and the answer
    offers the expected choices."""
    text = answer.answer.casefold()
    facts = all(any(fact.casefold() in text for fact in group) for group in question.facts)
    if question.tool is None:
        offered = all(choice.casefold() in text for choice in question.choices)
        return facts and offered and not any(call.ok for call in answer.tool_calls)
    calls = [
        call
        for call in answer.tool_calls
        if call.ok
        and call.tool == question.tool
        and all(
            _matches(value, call.arguments.get(key), artist_names)
            for key, value in question.arguments.items()
        )
    ]
    if not calls or not facts:
        return False
    tracks = (calls[0].data or {}).get("tracks")
    if question.tracks is not None and (not tracks or len(tracks) != question.tracks):
        return False
    if question.min_artists is not None:
        artists = {track.get("artist_name") for track in tracks or []}
        return len(artists) >= question.min_artists
    return True


def artist_names(world: AgentWorld) -> dict[str, str]:
    """Artist name (casefolded) -> id (casefolded), to accept either as an argument."""
    with open_marts(world.warehouse_path) as connection:
        rows = connection.execute("SELECT artist_id, artist_name FROM analytics.dim_artist")
        return {name.casefold(): artist_id.casefold() for artist_id, name in rows.fetchall()}


def accuracy_by_ask(
    questions: list[Question], results: list[bool]
) -> tuple[float, dict[str, float]]:
    by_ask: dict[str, list[bool]] = {}
    for question, result in zip(questions, results, strict=True):
        by_ask.setdefault(question.ask, []).append(result)
    return float(np.mean(results)), {ask: float(np.mean(r)) for ask, r in by_ask.items()}


# -- the scripted model ---------------------------------------------------------------------
_ASKING = re.compile(r"user id '([^']+)'")


def understanding_model(understander: Understander) -> Callable[..., Any]:
    """A loopback model that reads the question as the rules do (the asking user from the
    system message), calls the tools, then answers by restating their results."""

    def script(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        tool_messages = [m for m in messages if m["role"] == "tool"]
        if tool_messages:
            return "\n\n".join(_restated(json.loads(m["content"])) for m in tool_messages)
        question = next(m["content"] for m in messages if m["role"] == "user")
        asking = next(
            (
                m[1]
                for s in messages
                if s["role"] == "system"
                if (m := _ASKING.search(s["content"]))
            ),
            None,
        )
        understanding = understander.understand(question, asking)
        if understanding.calls:
            return understanding.calls
        reply = understanding.reply or "I cannot answer that with my tools."
        return "\n".join([reply, *understanding.choices])

    return script


def _restated(result: dict[str, Any]) -> str:
    ok = result["status"] == "ok"
    outcome = ToolOutcome(
        tool=result["tool"],
        arguments={},
        data=result["data"] if ok else None,
        refusal=None if ok else result["data"]["reason"],
        rows=0,
        duration_ms=0.0,
    )
    return render_outcome(outcome)
