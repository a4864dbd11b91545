"""What every benchmark writes with `--json PATH`: its figures and the machine they came from."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path


def write_json(path: Path | None, benchmark: str, figures: Mapping[str, object]) -> None:
    """Write `figures` to `path` (if given) with the core count and load average of the run."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": benchmark,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        **figures,
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
