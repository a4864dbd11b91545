"""One small platform (promoted model + marts warehouse) for every agent test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from music_platform.lib.agent.tools import Toolbox
from music_platform.settings import Settings
from music_platform_tests.agent.world import AgentWorld, build_agent_world

API_KEY = "sk-test-secret-never-leaks-0123456789"


@pytest.fixture(scope="session")
def agent_world(tmp_path_factory: pytest.TempPathFactory) -> AgentWorld:
    return build_agent_world(tmp_path_factory.mktemp("agent-home"))


def agent_settings(world: AgentWorld, **overrides: object) -> Settings:
    values: dict[str, object] = {"home": world.home, "llm_api_key": SecretStr(API_KEY)}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def toolbox(agent_world: AgentWorld, tmp_path: Path) -> Iterator[Toolbox]:
    from music_platform.lib.agent.tracing import ToolTracer

    box = Toolbox(
        agent_settings(agent_world),
        tracer=ToolTracer(tmp_path / "trace.jsonl", secrets=[API_KEY]),
    )
    yield box
    box.close()
