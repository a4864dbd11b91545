"""Recommendation latency in process and over HTTP under a bounded concurrent load on loopback.

Builds a synthetic world, trains and promotes the project's model in a scratch registry, then
measures: the bare model call (the baseline), the service in process, and the HTTP service
(uvicorn on 127.0.0.1) under N concurrent clients for a fixed number of requests, then the same
service overloaded (--overload times its --limit of requests in progress, in clients): the
latency of the requests it answers, the share it sheds with 503, and /health's latency meanwhile.

    uv run python bench/serving.py [--users 2000 --tracks 20000 --requests 2000 --clients 8]
                                   [--limit 8 --overload 4]
                                   [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import numpy as np
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.defs.recommender.assets import REGISTRY_NAME, project_model
from music_platform.defs.recommender.training import train_and_register
from music_platform.lib.model_registry import ModelRegistry
from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.service import RecommendationService
from music_platform.lib.synthetic import SyntheticConfig
from music_platform_tests.support.service import serve_process
from music_platform_tests.support.synthetic_world import synthetic_world

# The largest limit the settings allow: at the overload's client count, nothing is shed.
NO_SHEDDING = 32


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


def http_load(
    url: str, users: list[str], requests: int, clients: int, max_seconds: float
) -> dict[str, float]:
    """A bounded load: stops after `requests` requests or `max_seconds`, whichever comes first.

    Latency percentiles are of the answered requests (200); shed ones (503) are counted apart,
    and a probe calls /health throughout. Clients retry at once, ignoring Retry-After: the
    worst case."""
    deadline = time.monotonic() + max_seconds
    answered: list[float] = []
    shed: list[float] = []
    health: list[float] = []
    errors = 0
    lock = threading.Lock()
    loading = threading.Event()
    loading.set()

    def client_loop(offset: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(offset, requests, clients):
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                response = http.get(f"/users/{users[i % len(users)]}/recommendations")
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        answered.append(elapsed)
                    elif response.status_code == 503:
                        shed.append(elapsed)
                    else:
                        errors += 1

    def probe_health() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=30) as http:
            while loading.is_set():
                started = time.perf_counter()
                response = http.get("/health")
                health.append(time.perf_counter() - started)
                errors += response.status_code != 200
                time.sleep(0.02)

    prober = threading.Thread(target=probe_health)
    started = time.perf_counter()
    prober.start()
    try:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client_loop, range(clients)))
    finally:
        loading.clear()
        prober.join()
    wall = time.perf_counter() - started
    return {
        **percentiles(answered),
        "requests": len(answered) + len(shed),
        "shed": len(shed),
        "shed_share": len(shed) / max(len(answered) + len(shed), 1),
        "shed_p99_ms": percentiles(shed)["p99_ms"] if shed else 0.0,
        "health_p99_ms": percentiles(health)["p99_ms"] if health else 0.0,
        "errors": errors,
        "requests_per_s": len(answered) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--tracks", type=int, default=20000)
    parser.add_argument("--events-per-day", type=int, default=60000)
    parser.add_argument("--calls", type=int, default=500, help="In-process calls per case.")
    parser.add_argument("--requests", type=int, default=2000, help="HTTP requests per case.")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent HTTP clients.")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="HTTP load time cap.")
    parser.add_argument(
        "--limit", type=int, default=8, help="The service's concurrency limit (load shedding)."
    )
    parser.add_argument(
        "--overload", type=int, default=4, help="Overload: this many times --limit clients."
    )
    parser.add_argument("--json", type=Path, help="Also write the figures here as JSON.")
    args = parser.parse_args()
    overload_clients = args.limit * args.overload

    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        interactions = build_registry(home / "models", args.users, args.tracks, args.events_per_day)
        service = RecommendationService(home / "models")
        loaded = service.current()
        rng = np.random.default_rng(42)
        indices = rng.integers(0, interactions.n_users, args.calls).tolist()
        ids = [str(interactions.user_ids[i]) for i in indices]
        bare = percentiles(timed(lambda i: loaded.model.recommend(i, k=10), indices))
        in_process = percentiles(timed(lambda u: service.for_user(u, k=10), ids))
        load = (ids, args.requests)
        with serve_process(home, max_concurrency=NO_SHEDDING) as url:
            over_http = http_load(url, *load, args.clients, args.max_seconds)
            unshed = http_load(url, *load, overload_clients, args.max_seconds)
        with serve_process(home, max_concurrency=args.limit) as url:
            shedding = http_load(url, *load, overload_clients, args.max_seconds)

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
        "http_overload_without_shedding": {
            **unshed,
            "clients": overload_clients,
            "limit": NO_SHEDDING,
            "p99_ratio_to_http": unshed["p99_ms"] / over_http["p99_ms"],
        },
        "http_overload_shedding": {
            **shedding,
            "clients": overload_clients,
            "limit": args.limit,
            "p99_ratio_to_http": shedding["p99_ms"] / over_http["p99_ms"],
        },
    }
    table = Table(title="recommendation latency (k=10)")
    for column in ("case", "median ms", "p99 ms", "req/s", "shed", "/health p99 ms", "ratio"):
        table.add_column(column, justify="right")
    table.add_row(
        "bare model.recommend (baseline)",
        f"{bare['median_ms']:.2f}",
        f"{bare['p99_ms']:.2f}",
        "-",
        "-",
        "-",
        "1.00",
    )
    table.add_row(
        "service.for_user",
        f"{in_process['median_ms']:.2f}",
        f"{in_process['p99_ms']:.2f}",
        "-",
        "-",
        "-",
        f"{figures['service_in_process']['ratio_to_bare']:.2f}",
    )
    for label, case, ratio in (
        (
            f"HTTP, {args.clients} clients",
            over_http,
            f"{figures['http']['ratio_to_in_process']:.2f} x in-process",
        ),
        (
            f"HTTP, {overload_clients} clients, limit {NO_SHEDDING}",
            unshed,
            f"{unshed['p99_ms'] / over_http['p99_ms']:.2f} x p99 at {args.clients}",
        ),
        (
            f"HTTP, {overload_clients} clients, limit {args.limit}",
            shedding,
            f"{shedding['p99_ms'] / over_http['p99_ms']:.2f} x p99 at {args.clients}",
        ),
    ):
        table.add_row(
            label,
            f"{case['median_ms']:.2f}",
            f"{case['p99_ms']:.2f}",
            f"{case['requests_per_s']:.0f}",
            f"{case['shed_share']:.0%}",
            f"{case['health_p99_ms']:.2f}",
            ratio,
        )
    Console().print(table)
    Console().print(
        "Latencies are of answered requests; shed ones get 503 at once (p99 "
        f"{shedding['shed_p99_ms']:.2f} ms). Errors other than 503: "
        f"{over_http['errors'] + unshed['errors'] + shedding['errors']}."
    )
    write_json(args.json, "serving", figures)


if __name__ == "__main__":
    main()
