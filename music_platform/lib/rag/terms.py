"""The keyword side of retrieval: one tokeniser for documents and queries alike."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Words too common in the documents or the questions to tell items apart.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "artist",
        "artists",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "genre",
        "genres",
        "in",
        "is",
        "it",
        "me",
        "of",
        "on",
        "or",
        "song",
        "songs",
        "some",
        "tag",
        "tags",
        "that",
        "the",
        "their",
        "this",
        "to",
        "track",
        "tracks",
        "with",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")


def terms(text: str) -> list[str]:
    """Lower-cased, accent-free alphanumeric words, stopwords dropped."""
    folded = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return [word for word in _WORD.findall(plain) if word not in STOPWORDS]


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))
