"""A file-based model registry: versioned artefacts and a pointer to the promoted one.

Layout under `<home>/models/<name>/`: one folder per version holding the artefact and its
`card.json` (training window, hyperparameters, metrics, the gate's comparisons), and
`promoted.json` naming the version serving uses. A version is written into a hidden draft
folder and renamed into place with its card, and promotion replaces the pointer atomically, so a
reader never sees half of either. A draft left by a failed write is removed at once; one left by
a killed process, by the next draft.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from music_platform.lib.fault_points import REGISTRY_BEFORE_PROMOTE, pause_point
from music_platform.lib.processes import process_exists

PROMOTED = "promoted.json"
CARD = "card.json"
DRAFT_SUFFIX = ".draft"


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
    # Per comparison (e.g. "popularity"): its figures as numbers, its decision and reason as text.
    # Cards written before the gate recorded them have none.
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
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
        """A new version and the draft folder to write its files into; `publish` makes it real."""
        self._remove_abandoned_drafts()
        version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self._draft(version)
        path.mkdir(parents=True, exist_ok=False)
        return version, path

    def publish(self, card: ModelCard) -> Path:
        """Write the card into the version's draft and move the draft into place in one rename,
        so every version folder holds its artefact and card."""
        draft = self._draft(card.version)
        (draft / CARD).write_text(json.dumps(asdict(card), indent=2, sort_keys=True))
        return draft.rename(self.folder / card.version)

    def discard(self, version: str) -> None:
        """Remove a version's draft after a failed write (a full disk, say)."""
        shutil.rmtree(self._draft(version), ignore_errors=True)

    def _draft(self, version: str) -> Path:
        return self.folder / f".{version}.{os.getpid()}{DRAFT_SUFFIX}"

    def _remove_abandoned_drafts(self) -> None:
        for draft in self.folder.glob(f".*{DRAFT_SUFFIX}"):
            pid = int(draft.name.removesuffix(DRAFT_SUFFIX).rsplit(".", 1)[1])
            if not process_exists(pid):
                shutil.rmtree(draft, ignore_errors=True)

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
