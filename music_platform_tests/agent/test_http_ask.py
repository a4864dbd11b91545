"""`POST /ask` on the real HTTP service (uvicorn on loopback), with the loopback model."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import polars as pl
import uvicorn

from music_platform.serving.api import create_app
from music_platform_tests.support.agent.eval_set import scripted_model
from music_platform_tests.support.agent.fake_llm import fake_llm
from music_platform_tests.support.agent.world import API_KEY, INJECTED_ARTIST, AgentWorld
from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.platform_env import applied, platform_environment


@contextmanager
def _service(world: AgentWorld) -> Iterator[httpx.Client]:
    port = free_port()
    config = uvicorn.Config(
        create_app(world.models_dir), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_post_ask_answers_with_tools_and_citations(agent_world: AgentWorld) -> None:
    track = agent_world.catalogue.filter(~pl.col("artist_name").str.contains(INJECTED_ARTIST)).row(
        0, named=True
    )
    with fake_llm(scripted_model) as llm:
        environment = platform_environment(
            agent_world.home,
            MUSIC_PLATFORM_LLM_BASE_URL=llm.base_url,
            MUSIC_PLATFORM_LLM_MODEL="fake-model",
            MUSIC_PLATFORM_LLM_API_KEY=API_KEY,
        )
        with applied(environment), _service(agent_world) as http:
            question = f"Search the catalogue for {track['track_name']} by {track['artist_name']}"
            answered = http.post("/ask", json={"question": question})
            empty = http.post("/ask", json={"question": ""})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert [call["tool"] for call in body["tool_calls"]] == ["search_catalogue"]
    assert f"track:{track['track_id']}" in body["citations"]
    assert f"[track:{track['track_id']}]" in body["answer"]
    assert API_KEY not in answered.text
    assert llm.requests, "the model was asked"
    assert empty.status_code == 422
