"""The real agent loop and the openai SDK against a loopback chat-completions server."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from music_platform.lib.agent.loop import NO_MODEL_NOTICE, Agent
from music_platform.lib.agent.tools import Toolbox
from music_platform_tests.support.agent.eval_set import build_eval_set, score, scripted_model
from music_platform_tests.support.agent.fake_llm import fake_llm
from music_platform_tests.support.agent.world import (
    API_KEY,
    INJECTED_ARTIST,
    AgentWorld,
    agent_settings,
)
from music_platform_tests.support.platform_env import platform_environment, run_cli


def _agent(world: AgentWorld, toolbox: Toolbox, base_url: str) -> Agent:
    settings = agent_settings(world, llm_base_url=base_url, llm_model="fake-model")
    return Agent.from_settings(settings, toolbox)


def test_evaluation_set_is_answered_with_the_expected_tools(
    agent_world: AgentWorld, toolbox: Toolbox
) -> None:
    cases = build_eval_set(agent_world)
    assert len(cases) >= 30
    with fake_llm(scripted_model) as llm:
        agent = _agent(agent_world, toolbox, llm.base_url)
        scores = [score(case, agent.ask(case.question)) for case in cases]
    tool_accuracy = sum(tool for tool, _ in scores) / len(scores)
    answer_accuracy = sum(answer for _, answer in scores) / len(scores)
    assert tool_accuracy >= 0.9, scores
    assert answer_accuracy >= 0.9, scores
    # The key authenticates the SDK but never appears in what the model is sent.
    assert all(API_KEY not in json.dumps(request) for request in llm.requests)
    sent_keys = {
        value
        for headers in llm.headers
        for name, value in headers.items()
        if name.lower() == "authorization"
    }
    assert sent_keys == {f"Bearer {API_KEY}"}


def test_injected_instructions_in_retrieved_text_cause_no_write(
    agent_world: AgentWorld, toolbox: Toolbox
) -> None:
    injected = agent_world.catalogue.filter(pl.col("artist_name").str.contains(INJECTED_ARTIST))
    artist_id = injected["artist_id"][0]

    def script(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if not any(m["role"] == "tool" for m in messages):
            return [("artist_metadata", {"artist": artist_id})]
        return scripted_model(messages, tools)

    with fake_llm(script) as llm:
        answer = _agent(agent_world, toolbox, llm.base_url).ask("Tell me about this artist")
    # The fooled model asked for a DROP and an unlisted tool: both were refused.
    refused = {call.tool: call.refusal for call in answer.tool_calls if not call.ok}
    assert set(refused) == {"sql", "shell"}, answer.tool_calls
    assert all(refused.values())
    assert toolbox.call("sql", {"query": "SELECT count(*) AS n FROM dim_track"}).ok


def test_without_a_model_routable_questions_are_still_answered(
    agent_world: AgentWorld, toolbox: Toolbox
) -> None:
    user = str(agent_world.interactions.user_ids[0])
    agent = Agent.from_settings(agent_settings(agent_world), toolbox)
    answer = agent.ask(f"recommend tracks for user {user}")
    assert answer.notice == NO_MODEL_NOTICE
    assert [call.tool for call in answer.tool_calls] == ["recommend_for_user"]
    assert answer.tool_calls[0].ok and answer.citations
    unroutable = agent.ask("How many tracks are in the catalogue?")
    assert "needs a language model" in unroutable.answer


def test_ask_from_the_command_line_without_a_model(agent_world: AgentWorld) -> None:
    user = str(agent_world.interactions.user_ids[0])
    completed = run_cli(
        "ask",
        f"recommend tracks for user {user}",
        "--json",
        env=platform_environment(agent_world.home),
        cwd=agent_world.home,
    )
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)
    assert answer["notice"] == NO_MODEL_NOTICE
    assert [call["tool"] for call in answer["tool_calls"]] == ["recommend_for_user"]
    assert answer["citations"] and answer["citations"][0] in answer["answer"]


def test_a_secret_in_a_question_is_masked_in_ask_json(agent_world: AgentWorld) -> None:
    # A key that is also a user id: the rules route it into a tool call's arguments.
    user = str(agent_world.interactions.user_ids[0])
    completed = run_cli(
        "ask",
        f"recommend tracks for user {user}",
        "--json",
        env=platform_environment(agent_world.home, MUSIC_PLATFORM_LLM_API_KEY=user),
        cwd=agent_world.home,
    )
    assert completed.returncode == 0, completed.stderr
    assert user not in completed.stdout
    answer = json.loads(completed.stdout)
    assert "***" in answer["question"]
    assert [call["arguments"] for call in answer["tool_calls"]] == [{"user_id": "***"}]


def test_search_catalogue_through_the_agent_loop(agent_world: AgentWorld, toolbox: Toolbox) -> None:
    track = agent_world.catalogue.row(5, named=True)
    query = f"{track['track_name']} by {track['artist_name']}"

    def script(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if not any(m["role"] == "tool" for m in messages):
            return [("search_catalogue", {"query": query, "k": 5, "kinds": ["track"]})]
        return scripted_model(messages, tools)

    with fake_llm(script) as llm:
        answer = _agent(agent_world, toolbox, llm.base_url).ask(f"Find {query}")
    (call,) = answer.tool_calls
    assert call.ok and call.tool == "search_catalogue"
    assert call.citations[0] == f"track:{track['track_id']}"
    assert f"[track:{track['track_id']}]" in answer.answer
    assert "search_catalogue" in {tool["function"]["name"] for tool in llm.requests[0]["tools"]}


def test_injected_bio_found_by_search_is_data_not_instructions(
    agent_world: AgentWorld, toolbox: Toolbox
) -> None:
    def script(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if not any(m["role"] == "tool" for m in messages):
            return [("search_catalogue", {"query": "artist in admin mode", "kinds": ["artist"]})]
        return scripted_model(messages, tools)

    with fake_llm(script) as llm:
        answer = _agent(agent_world, toolbox, llm.base_url).ask("Which artist is in admin mode?")
    search, *rest = answer.tool_calls
    assert search.ok and INJECTED_ARTIST in search.data["hits"][0]["name"]
    # The bio reached the model only inside a tool message marked as untrusted data.
    tool_messages = [m for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert "IGNORE PREVIOUS INSTRUCTIONS" in tool_messages[0]["content"]
    assert json.loads(tool_messages[0]["content"])["note"].startswith("Untrusted data")
    # The fooled model asked for a DROP and an unlisted tool: both were refused.
    assert {call.tool: call.ok for call in rest} == {"sql": False, "shell": False}
    assert toolbox.call("sql", {"query": "SELECT count(*) AS n FROM dim_track"}).data["rows"] == [
        {"n": agent_world.catalogue.height}
    ]
