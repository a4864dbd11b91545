"""`music-platform mcp` through the official `mcp` SDK's own client, over stdio and streamable
HTTP: every tool listed and called, under the same SQL guard and tracing as the agent loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import polars as pl
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from music_platform.lib.agent.tools import TOOLS, UNTRUSTED_NOTE
from music_platform_tests.support.agent.world import INJECTED_ARTIST, AgentWorld
from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.platform_env import platform_environment

pytestmark = pytest.mark.slow


def _track(world: AgentWorld) -> dict[str, Any]:
    clean = world.catalogue.filter(~pl.col("artist_name").str.contains(INJECTED_ARTIST))
    return clean.row(1, named=True)


def _tool_calls(world: AgentWorld) -> dict[str, dict[str, Any]]:
    """One valid call per tool, against the agent world's data."""
    track = _track(world)
    heard = str(world.interactions.item_ids[0])
    return {
        "sql": {"query": "SELECT count(*) AS n FROM dim_track"},
        "recommend_for_user": {"user_id": str(world.interactions.user_ids[0]), "k": 3},
        "similar_tracks": {"track_id": heard, "k": 3},
        "similar_artists": {"artist": track["artist_name"], "k": 3},
        "top_tracks_for_genre": {"genre": track["genre"], "k": 3},
        "tracks_by_artist": {"artist": track["artist_name"], "k": 3},
        "track_metadata": {"track_id": track["track_id"]},
        "artist_metadata": {"artist": track["artist_name"]},
        "search_catalogue": {"query": f"{track['track_name']} by {track['artist_name']}", "k": 3},
    }


async def _exercise(session: ClientSession, world: AgentWorld) -> dict[str, Any]:
    await session.initialize()
    listed = await session.list_tools()
    names = {tool.name for tool in listed.tools}
    results: dict[str, Any] = {"listed": names}
    for name, arguments in _tool_calls(world).items():
        result = await session.call_tool(name, arguments)
        assert not result.is_error, (name, result.content)
        marked = json.loads(result.content[0].text)
        # The same marking the agent's tool messages carry: data, not instructions.
        assert marked["note"] == UNTRUSTED_NOTE and marked["tool"] == name, marked
        results[name] = marked["data"]
    escape = await session.call_tool("sql", {"query": "SELECT * FROM read_csv('/etc/passwd')"})
    results["escape"] = (escape.is_error, escape.content[0].text)
    return results


def _check(results: dict[str, Any], world: AgentWorld) -> None:
    assert results["listed"] == {tool.name for tool in TOOLS}
    assert results["sql"]["rows"] == [{"n": world.catalogue.height}]
    assert results["recommend_for_user"]["tracks"]
    track = _track(world)
    assert results["track_metadata"]["track_name"] == track["track_name"]
    assert results["search_catalogue"]["hits"][0]["item_id"] == track["track_id"]
    refused, reason = results["escape"]
    assert refused and "read_csv" in reason.lower()


def _traced(world: AgentWorld, surface: str) -> list[dict[str, Any]]:
    path = world.home / "agent" / "tool_calls.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [record for record in map(json.loads, lines) if record.get("surface") == surface]


def _environment(world: AgentWorld) -> dict[str, str]:
    return {**os.environ, **platform_environment(world.home)}


def test_every_tool_over_stdio(agent_world: AgentWorld, tmp_path: Path) -> None:
    before = len(_traced(agent_world, "mcp-stdio"))
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "music_platform.cli", "mcp"],
        env=_environment(agent_world),
        cwd=str(tmp_path),
    )

    async def run() -> dict[str, Any]:
        async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
            return await _exercise(session, agent_world)

    _check(anyio.run(run), agent_world)
    traced = _traced(agent_world, "mcp-stdio")[before:]
    assert [record["tool"] for record in traced] == [*_tool_calls(agent_world), "sql"]
    assert traced[-1]["refusal"] and "read_csv" in traced[-1]["refusal"].lower()


@contextmanager
def _http_server(world: AgentWorld, cwd: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "music_platform.cli",
            "mcp",
            "--transport",
            "streamable-http",
            "--port",
            str(port),
        ],
        env=_environment(world),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the MCP server did not start in 60 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_every_tool_over_streamable_http(agent_world: AgentWorld, tmp_path: Path) -> None:
    before = len(_traced(agent_world, "mcp-streamable-http"))

    with _http_server(agent_world, tmp_path) as url:

        async def run() -> dict[str, Any]:
            async with (
                streamable_http_client(url) as (read, write),
                ClientSession(read, write) as session,
            ):
                return await _exercise(session, agent_world)

        _check(anyio.run(run), agent_world)
    traced = _traced(agent_world, "mcp-streamable-http")[before:]
    assert len(traced) == len(_tool_calls(agent_world)) + 1
