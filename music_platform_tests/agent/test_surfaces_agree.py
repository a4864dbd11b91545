"""`POST /ask`, `music-platform ask` and the MCP tools give the same answers to the same
questions (without a model: the rules read them)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from music_platform_tests.agent.test_http_ask import _service
from music_platform_tests.support.agent.questions import typo, world_names
from music_platform_tests.support.agent.world import AgentWorld
from music_platform_tests.support.platform_env import applied, platform_environment, run_cli

pytestmark = pytest.mark.slow


def _questions(world: AgentWorld) -> list[tuple[str, str | None]]:
    names = world_names(world)
    artist, track, genre = names.artists[0], names.tracks[0], names.genres[0]
    me = names.users[0]
    return [
        (f"3 good {genre['genre']} songs", None),
        (f"tell me about {typo(artist['artist_name'])}", None),
        (f"how many people listened to {track['track_name'].lower()}", None),
        ("recommend something for me", me),
        (f"songs like {track['track_name'].lower()}", None),
    ]


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "answer": answer["answer"],
        "status": answer["status"],
        "citations": answer["citations"],
        "calls": [(call["tool"], call["arguments"]) for call in answer["tool_calls"]],
    }


async def _mcp_results(world: AgentWorld, cwd: Path, calls: list[tuple[str, dict]]) -> list[Any]:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "music_platform.cli", "mcp"],
        env={**os.environ, **platform_environment(world.home)},
        cwd=str(cwd),
    )
    results = []
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for name, arguments in calls:
            result = await session.call_tool(name, arguments)
            assert not result.is_error, (name, result.content)
            # MCP results come marked as untrusted data, like the agent's tool messages.
            results.append(json.loads(result.content[0].text)["data"])
    return results


def _cited(data: dict[str, Any]) -> set[str]:
    """The items a tool's result holds, as the answers cite them."""
    found = {
        f"track:{row['track_id']}" if "track_id" in row else f"artist:{row['artist_id']}"
        for key in ("tracks", "artists", "top_tracks")
        for row in data.get(key) or []
    }
    if "tracks" not in data and "artists" not in data:
        # One track's or one artist's facts.
        kind = "track" if "track_name" in data else "artist"
        found.add(f"{kind}:{data[f'{kind}_id']}")
    return found


def test_http_cli_and_mcp_agree(agent_world: AgentWorld, tmp_path: Path) -> None:
    questions = _questions(agent_world)
    environment = platform_environment(agent_world.home)
    with applied(environment), _service(agent_world) as http:
        over_http = [
            http.post("/ask", json={"question": question, "user_id": user}).json()
            for question, user in questions
        ]
    from_cli = []
    for question, user in questions:
        arguments = ["ask", question, "--json", *(["--user", user] if user else [])]
        completed = run_cli(*arguments, env=environment, cwd=tmp_path)
        assert completed.returncode == 0, completed.stderr
        from_cli.append(json.loads(completed.stdout))
    assert [_comparable(a) for a in over_http] == [_comparable(a) for a in from_cli]
    assert all(answer["status"] == "answered" for answer in over_http), over_http
    # Each answer's tool call, made over MCP, returns what the answer cites.
    calls = [(a["tool_calls"][0]["tool"], a["tool_calls"][0]["arguments"]) for a in over_http]
    over_mcp = anyio.run(_mcp_results, agent_world, tmp_path, calls)
    for answer, data in zip(over_http, over_mcp, strict=True):
        assert set(answer["citations"]) == _cited(data), answer["question"]
