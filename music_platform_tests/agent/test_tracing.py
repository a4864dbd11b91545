"""Each question is one OpenTelemetry trace after the GenAI conventions, in the JSON-lines file
under the home and at an OTLP collector when one is configured; secrets never reach either."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import polars as pl

from music_platform.lib.agent.loop import Agent
from music_platform.lib.agent.telemetry import AgentTelemetry, otlp_configured
from music_platform.lib.agent.tools import Toolbox
from music_platform_tests.support.agent.eval_set import scripted_model
from music_platform_tests.support.agent.fake_llm import fake_llm
from music_platform_tests.support.agent.world import (
    API_KEY,
    INJECTED_ARTIST,
    AgentWorld,
    agent_settings,
)
from music_platform_tests.support.platform_env import applied


def _spans(toolbox: Toolbox, since: int = 0) -> list[dict[str, Any]]:
    """The spans in the toolbox's trace file, from line `since` on."""
    path = toolbox.settings.agent_spans_path
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()[since:]]


def test_a_question_is_one_trace_of_model_turns_and_tool_calls(
    agent_world: AgentWorld, toolbox: Toolbox
) -> None:
    track = agent_world.catalogue.filter(~pl.col("artist_name").str.contains(INJECTED_ARTIST)).row(
        0, named=True
    )
    question = f"Search the catalogue for {track['track_name']} by {track['artist_name']}"
    # The toolbox is shared with other tests, which may have asked the same question before.
    earlier = len(_spans(toolbox))
    with fake_llm(scripted_model) as llm:
        settings = agent_settings(agent_world, llm_base_url=llm.base_url, llm_model="fake-model")
        answer = Agent.from_settings(settings, toolbox).ask(question)
    (root,) = [
        span
        for span in _spans(toolbox, earlier)
        if span["attributes"].get("music_platform.question") == question
    ]
    trace = [span for span in _spans(toolbox, earlier) if span["trace_id"] == root["trace_id"]]
    assert root["name"] == "invoke_agent music-platform" and root["parent_span_id"] is None
    assert root["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert root["attributes"]["gen_ai.request.model"] == "fake-model"
    assert root["attributes"]["music_platform.answer"] == answer.answer
    turns = [span for span in trace if span["name"] == "chat fake-model"]
    tools = [span for span in trace if span["name"].startswith("execute_tool ")]
    assert len(turns) == len(llm.requests) == 2
    assert [span["attributes"]["gen_ai.tool.name"] for span in tools] == ["search_catalogue"]
    assert {span["parent_span_id"] for span in turns + tools} == {root["span_id"]}
    # The fake model reports one input and one output token a turn.
    assert [span["attributes"]["gen_ai.usage.input_tokens"] for span in turns] == [1, 1]
    assert root["attributes"]["gen_ai.usage.output_tokens"] == 2
    first_turn = json.loads(turns[0]["attributes"]["gen_ai.output.messages"])
    assert first_turn[0]["tool_calls"][0]["name"] == "search_catalogue"
    assert root["duration_ms"] >= max(span["duration_ms"] for span in turns + tools)


def test_secrets_are_masked_in_tool_spans(toolbox: Toolbox) -> None:
    outcome = toolbox.call("sql", {"query": f"SELECT '{API_KEY}' AS leaked"})
    assert outcome.ok
    text = toolbox.settings.agent_spans_path.read_text()
    assert API_KEY not in text
    (span,) = [
        span
        for span in _spans(toolbox)
        if "leaked" in span["attributes"].get("gen_ai.tool.call.arguments", "")
    ]
    assert "***" in span["attributes"]["gen_ai.tool.call.arguments"]


@contextmanager
def _collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A loopback OTLP/HTTP endpoint that keeps what it is sent."""
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_spans_go_to_an_otlp_endpoint_when_one_is_configured() -> None:
    with _collector() as (endpoint, received):
        with applied({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}):
            telemetry = AgentTelemetry(None, secrets=[API_KEY])
        with telemetry.span("invoke_agent music-platform", {"music_platform.question": API_KEY}):
            pass
        telemetry.flush()
    assert [path for path, _ in received] == ["/v1/traces"]
    (_, body), *_ = received
    assert b"invoke_agent music-platform" in body and API_KEY.encode() not in body
    assert b"***" in body


def test_an_endpoint_variable_turns_otlp_on() -> None:
    unset = {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ""}
    with applied(unset):
        assert not otlp_configured()
    with applied({**unset, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318"}):
        assert otlp_configured()
