"""Questions read without a model: names found however they are typed, the ask picked by its
wording, and a clarification where a confident answer would be a guess."""

from __future__ import annotations

import polars as pl
import pytest

from music_platform.lib.agent.lexicon import Entity, Lexicon, normalise
from music_platform.lib.agent.tools import Toolbox
from music_platform.lib.agent.understanding import Understander
from music_platform_tests.support.agent.questions import WorldNames, two_typos, typo, world_names
from music_platform_tests.support.agent.world import INJECTED_ARTIST, AgentWorld


@pytest.fixture(scope="module")
def understander(agent_world: AgentWorld) -> Understander:
    from music_platform.lib.agent.sql_guard import open_marts

    with open_marts(agent_world.warehouse_path) as connection:
        return Understander.from_warehouse(connection)


@pytest.fixture(scope="module")
def names(agent_world: AgentWorld) -> WorldNames:
    return world_names(agent_world)


def test_names_are_normalised_for_case_accents_and_punctuation() -> None:
    assert normalise("Dörte  Reuter!") == "dorte reuter"
    assert normalise("R&B") == "r and b"
    assert normalise("K-Pop") == "k pop"
    # Hangul survives: its syllables are recomposed after accents are dropped.
    assert normalise("최경자") == "최경자"


def test_a_name_is_found_with_a_typo_but_a_short_one_only_exactly() -> None:
    lexicon = Lexicon(
        [
            Entity("artist", "a1", "Nadia Osorio"),
            Entity("genre", "pop", "pop"),
            Entity("track", "t1", "Pop Song"),
        ],
        vocabulary={"songs", "by", "top", "song"},
    )
    (typo,) = lexicon.find("songs by NADIA OSORO")
    assert typo.entities[0].entity_id == "a1" and typo.distance == 1
    # "top" is one letter from "pop" but too short to be taken for it.
    assert lexicon.find("top songs") == []
    # "pop songs" is the genre and a word of the question, not the track "Pop Song" misspelt.
    (genre,) = lexicon.find("pop songs")
    assert genre.kinds == {"genre"}


def test_an_adjective_before_a_genre_is_not_part_of_it(understander: Understander) -> None:
    reading = understander.understand("recommend a good pop song")
    assert reading.calls == [("top_tracks_for_genre", {"genre": "pop", "k": 1})]


def test_for_me_is_the_asking_user_not_a_user_called_me(understander: Understander) -> None:
    reading = understander.understand("recommend something for me", asking_user="u000007")
    assert reading.calls == [("recommend_for_user", {"user_id": "u000007"})]
    unknown = understander.understand("recommend something for me")
    assert not unknown.calls and unknown.clarifying and "user id" in (unknown.reply or "")


def test_similar_to_a_track_name_is_the_track(
    names: WorldNames, understander: Understander
) -> None:
    for track in names.tracks[:3]:
        reading = understander.understand(f"something similar to {track['track_name'].lower()}")
        assert reading.calls == [("similar_tracks", {"track_id": track["track_id"]})]


def test_an_accent_dropped_and_a_letter_missing_find_the_artist(
    agent_world: AgentWorld, understander: Understander
) -> None:
    accented = agent_world.catalogue.filter(
        ~pl.col("artist_name").str.contains(INJECTED_ARTIST)
        & (
            pl.col("artist_name").str.to_lowercase()
            != pl.col("artist_name").map_elements(normalise, return_dtype=pl.String)
        )
        & pl.col("artist_name").map_elements(
            lambda n: normalise(n).isascii(), return_dtype=pl.Boolean
        )
    ).row(0, named=True)
    for question in (
        f"tell me about {normalise(accented['artist_name'])}",
        f"who is {typo(accented['artist_name']).title()}",
    ):
        reading = understander.understand(question)
        assert reading.calls == [("artist_metadata", {"artist": accented["artist_id"]})], question


def test_namesakes_are_offered_not_guessed(names: WorldNames, understander: Understander) -> None:
    namesakes = names.namesakes[0]
    reading = understander.understand(f"tell me about the song {namesakes[0]['track_name']}")
    assert not reading.calls and reading.clarifying
    assert all(any(t["track_id"] in choice for choice in reading.choices) for t in namesakes)
    # The artist named beside it tells them apart.
    chosen = namesakes[1]
    by_artist = understander.understand(
        f"{chosen['track_name'].lower()} by {chosen['artist_name']}"
    )
    assert by_artist.calls == [("track_metadata", {"track_id": chosen["track_id"]})]


def test_a_name_past_a_typo_gets_did_you_mean(
    names: WorldNames, understander: Understander
) -> None:
    artist = next(
        a for a in names.artists if len(normalise(a["artist_name"]).replace(" ", "")) < 12
    )
    reading = understander.understand(f"songs by {two_typos(artist['artist_name'])}")
    assert not reading.calls
    assert any(artist["artist_id"] in choice for choice in reading.choices)


def test_what_cannot_be_answered_says_what_can(understander: Understander) -> None:
    counting = understander.understand("how many tracks are in the catalogue")
    assert counting.needs_model and "needs a language model" in (counting.reply or "")
    nonsense = understander.understand("what is the weather like in paris")
    assert not nonsense.calls


def test_the_rules_answer_through_the_toolbox(toolbox: Toolbox, agent_world: AgentWorld) -> None:
    from music_platform.lib.agent.router import route

    understander = toolbox.read(Understander.from_warehouse)
    routed = route("5 hip hop songs", toolbox, understander)
    (outcome,) = routed.outcomes
    tracks = outcome.data["tracks"] if outcome.data else []
    assert routed.status == "answered" and len(tracks) == 5
    # Varied across artists: no artist twice while the genre has five of them.
    assert len({track["artist_name"] for track in tracks}) == 5
    assert all(track["reason"] for track in tracks)
