"""The live service against its own OpenAPI document, with schemathesis: every operation gets
generated valid and invalid requests, and every answer must be documented (status, schema,
content type), never a 500. Bounded: a few examples per operation, no deadline (the machine
is shared), on the loopback service of conftest.py."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.schemas import APIOperation

from music_platform.lib.agent.tools import TOOLS
from music_platform.lib.recommender.service import MAX_RECOMMENDATIONS
from music_platform.serving.request_limits import MAX_BODY_BYTES

settings.register_profile(
    "openapi-contract",
    max_examples=12,
    deadline=None,
    derandomize=True,
    # Negative cases are found by filtering; the service, not generation, is under test.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
CONTRACT = settings.get_profile("openapi-contract")


def _operations(client: httpx.Client) -> list[APIOperation]:
    schema = schemathesis.openapi.from_url(f"{client.base_url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_documented_contract(
    client: httpx.Client, mode: GenerationMode
) -> None:
    operations = _operations(client)
    assert {operation.path for operation in operations} >= {"/ask", "/health"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
            continue  # nothing to get wrong (the health check)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(CONTRACT)
        def keeps_its_contract(case: schemathesis.Case) -> None:
            case.call_and_validate()

        keeps_its_contract()


def _documented(client: httpx.Client, path: str, method: str) -> set[str]:
    return set(client.get("/openapi.json").json()["paths"][path][method]["responses"])


def test_every_status_the_service_returns_is_documented(client: httpx.Client) -> None:
    assert _documented(client, "/tracks/{track_id}/similar", "get") == {
        "200",
        "400",
        "404",
        "413",
        "422",
        "503",
    }
    assert _documented(client, "/ask", "post") == {"200", "413", "422", "503"}


def test_a_large_body_is_refused_with_413_and_never_echoed(client: httpx.Client) -> None:
    huge = "x" * 10_000_000
    too_large = client.post("/ask", json={"question": huge})
    assert too_large.status_code == 413
    assert len(too_large.content) < 200 and str(MAX_BODY_BYTES) in too_large.text
    padded = client.post(
        "/ask",
        content=" " * 5_000_000 + '{"question": "top rock tracks"}' + " " * 5_000_000,
        headers={"content-type": "application/json"},
    )
    assert padded.status_code == 413

    def chunks():
        for _ in range(100):
            yield b" " * 1000

    streamed = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_a_validation_error_never_echoes_the_input(client: httpx.Client) -> None:
    long_question = "q" * (MAX_BODY_BYTES // 2)
    refused = client.post("/ask", json={"question": long_question})
    assert refused.status_code == 422
    assert long_question[:100] not in refused.text and len(refused.content) < 500
    (issue,) = refused.json()["detail"]
    assert issue["loc"] == ["body", "question"] and "2000" in issue["msg"]
    assert set(issue) == {"loc", "msg", "type"}


def test_one_k_limit_over_http_the_agent_and_mcp(client: httpx.Client) -> None:
    parameters = client.get("/openapi.json").json()["paths"]["/tracks/{track_id}/similar"]
    (k,) = [p for p in parameters["get"]["parameters"] if p["name"] == "k"]
    assert k["schema"]["maximum"] == MAX_RECOMMENDATIONS
    # The agent's tools are also the MCP server's: one schema serves both.
    tool_limits = {
        tool.name: tool.arguments.model_json_schema()["properties"]["k"]["maximum"]
        for tool in TOOLS
        if "k" in tool.arguments.model_fields
    }
    assert tool_limits and set(tool_limits.values()) == {MAX_RECOMMENDATIONS}
    over = client.get("/tracks/t1/similar", params={"k": MAX_RECOMMENDATIONS + 1})
    assert over.status_code == 422
