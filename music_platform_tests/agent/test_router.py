"""The rules that route a question to one tool call without a model."""

from __future__ import annotations

import pytest

from music_platform.lib.agent.router import plan


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # An artist named "The ..." keeps its article.
        (
            "Which artists are similar to The Impossible Problems?",
            ("similar_artists", {"artist": "The Impossible Problems"}),
        ),
        ("similar to the artist Muse", ("similar_artists", {"artist": "Muse"})),
        ("Find tracks similar to track abc123", ("similar_tracks", {"track_id": "abc123"})),
        (
            "Search the catalogue for sad acoustic songs",
            ("search_catalogue", {"query": "sad acoustic songs"}),
        ),
        ("find for 'velvet lanterns'?", ("search_catalogue", {"query": "velvet lanterns"})),
        ("How many tracks are there?", None),
    ],
)
def test_questions_route_to_the_right_call(question: str, expected: object) -> None:
    assert plan(question) == expected
