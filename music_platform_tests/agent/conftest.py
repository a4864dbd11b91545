"""One small platform (promoted model + marts warehouse) for every agent test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from music_platform.lib.agent.tools import Toolbox
from music_platform_tests.support.agent.world import (
    API_KEY,
    AgentWorld,
    agent_settings,
    build_agent_world,
)


@pytest.fixture(scope="session")
def agent_world(tmp_path_factory: pytest.TempPathFactory) -> AgentWorld:
    return build_agent_world(tmp_path_factory.mktemp("agent-home"))


@pytest.fixture
def toolbox(agent_world: AgentWorld, tmp_path: Path) -> Iterator[Toolbox]:
    from music_platform.lib.agent.tracing import ToolTracer

    box = Toolbox(
        agent_settings(agent_world),
        tracer=ToolTracer(tmp_path / "trace.jsonl", secrets=[API_KEY]),
    )
    yield box
    box.close()
