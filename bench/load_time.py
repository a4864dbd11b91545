"""How long the platform's code location takes to load, and `music-platform dev` to be usable.

- Code location load: a fresh interpreter importing `music_platform.definitions` and building
  its Definitions, beside a bare `import dagster` (the floor every code location pays), both
  run alternately --repeats times in the same run; the median of each and their ratio.
- What remains: the heaviest top-level packages in `python -X importtime` of the definitions.
- `music-platform dev` cold start: from launch until the UI reports the code location LOADED,
  beside `dagster dev` on a one-asset file; best of --starts.

Runs the `local` environment in a temporary home (SQLite instance, nothing to set up).

    uv run python bench/load_time.py [--repeats 5] [--starts 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dagster_scratch import scratch_environment, tiny_workspace
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform_tests.support.dagster_services import (
    GraphQL,
    start_process,
    stop_process_group,
    wait_for,
)
from music_platform_tests.support.loopback import free_port

LOAD_DEFINITIONS = "import music_platform.definitions as d; d.defs()"
BARE_DAGSTER = "import dagster"


def python_seconds(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.perf_counter() - started


def heaviest_imports(env: dict[str, str], count: int) -> list[tuple[str, float]]:
    """Top-level packages by cumulative import time (s), each where it is first imported."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", LOAD_DEFINITIONS],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    packages: dict[str, float] = {}
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|", 2)
        module = name.strip()
        if "." not in module and not module.startswith("_"):
            packages.setdefault(module, int(cumulative) / 1e6)
    return sorted(packages.items(), key=lambda item: item[1], reverse=True)[:count]


def dev_cold_start(
    command: Callable[[str], list[str]], env: dict[str, str], work: Path, location: str
) -> float:
    """Seconds from launching `command(port)` until its UI reports `location` LOADED."""
    port = free_port()
    started = time.perf_counter()
    process = start_process(command(str(port)), env=env, cwd=work, log=work / "dev.log")
    try:
        graphql = GraphQL(f"http://127.0.0.1:{port}")
        wait_for(
            lambda: graphql.location_loaded(location),
            timeout=600,
            interval=0.2,
            what=f"{location} to load",
        )
        return time.perf_counter() - started
    finally:
        stop_process_group(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="loads of each, alternating")
    parser.add_argument("--starts", type=int, default=1, help="cold starts of each dev server")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
        work = Path(scratch)
        env = scratch_environment(work)
        # Parse dbt once up front: this measures loading, not a stale manifest.
        subprocess.run([sys.executable, "-m", "music_platform.cli", "prepare"], env=env, check=True)
        python_seconds(LOAD_DEFINITIONS, env)  # warm the OS file cache for both
        definitions, bare = [], []
        for _ in range(options.repeats):
            definitions.append(python_seconds(LOAD_DEFINITIONS, env))
            bare.append(python_seconds(BARE_DAGSTER, env))
        remaining = heaviest_imports(env, 12)

        tiny = tiny_workspace(work)
        dagster_bin = str(Path(sys.executable).with_name("dagster"))
        platform_dev = min(
            dev_cold_start(
                lambda port: [sys.executable, "-m", "music_platform.cli", "dev", "--port", port],
                env,
                work,
                "music_platform",
            )
            for _ in range(options.starts)
        )
        tiny_dev = min(
            dev_cold_start(
                lambda port: [dagster_bin, "dev", "-w", str(tiny), "-p", port],
                env,
                work,
                "tiny",
            )
            for _ in range(options.starts)
        )

    load, floor = statistics.median(definitions), statistics.median(bare)
    figures = {
        "repeats": options.repeats,
        "code_location_load_s": {"definitions": load, "bare_import_dagster": floor},
        "dev_cold_start_s": {"platform": platform_dev, "one_asset_baseline": tiny_dev},
        "heaviest_imports_s": dict(remaining),
        "ratios": {"code_location_load": load / floor, "dev_cold_start": platform_dev / tiny_dev},
    }
    table = Table(title=f"code location load and dev cold start (median of {options.repeats})")
    for column in ("measure", "platform", "baseline", "ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row(
        "load definitions vs `import dagster` (s)",
        f"{load:.2f}",
        f"{floor:.2f}",
        f"{load / floor:.1f}x",
    )
    table.add_row(
        "`music-platform dev` to loaded vs one-asset `dagster dev` (s)",
        f"{platform_dev:.1f}",
        f"{tiny_dev:.1f}",
        f"{platform_dev / tiny_dev:.1f}x",
    )
    Console().print(table)
    imports = Table(title="heaviest top-level imports of the definitions (-X importtime)")
    imports.add_column("package")
    imports.add_column("cumulative (s)", justify="right")
    for package, seconds in remaining:
        imports.add_row(package, f"{seconds:.2f}")
    Console().print(imports)
    write_json(options.json, "load_time", figures)


if __name__ == "__main__":
    main()
