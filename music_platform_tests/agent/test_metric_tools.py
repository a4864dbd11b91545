"""The governed metrics as agent tools: listed from the semantic manifest, queried through
MetricFlow's SQL and the SQL guard, answering what the marts say."""

from __future__ import annotations

from pathlib import Path

import pytest

from music_platform.lib.agent.tools import Toolbox
from music_platform.lib.agent.tracing import ToolTracer
from music_platform_tests.support.agent.semantic import parse_semantic_manifest
from music_platform_tests.support.agent.world import AgentWorld, agent_settings


@pytest.fixture(scope="module")
def semantic_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return parse_semantic_manifest(tmp_path_factory.mktemp("semantic"))


@pytest.fixture
def metric_toolbox(agent_world: AgentWorld, semantic_manifest: Path, tmp_path: Path) -> Toolbox:
    box = Toolbox(
        agent_settings(agent_world),
        tracer=ToolTracer(tmp_path / "trace.jsonl"),
        semantic_manifest=semantic_manifest,
    )
    yield box  # type: ignore[misc]
    box.close()


def test_metrics_are_listed_with_their_dimensions(metric_toolbox: Toolbox) -> None:
    outcome = metric_toolbox.call("list_metrics", {})
    assert outcome.ok, outcome.refusal
    metrics = {metric["name"]: metric for metric in outcome.data["metrics"]}
    assert {"listens", "listeners", "minutes_played", "new_listeners"} <= set(metrics)
    assert "track__genre" in metrics["listens"]["dimensions"]


def test_a_metric_query_answers_what_the_marts_say(metric_toolbox: Toolbox) -> None:
    outcome = metric_toolbox.call(
        "query_metrics",
        {
            "metrics": ["listens", "listeners"],
            "group_by": ["track__genre"],
            "order_by": ["-listens"],
            "limit": 3,
        },
    )
    assert outcome.ok, outcome.refusal
    expected = metric_toolbox.read(
        lambda connection: connection.execute(
            "SELECT t.genre, count(*), count(DISTINCT l.user_id) FROM analytics.fct_listens l "
            "JOIN analytics.dim_track t USING (track_id) GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
        ).fetchall()
    )
    rows = [(r["track__genre"], r["listens"], r["listeners"]) for r in outcome.data["rows"]]
    assert rows == [tuple(row) for row in expected]


def test_an_unknown_metric_is_refused_with_its_name(metric_toolbox: Toolbox) -> None:
    outcome = metric_toolbox.call("query_metrics", {"metrics": ["revenue"]})
    assert not outcome.ok and "revenue" in (outcome.refusal or "")


def test_without_a_semantic_manifest_the_tools_say_how_to_build_it(
    agent_world: AgentWorld, tmp_path: Path
) -> None:
    box = Toolbox(
        agent_settings(agent_world),
        tracer=ToolTracer(tmp_path / "trace.jsonl"),
        semantic_manifest=tmp_path / "missing.json",
    )
    outcome = box.call("list_metrics", {})
    assert not outcome.ok and "dbt parse" in (outcome.refusal or "")
