"""Client-side rate limiting: a token bucket per API key or client."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any


class TokenBucket:
    """Thread-safe token bucket: `capacity` requests at once, refilled at `rate` per second.

    Any window of `w` seconds admits at most `capacity + rate * w` requests.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()
        self._lock = threading.Lock()

    @classmethod
    def unlimited(cls) -> TokenBucket:
        """A bucket that never waits (benchmarks, tests)."""
        return cls(rate=math.inf, capacity=1)

    def acquire(self) -> float:
        """Take one token, sleeping until one is free; returns the seconds waited."""
        if math.isinf(self.rate):
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            # A negative balance is a reservation: this caller waits for its token to refill.
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)
        return wait


def lastfm_bucket(**options: Any) -> TokenBucket:
    """Last.fm: 5 requests per second per key (averaged over 5 minutes)."""
    return TokenBucket(rate=5.0, capacity=5, **options)


def spotify_bucket(**options: Any) -> TokenBucket:
    """Spotify limits over a rolling 30 s window without publishing the number: stay at or
    below 100 requests in any 30 s (10 at once, then 3 per second)."""
    return TokenBucket(rate=3.0, capacity=10, **options)
