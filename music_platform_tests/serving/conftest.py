"""A promoted model in a throwaway registry, and the HTTP service on a loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest
import uvicorn

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.serving.api import create_app
from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.platform_env import applied, platform_environment
from music_platform_tests.support.synthetic_world import promote_model, serving_world


@pytest.fixture(scope="session")
def world() -> tuple[InteractionMatrix, pl.DataFrame]:
    return serving_world()


@pytest.fixture
def models_dir(tmp_path: Path, world: tuple[InteractionMatrix, pl.DataFrame]) -> Path:
    promote_model(tmp_path, world)
    return tmp_path


@pytest.fixture
def client(models_dir: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    """The real service behind uvicorn on loopback, stopped after the test; `POST /ask` (the
    agent, without a model or a warehouse here) keeps its traces in a throwaway home."""
    port = free_port()
    with applied(platform_environment(tmp_path / "home")):
        app = create_app(models_dir)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the recommendation service did not start")
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10)
