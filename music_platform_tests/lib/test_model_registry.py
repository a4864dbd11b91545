"""A model version appears whole or not at all, and a killed writer's draft does not linger."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from music_platform.lib.model_registry import CARD, ModelCard, ModelRegistry


def _card(version: str) -> ModelCard:
    return ModelCard(
        name="recommender",
        version=version,
        kind="Test",
        params={},
        metrics={"ndcg@10": 0.1},
        baseline_metrics={},
        training_window={"first_day": "2026-01-01", "last_day": "2026-01-01"},
    )


def test_a_version_is_hidden_until_published_with_its_card(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    version, draft = registry.new_version()
    (draft / "model.npz").write_bytes(b"weights")
    assert not (registry.folder / version).exists()

    published = registry.publish(_card(version))

    assert published == registry.folder / version
    assert sorted(p.name for p in published.iterdir()) == [CARD, "model.npz"]
    assert [p.name for p in registry.folder.iterdir()] == [version]


def test_a_killed_writers_draft_is_cleared_by_the_next_version_and_a_live_ones_kept(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path, "recommender")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    abandoned = registry.folder / f".20260101T000000000000Z.{dead.stdout.strip()}.draft"
    abandoned.mkdir(parents=True)
    (abandoned / "model.npz").write_bytes(b"half a model")
    live = registry.folder / f".20260101T000000000001Z.{os.getppid()}.draft"
    live.mkdir()

    version, draft = registry.new_version()

    assert not abandoned.exists()
    assert live.exists()
    assert draft.exists()
    registry.discard(version)
    assert not draft.exists()
