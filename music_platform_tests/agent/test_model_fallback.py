"""A model endpoint that fails is not the end: the rules answer, the answer says the model did
not, and `ask` exits non-zero only when nothing could answer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from music_platform.lib.agent.loop import Agent
from music_platform.lib.agent.tools import Toolbox
from music_platform_tests.support.agent.world import AgentWorld, agent_settings
from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.platform_env import platform_environment, run_cli


@contextmanager
def failing_endpoint(behaviour: str) -> Iterator[str]:
    """A chat-completions endpoint that answers 500, or too slowly to be waited for."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            if behaviour == "slow":
                time.sleep(3)
            body = json.dumps({"error": {"message": "the model is down", "type": "server"}})
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def refused_endpoint() -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}/v1"


ENDPOINTS = {
    "error": lambda: failing_endpoint("error"),
    "timeout": lambda: failing_endpoint("slow"),
    "refused": refused_endpoint,
}


@pytest.mark.parametrize("failure", sorted(ENDPOINTS))
def test_the_rules_answer_when_the_endpoint_fails(
    agent_world: AgentWorld, toolbox: Toolbox, failure: str
) -> None:
    user = str(agent_world.interactions.user_ids[0])
    with ENDPOINTS[failure]() as base_url:
        settings = agent_settings(
            agent_world, llm_base_url=base_url, llm_model="fake-model", llm_timeout_seconds=0.5
        )
        agent = Agent.from_settings(settings, toolbox)
        answer = agent.ask(f"recommend tracks for user {user}")
        unanswerable = agent.ask("how many tracks are in the catalogue")
    assert answer.status == "answered"
    assert answer.answer.startswith("The model endpoint failed")
    assert "the rules answered" in (answer.notice or "")
    assert [call.tool for call in answer.tool_calls] == ["recommend_for_user"]
    assert answer.citations and answer.citations[0] in answer.answer
    assert unanswerable.status == "unanswered" and not unanswerable.tool_calls


def test_ask_exits_non_zero_only_when_nothing_answered(agent_world: AgentWorld) -> None:
    user = str(agent_world.interactions.user_ids[0])
    with failing_endpoint("error") as base_url:
        environment = platform_environment(
            agent_world.home,
            MUSIC_PLATFORM_LLM_BASE_URL=base_url,
            MUSIC_PLATFORM_LLM_MODEL="fake-model",
        )
        answered = run_cli(
            "ask",
            "what should i listen to",
            "--user",
            user,
            "--json",
            env=environment,
            cwd=agent_world.home,
        )
        unanswered = run_cli(
            "ask", "how many tracks are in the catalogue", env=environment, cwd=agent_world.home
        )
    assert answered.returncode == 0, answered.stderr
    body = json.loads(answered.stdout)
    assert body["status"] == "answered"
    assert body["tool_calls"][0]["arguments"]["user_id"] == user
    assert "The model endpoint failed" in body["answer"]
    assert unanswered.returncode == 1
    assert "needs a language model" in unanswered.stdout
