"""Recommendation latency in process and over HTTP under a bounded concurrent load on loopback.

Builds a synthetic world, trains and promotes the project's model in a scratch registry, then
measures: the bare model call (the baseline), the service in process, and the HTTP service
(uvicorn on 127.0.0.1) under N concurrent clients for a fixed number of requests.

    uv run python bench/serving.py [--users 2000 --tracks 20000 --requests 2000 --clients 8]
                                   [--json PATH]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from report import write_json
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from music_platform.defs.recommender.assets import REGISTRY_NAME, project_model
from music_platform.defs.recommender.training import train_and_register
from music_platform.lib.model_registry import ModelRegistry
from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.synthetic_world import synthetic_world
from music_platform.lib.synthetic import SyntheticConfig
from music_platform.serving.api import create_app
from music_platform.serving.recommendations import RecommendationService


def build_registry(folder: Path, users: int, tracks: int, events: int) -> InteractionMatrix:
    config = SyntheticConfig(
        seed=42, users=users, artists=max(tracks // 10, 1), tracks=tracks, events_per_day=events
    )
    interactions, served = synthetic_world(config, date(2026, 1, 1), days=3)
    train_and_register(
        interactions,
        project_model(served, interactions),
        ModelRegistry(folder, REGISTRY_NAME),
        training_window={"first_day": "2026-01-01", "last_day": "2026-01-03", "days": "3"},
        tolerance=1.0,
        catalogue=served,
    )
    return interactions


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
    }


def timed(call, arguments: list) -> list[float]:
    samples = []
    for argument in arguments:
        started = time.perf_counter()
        call(argument)
        samples.append(time.perf_counter() - started)
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_load(
    folder: Path, users: list[str], requests: int, clients: int, max_seconds: float
) -> dict[str, float]:
    """A bounded load: stops after `requests` requests or `max_seconds`, whichever comes first."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(folder), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    deadline = time.monotonic() + max_seconds
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def client_loop(offset: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for i in range(offset, requests, clients):
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                response = http.get(f"/users/{users[i % len(users)]}/recommendations")
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    errors += response.status_code != 200

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client_loop, range(clients)))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    wall = time.perf_counter() - started
    return {
        **percentiles(latencies),
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": len(latencies) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--tracks", type=int, default=20000)
    parser.add_argument("--events-per-day", type=int, default=60000)
    parser.add_argument("--calls", type=int, default=500, help="In-process calls per case.")
    parser.add_argument("--requests", type=int, default=2000, help="HTTP requests in all.")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent HTTP clients.")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="HTTP load time cap.")
    parser.add_argument("--json", type=Path, help="Also write the figures here as JSON.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        interactions = build_registry(folder, args.users, args.tracks, args.events_per_day)
        service = RecommendationService(folder)
        loaded = service.current()
        rng = np.random.default_rng(42)
        indices = rng.integers(0, interactions.n_users, args.calls).tolist()
        ids = [str(interactions.user_ids[i]) for i in indices]
        bare = percentiles(timed(lambda i: loaded.model.recommend(i, k=10), indices))
        in_process = percentiles(timed(lambda u: service.for_user(u, k=10), ids))
        over_http = http_load(folder, ids, args.requests, args.clients, args.max_seconds)

    figures = {
        "world": {
            "users": interactions.n_users,
            "tracks": interactions.n_items,
            "interactions": interactions.nnz,
        },
        "bare_model": bare,
        "service_in_process": {
            **in_process,
            "ratio_to_bare": in_process["median_ms"] / bare["median_ms"],
        },
        "http": {
            **over_http,
            "clients": args.clients,
            "ratio_to_in_process": over_http["median_ms"] / in_process["median_ms"],
        },
    }
    table = Table(title="recommendation latency (k=10)")
    for column in ("case", "median ms", "p99 ms", "req/s", "ratio"):
        table.add_column(column, justify="right")
    table.add_row(
        "bare model.recommend (baseline)",
        f"{bare['median_ms']:.2f}",
        f"{bare['p99_ms']:.2f}",
        "-",
        "1.00",
    )
    table.add_row(
        "service.for_user",
        f"{in_process['median_ms']:.2f}",
        f"{in_process['p99_ms']:.2f}",
        "-",
        f"{figures['service_in_process']['ratio_to_bare']:.2f}",
    )
    table.add_row(
        f"HTTP, {args.clients} clients",
        f"{over_http['median_ms']:.2f}",
        f"{over_http['p99_ms']:.2f}",
        f"{over_http['requests_per_s']:.0f}",
        f"{figures['http']['ratio_to_in_process']:.2f} x in-process",
    )
    Console().print(table)
    write_json(args.json, "serving", figures)


if __name__ == "__main__":
    main()
