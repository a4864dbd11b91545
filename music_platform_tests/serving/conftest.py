"""A promoted model in a throwaway registry, and the HTTP service on a loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import polars as pl
import pytest
import uvicorn

from music_platform.defs.recommender.assets import REGISTRY_NAME, project_model
from music_platform.defs.recommender.training import train_and_register
from music_platform.lib.model_registry import ModelRegistry
from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.synthetic_world import synthetic_world
from music_platform.lib.synthetic import SyntheticConfig
from music_platform.serving.api import create_app
from music_platform_tests.fixtures.loopback import free_port

WINDOW = {"first_day": "2026-01-01", "last_day": "2026-01-07", "days": "7"}


def _world() -> tuple[InteractionMatrix, pl.DataFrame]:
    config = SyntheticConfig(seed=3, users=120, artists=40, tracks=400, events_per_day=1500)
    return synthetic_world(config, date(2026, 1, 1), days=7)


@pytest.fixture(scope="session")
def world() -> tuple[InteractionMatrix, pl.DataFrame]:
    return _world()


def promote_model(models_dir: Path, world: tuple[InteractionMatrix, pl.DataFrame]) -> str:
    interactions, catalogue = world
    outcome = train_and_register(
        interactions,
        project_model(catalogue, interactions),
        ModelRegistry(models_dir, REGISTRY_NAME),
        training_window=WINDOW,
        tolerance=0.5,
        catalogue=catalogue,
    )
    assert outcome.promoted
    return outcome.card.version


@pytest.fixture
def models_dir(tmp_path: Path, world: tuple[InteractionMatrix, pl.DataFrame]) -> Path:
    promote_model(tmp_path, world)
    return tmp_path


@pytest.fixture
def client(models_dir: Path) -> Iterator[httpx.Client]:
    """The real service behind uvicorn on loopback, stopped after the test."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(models_dir), host="127.0.0.1", port=port, log_level="warning")
    )
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
