"""Loading the code location imports only what defining the assets needs: the heavy clients and
numeric libraries load in the steps that use them, so the UI, daemon and every run start fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from music_platform_tests.support.platform_env import platform_environment

# Each costs a noticeable share of a second or more to import and is used by a step, not by the
# asset definitions. (The table contracts name their column types without polars, which their
# `columns` build the first time a step needs them.)
DEFERRED = (
    "polars",
    "pyarrow",
    "numpy",
    "duckdb",
    "psycopg",
    "scipy",
    "sklearn",
    "spotipy",
    "fastapi",
    "uvicorn",
    "confluent_kafka",
    "onnxruntime",
    "openai",
)
PROBE = (
    "import json, sys\n"
    "import music_platform.definitions as location\n"
    "location.defs()\n"
    f"print(json.dumps(sorted(m for m in {DEFERRED!r} if m in sys.modules)))\n"
)


def test_loading_the_definitions_leaves_heavy_modules_unimported(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **platform_environment(tmp_path / "home")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    imported = json.loads(completed.stdout.strip().splitlines()[-1])
    assert imported == [], f"imported while loading the definitions: {imported}"
