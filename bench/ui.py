"""Dagster UI responsiveness on the platform's code location.

- Cold start: `dagster-webserver` launched until its code location reports LOADED (the moment
  the UI can show the asset graph), best of --starts.
- Asset-graph latency: the GraphQL query behind the lineage view (every asset with its keys,
  dependencies, partitions, checks, freshness and automation), median and p95 over --queries.

Baseline, measured in the same run: the same webserver serving a one-asset code location (start)
and GraphQL's `{ version }` (latency); the ratios are what the platform's graph costs on top.
Runs the `local` environment in a temporary home (SQLite instance, nothing to set up).

    uv run python bench/ui.py [--queries 50] [--starts 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from dagster_scratch import scratch_environment, tiny_workspace
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform_tests.support.dagster_services import GraphQL, wait_for, webserver

LOCATION = "music_platform"
ASSET_GRAPH = """
query {
  assetNodes {
    id
    assetKey { path }
    groupName
    kinds
    isPartitioned
    partitionDefinition { type description }
    dependencyKeys { path }
    dependedByKeys { path }
    automationCondition { label }
    internalFreshnessPolicy { __typename }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
}
"""
VERSION = "query { version }"


def cold_start(workspace: Path, env: dict[str, str], work: Path, location: str) -> float:
    started = time.perf_counter()
    with webserver(env=env, cwd=work, log=work / "webserver.log", workspace=workspace) as (url, _):
        graphql = GraphQL(url)
        wait_for(
            lambda: graphql.location_loaded(location),
            timeout=600,
            interval=0.2,
            what=f"{location} to load",
        )
        return time.perf_counter() - started


def latencies(graphql: GraphQL, query: str, count: int) -> list[float]:
    graphql(query)  # warm: the first answer fills the webserver's caches
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        graphql(query)
        samples.append(time.perf_counter() - started)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=50, help="GraphQL queries per measure")
    parser.add_argument("--starts", type=int, default=1, help="cold starts per code location")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    options = parser.parse_args()

    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as scratch:
        work = Path(scratch)
        env = scratch_environment(work)
        tiny = tiny_workspace(work)
        # Parse dbt once up front: this measures the webserver, not a stale manifest.
        os.environ.update(env)
        from music_platform.lib.dbt_project import prepare_manifest
        from music_platform.settings import get_settings

        prepare_manifest(get_settings())

        platform_start = min(
            cold_start(repo / "workspace.yaml", env, work, LOCATION) for _ in range(options.starts)
        )
        tiny_start = min(cold_start(tiny, env, work, "tiny") for _ in range(options.starts))
        with webserver(env=env, cwd=work, log=work / "webserver.log") as (url, _):
            graphql = GraphQL(url)
            wait_for(lambda: graphql.location_loaded(LOCATION), timeout=600, what="the platform")
            assets = len(graphql(ASSET_GRAPH)["assetNodes"])
            graph = summary(latencies(graphql, ASSET_GRAPH, options.queries))
            version = summary(latencies(graphql, VERSION, options.queries))

    figures = {
        "assets": assets,
        "queries": options.queries,
        "cold_start_s": {"platform": platform_start, "one_asset_baseline": tiny_start},
        "asset_graph_query_ms": {"median": graph["median_ms"], "p95": graph["p95_ms"]},
        "version_query_baseline_ms": {"median": version["median_ms"], "p95": version["p95_ms"]},
        "ratios": {
            "cold_start": platform_start / tiny_start,
            "query_median": graph["median_ms"] / version["median_ms"],
            "query_p95": graph["p95_ms"] / version["p95_ms"],
        },
    }
    table = Table(title=f"Dagster UI: {assets} assets, {options.queries} queries per measure")
    for column in ("measure", "platform", "baseline", "ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row(
        "cold start to loaded location (s)",
        f"{platform_start:.1f}",
        f"{tiny_start:.1f}",
        f"{figures['ratios']['cold_start']:.1f}x",
    )
    table.add_row(
        "asset graph query, median (ms)",
        f"{graph['median_ms']:.1f}",
        f"{version['median_ms']:.1f}",
        f"{figures['ratios']['query_median']:.1f}x",
    )
    table.add_row(
        "asset graph query, p95 (ms)",
        f"{graph['p95_ms']:.1f}",
        f"{version['p95_ms']:.1f}",
        f"{figures['ratios']['query_p95']:.1f}x",
    )
    table.caption = "baseline: one-asset code location (start), `{ version }` query (latency)"
    Console().print(table)
    write_json(options.json, "ui", figures)


if __name__ == "__main__":
    main()
