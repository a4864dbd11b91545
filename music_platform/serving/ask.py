"""`POST /ask` on the recommendation service: the agent behind the existing HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from music_platform.serving.request_limits import responses
from music_platform.settings import get_settings


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000, description="The question to answer.")
    user_id: str | None = Field(
        None, max_length=200, description="Who asks: the user 'me' stands for."
    )


def add_ask_route(app: FastAPI, models_dir: Path) -> None:
    from music_platform.lib.agent.loop import Agent
    from music_platform.lib.agent.tools import Toolbox

    settings = get_settings()
    toolbox = Toolbox(settings, surface="http", models_dir=models_dir)
    agent = Agent.from_settings(settings, toolbox)
    app_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        # The warehouse connection closes with the service: a DuckDB file held open by a
        # stopped service would keep other readers in the process from opening it.
        async with app_lifespan(app) as state:
            try:
                yield state
            finally:
                toolbox.close()

    app.router.lifespan_context = lifespan

    @app.post("/ask", responses=responses(413, 422, 503))
    def ask(request: AskRequest) -> dict[str, Any]:
        """Answer a question with the agent (tools over the marts and the recommender); the
        answer cites the rows and items it rests on, and lists every tool call."""
        return agent.ask(request.question, user_id=request.user_id).as_json()
