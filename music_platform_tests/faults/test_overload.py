"""The HTTP service under a bounded overload on loopback: past its concurrency limit it sheds
requests with 503 and Retry-After, serves the rest, and keeps answering its health check.

`music-platform serve` runs in a process of its own with MUSIC_PLATFORM_SERVE_MAX_CONCURRENCY=2,
then four times as many clients as it takes send a fixed number of requests (capped in time
too). Latency under overload is a benchmark figure (bench/serving.py), not asserted here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from music_platform_tests.support.service import serve_process
from music_platform_tests.support.synthetic_world import promote_model, serving_world

pytestmark = pytest.mark.slow

LIMIT = 2
CLIENTS = 4 * LIMIT
REQUESTS_PER_CLIENT = 60
MAX_SECONDS = 60
USERS = [f"u{n:06d}" for n in range(1, 121)]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("serving-home")
    promote_model(home / "models", serving_world())
    with serve_process(home, max_concurrency=LIMIT) as url:
        yield url


def test_overload_is_shed_with_503_while_health_keeps_answering(service: str) -> None:
    deadline = time.monotonic() + MAX_SECONDS
    statuses: Counter[int] = Counter()
    refusals: list[httpx.Response] = []
    health: Counter[int] = Counter()
    lock = threading.Lock()
    loading = threading.Event()
    loading.set()

    def client(offset: int) -> None:
        with httpx.Client(base_url=service, timeout=30) as http:
            for n in range(REQUESTS_PER_CLIENT):
                if time.monotonic() > deadline:
                    return
                user = USERS[(offset * REQUESTS_PER_CLIENT + n) % len(USERS)]
                response = http.get(f"/users/{user}/recommendations", params={"k": 50})
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 503:
                        refusals.append(response)

    def probe_health() -> None:
        with httpx.Client(base_url=service, timeout=5) as http:
            while loading.is_set() and time.monotonic() < deadline:
                health[http.get("/health").status_code] += 1
                time.sleep(0.02)

    prober = threading.Thread(target=probe_health)
    prober.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))
    finally:
        loading.clear()
        prober.join()

    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] > 0, f"nothing was shed at {CLIENTS} clients for {LIMIT}: {statuses}"
    assert statuses[200] >= LIMIT, statuses
    assert all(r.headers["retry-after"] == "1" for r in refusals)
    assert "at its limit of 2 requests in progress" in refusals[0].json()["detail"]
    assert health[200] > 0 and set(health) == {200}, health

    # Once the load is gone, nothing stays refused.
    with httpx.Client(base_url=service, timeout=10) as http:
        answers = [http.get(f"/users/{user}/recommendations").status_code for user in USERS[:5]]
    assert answers == [200] * 5
