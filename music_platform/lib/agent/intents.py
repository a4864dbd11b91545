"""What a question asks for, read from its wording once the names in it are set aside.

A scikit-learn classifier (TF-IDF over character and word n-grams, then logistic regression)
is trained at start-up, in well under a second, on the labelled phrasings below. The names in
a phrasing are placeholders ({artist}, {genre}, ...), and a question has its recognised names
replaced by the same placeholders before it is classified, so the classifier learns the
wording of each ask and the kinds of names it takes, whatever the names are and wherever they
stand in the sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from music_platform.lib.agent.lexicon import tokens

# What each placeholder becomes in the classifier's input: words no question contains.
PLACEHOLDERS = {
    "genre": "xgenrex",
    "artist": "xartistx",
    "track": "xtrackx",
    "user": "xuserx",
    "n": "xnumberx",
    "day": "xdayx",
}

PHRASINGS: dict[str, list[str]] = {
    "recommend_for_user": [
        "recommend tracks for user {user}",
        "recommendations for {user}",
        "what should {user} listen to",
        "suggest some songs for {user}",
        "recommend something for me",
        "what should i listen to",
        "what should i listen to next",
        "recommend me some music",
        "pick some tracks for me",
        "songs i might like",
        "music for me",
        "give me recommendations",
        "suggest me something new",
        "recommend {n} songs for {user}",
        "recommend {genre} for {user}",
        "{genre} recommendations for {user}",
        "recommend me some {genre}",
        "any {genre} songs for me",
        "{genre} tracks i would like",
        "what {genre} should i listen to",
        "suggest {n} {genre} tracks for me",
        "for me some {genre} please",
        "my recommendations",
        "what would {user} like",
        "tracks for listener {user}",
        "personal picks for {user} in {genre}",
        "recommend something for {user} in genre {genre}",
        "something new for me to hear",
    ],
    "genre_songs": [
        "recommend a {genre} song",
        "recommend a good {genre} song",
        "a {genre} song please",
        "give me a {genre} track",
        "give me {n} {genre} tracks",
        "{n} {genre} songs",
        "top tracks in {genre}",
        "top {genre} tracks",
        "best {genre} songs",
        "most popular {genre} tracks",
        "what are the top tracks in {genre}",
        "what is popular in {genre}",
        "play some {genre}",
        "some {genre} music",
        "i want to hear {genre}",
        "i feel like {genre}",
        "suggest a nice {genre} tune",
        "any good {genre}",
        "{genre} hits",
        "{genre} songs",
        "chill {genre} tracks",
        "the most played {genre} songs",
        "find me an upbeat {genre} song",
        "what should i play at a {genre} party",
        "popular songs in the genre {genre}",
        "{genre} music recommendations",
    ],
    "artist_tracks": [
        "songs by {artist}",
        "tracks by {artist}",
        "show me songs by {artist}",
        "list the tracks of {artist}",
        "what songs does {artist} have",
        "what has {artist} released",
        "{artist} songs",
        "{artist} tracks",
        "music by {artist}",
        "play something by {artist}",
        "what did {artist} sing",
        "{artist} discography",
        "the catalogue of {artist}",
        "best songs of {artist}",
        "most played tracks by {artist}",
        "give me {n} songs by {artist}",
        "which tracks did {artist} make",
        "songs from {artist}",
        "anything from {artist}",
    ],
    "track_info": [
        "tell me about the song {track}",
        "tell me about the track {track}",
        "information about track {track}",
        "give me information about track {track}",
        "find the song {track}",
        "look up the track {track}",
        "who sings {track}",
        "who made {track}",
        "which artist did {track}",
        "how long is {track}",
        "when was {track} released",
        "what year is {track} from",
        "is {track} explicit",
        "what album is {track} on",
        "{track} details",
        "details of the song {track}",
        "how danceable is {track}",
        "the tempo of {track}",
        "how many people listened to {track}",
        "how many plays does {track} have",
        "audio features of {track}",
        "metadata for track {track}",
        "what genre is {track}",
        "the song called {track}",
        "is there a track named {track}",
        "{track} by {artist}",
        "the song {track} by {artist}",
        "find {track} by {artist}",
        "tell me about {track} by {artist}",
    ],
    "artist_info": [
        "tell me about {artist}",
        "tell me about artist {artist}",
        "who is {artist}",
        "information on {artist}",
        "where is {artist} from",
        "what country is {artist} from",
        "how popular is {artist}",
        "how many followers does {artist} have",
        "how many listeners does {artist} have",
        "how many plays does {artist} get",
        "what genre is {artist}",
        "what genres does {artist} play",
        "{artist} bio",
        "biography of {artist}",
        "{artist} info",
        "details about the artist {artist}",
        "metadata for artist {artist}",
        "what are the top tracks of artist {artist}",
        "{artist} profile",
        "about the band {artist}",
        "what kind of music does {artist} make",
    ],
    "similar_tracks": [
        "songs like {track}",
        "tracks similar to {track}",
        "find tracks similar to track {track}",
        "something similar to {track}",
        "more like {track}",
        "what else sounds like {track}",
        "if i like {track} what else",
        "similar songs to {track}",
        "play something like the song {track}",
        "tracks that go with {track}",
        "people who played {track} also played",
        "i loved {track} give me more like it",
    ],
    "similar_artists": [
        "artists like {artist}",
        "which artists are similar to {artist}",
        "similar to {artist}",
        "something similar to {artist}",
        "who sounds like {artist}",
        "bands like {artist}",
        "if i like {artist} who else",
        "fans of {artist} also like",
        "artists similar to the artist {artist}",
        "who else is like {artist}",
        "similar artists to {artist}",
        "more artists like {artist}",
    ],
    "search": [
        "search the catalogue for sad acoustic songs",
        "search for velvet lanterns",
        "find music for a rainy day",
        "look for songs about summer love",
        "search melancholic piano",
        "find something with saxophone",
        "songs that sound like driving at night",
        "music to study to",
        "search the catalogue for dark moody electronic",
        "find artists described as experimental",
        "anything about heartbreak",
        "search tracks mentioning the ocean",
        "search the catalogue for {track} by {artist}",
        "search for {track}",
        "search {artist}",
        "search for {genre} with {artist}",
    ],
    "count": [
        "how many tracks are in the catalogue",
        "how many artists are there",
        "how many listeners does the platform have",
        "how many listens were there yesterday",
        "number of users",
        "how big is the catalogue",
        "count the tracks",
        "which genre has the most tracks",
        "total plays last week",
        "how many songs do you have",
        "how many minutes were played",
        "average completion rate",
        "how many listens were there on {day}",
        "listens per day",
        "how many people listened to {genre}",
        "total plays of {genre} tracks",
        "number of listeners on {day}",
        "listens by genre",
        "daily listeners",
        "how many sessions per week",
        "minutes played on {day} in {genre}",
    ],
    "help": [
        "hello",
        "hi there",
        "what can you do",
        "help",
        "what can i ask",
        "who are you",
        "thanks",
        "what is the weather like",
        "tell me a joke",
        "asdf",
    ],
}

_NUMBER = re.compile(r"^\d{1,3}$")
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "couple": 2,
    "few": 3,
}


# Their phrasings hold content words ("weather", "ocean") that may well be a name.
_FREE_TEXT_INTENTS = {"search", "help"}


def vocabulary() -> set[str]:
    """The words the asks are phrased with: the question language, never a name."""
    words = {
        word
        for intent, texts in PHRASINGS.items()
        if intent not in _FREE_TEXT_INTENTS
        for text in texts
        for word in delexicalise(text).split()
    }
    words |= set(NUMBER_WORDS) | {"a", "an", "the", "please", "me", "my", "i", "some"}
    words |= {"search", "find", "look", "catalogue"}
    return words - set(PLACEHOLDERS.values())


def delexicalise(text: str) -> str:
    """Placeholders in a phrasing as the classifier sees them; numbers as a placeholder too."""
    for name, placeholder in PLACEHOLDERS.items():
        text = text.replace("{" + name + "}", placeholder)
    return " ".join(
        PLACEHOLDERS["n"] if _NUMBER.match(word) or word in NUMBER_WORDS else word
        for word in tokens(text)
    )


@dataclass(frozen=True)
class IntentClassifier:
    pipeline: object

    @classmethod
    def trained(cls) -> IntentClassifier:
        texts = [delexicalise(text) for texts in PHRASINGS.values() for text in texts]
        labels = [intent for intent, texts in PHRASINGS.items() for _ in texts]
        features = FeatureUnion(
            [
                (
                    "chars",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                ),
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ]
        )
        pipeline = make_pipeline(features, LogisticRegression(C=20, max_iter=5000))
        pipeline.fit(texts, labels)
        return cls(pipeline)

    def rank(self, delexicalised: str) -> list[tuple[str, float]]:
        """Every intent with its probability, most likely first."""
        probabilities = self.pipeline.predict_proba([delexicalised])[0]  # type: ignore[attr-defined]
        classes = self.pipeline.classes_  # type: ignore[attr-defined]
        order = np.argsort(-probabilities)
        return [(str(classes[i]), float(probabilities[i])) for i in order]
