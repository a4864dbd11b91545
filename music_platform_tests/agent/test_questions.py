"""The evaluation: plainly typed questions across the asks, answered right with and without a
model, and never a confident answer where a clarification is due."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from music_platform.lib.agent.loop import Agent
from music_platform.lib.agent.tools import Toolbox
from music_platform.lib.agent.tracing import ToolTracer
from music_platform.lib.agent.understanding import Understander
from music_platform_tests.support.agent.fake_llm import fake_llm
from music_platform_tests.support.agent.questions import (
    ASKS,
    Question,
    accuracy_by_ask,
    artist_names,
    build_questions,
    correct,
    understanding_model,
)
from music_platform_tests.support.agent.semantic import parse_semantic_manifest
from music_platform_tests.support.agent.world import AgentWorld, agent_settings

# Reached on the agent world: 0.982 without a model and with the scripted model (164 of 167).
# Never below the 95%.
NO_MODEL_FLOOR = 0.98
SCRIPTED_MODEL_FLOOR = 0.98


@pytest.fixture(scope="module")
def questions(agent_world: AgentWorld) -> list[Question]:
    return build_questions(agent_world)


@pytest.fixture
def toolbox(
    agent_world: AgentWorld, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> Iterator[Toolbox]:
    """The toolbox with the governed metrics, which the counting questions go to."""
    box = Toolbox(
        agent_settings(agent_world),
        tracer=ToolTracer(tmp_path / "trace.jsonl"),
        semantic_manifest=parse_semantic_manifest(tmp_path_factory.mktemp("semantic")),
    )
    yield box
    box.close()


def _accuracy(
    agent: Agent, questions: list[Question], world: AgentWorld
) -> tuple[float, dict[str, float], list[Question]]:
    names = artist_names(world)
    results = [correct(q, agent.ask(q.text, user_id=q.user_id), names) for q in questions]
    overall, by_ask = accuracy_by_ask(questions, results)
    return overall, by_ask, [q for q, ok in zip(questions, results, strict=True) if not ok]


def test_the_questions_cover_every_ask_as_people_type(questions: list[Question]) -> None:
    assert len(questions) >= 150
    per_ask = Counter(question.ask for question in questions)
    assert set(per_ask) == set(ASKS) and min(per_ask.values()) >= 5, per_ask
    texts = [question.text for question in questions]
    assert sum(text == text.lower() for text in texts) >= 0.8 * len(texts)
    assert sum(not text.endswith("?") for text in texts) >= 0.9 * len(texts)
    assert sum(" for me" in text or " i " in f" {text} " for text in texts) >= 10
    # Two names in one question: a genre and a user, a track and its artist.
    assert sum(" by " in text or " for u" in text for text in texts) >= 10


def test_without_a_model_the_questions_are_answered_right(
    agent_world: AgentWorld, toolbox: Toolbox, questions: list[Question]
) -> None:
    agent = Agent.from_settings(agent_settings(agent_world), toolbox)
    overall, by_ask, wrong = _accuracy(agent, questions, agent_world)
    assert overall >= NO_MODEL_FLOOR, (by_ask, [q.text for q in wrong])
    # A clarification due is never replaced by a confident answer.
    assert by_ask["clarification"] == 1.0, [q.text for q in wrong]


def test_with_the_scripted_model_the_questions_are_answered_right(
    agent_world: AgentWorld, toolbox: Toolbox, questions: list[Question]
) -> None:
    understander = toolbox.read(Understander.from_warehouse)
    with fake_llm(understanding_model(understander)) as llm:
        settings = agent_settings(agent_world, llm_base_url=llm.base_url, llm_model="fake-model")
        agent = Agent.from_settings(settings, toolbox)
        overall, by_ask, wrong = _accuracy(agent, questions, agent_world)
    assert overall >= SCRIPTED_MODEL_FLOOR, (by_ask, [q.text for q in wrong])
    assert len(llm.requests) >= len(questions)
