"""A file-based model registry: versioned artefacts and a pointer to the promoted one.

Layout under `<home>/models/<name>/`: one folder per version holding the artefact and its
`card.json` (training window, hyperparameters, metrics), and `promoted.json` naming the version
serving uses. Promotion replaces the pointer atomically, so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from music_platform.lib.fault_points import REGISTRY_BEFORE_PROMOTE, pause_point

PROMOTED = "promoted.json"
CARD = "card.json"


@dataclass(frozen=True)
class ModelCard:
    """What a model version is: enough to reproduce, compare and explain it."""

    name: str
    version: str
    kind: str
    params: dict[str, Any]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    training_window: dict[str, str]
    trained_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    artefact: str = "model.npz"

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        return cls(**json.loads(path.read_text()))


class ModelRegistry:
    def __init__(self, root: Path, name: str) -> None:
        self.folder = root / name
        self.name = name

    def new_version(self) -> tuple[str, Path]:
        version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / version
        path.mkdir(parents=True, exist_ok=False)
        return version, path

    def save_card(self, card: ModelCard) -> Path:
        path = self.folder / card.version / CARD
        path.write_text(json.dumps(asdict(card), indent=2, sort_keys=True))
        return path

    def promote(self, version: str) -> None:
        pointer = self.folder / PROMOTED
        temporary = pointer.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"version": version}))
        pause_point(REGISTRY_BEFORE_PROMOTE)
        temporary.replace(pointer)

    def promoted(self) -> ModelCard | None:
        pointer = self.folder / PROMOTED
        if not pointer.exists():
            return None
        version = json.loads(pointer.read_text())["version"]
        return ModelCard.read(self.folder / version / CARD)

    def artefact_path(self, card: ModelCard) -> Path:
        return self.folder / card.version / card.artefact
