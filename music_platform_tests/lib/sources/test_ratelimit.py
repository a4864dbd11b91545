"""The token bucket and the retry budget, on a simulated clock."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from music_platform.lib.sources.lastfm import LastfmClient, LastfmSettings
from music_platform.lib.sources.ratelimit import TokenBucket, lastfm_bucket, spotify_bucket
from music_platform.lib.sources.retry import RetriesExhaustedError, RetryPolicy, call_with_retries
from music_platform_tests.support import lastfm_fake


class SimulatedClock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_a_full_bucket_admits_a_burst_then_paces_at_the_rate() -> None:
    clock = SimulatedClock()
    bucket = TokenBucket(rate=5.0, capacity=5, clock=clock, sleep=clock.sleep)

    for _ in range(8):
        bucket.acquire()

    assert clock.sleeps == [0.2, 0.2, 0.2]
    clock.now += 10  # idle: the bucket refills, but only up to its capacity
    for _ in range(6):
        bucket.acquire()
    assert clock.sleeps == [0.2, 0.2, 0.2, 0.2]


def test_default_buckets_stay_within_the_documented_limits() -> None:
    def admitted_within(bucket_factory, seconds: float) -> int:
        clock = SimulatedClock()
        bucket = bucket_factory(clock=clock, sleep=clock.sleep)
        count = 0
        while True:
            bucket.acquire()
            if clock.now > seconds:
                return count
            count += 1

    assert admitted_within(lastfm_bucket, 1.0) <= 5 + 5  # burst + one second at 5/s
    assert admitted_within(lastfm_bucket, 10.0) <= 5 * 10 + 5
    assert admitted_within(spotify_bucket, 30.0) <= 100


def test_the_lastfm_client_takes_a_token_per_request(
    fake_lastfm: lastfm_fake.FakeLastfm, lastfm_settings: LastfmSettings, tmp_path: Path
) -> None:
    fake_lastfm.scrobbles["paced"] = []
    clock = SimulatedClock()
    bucket = TokenBucket(rate=5.0, capacity=1, clock=clock, sleep=clock.sleep)
    client = LastfmClient(lastfm_settings, dump_dir=tmp_path, limiter=bucket)
    for _ in range(3):
        client.recent_tracks("paced", date(2024, 1, 1))
    assert clock.sleeps == [0.2, 0.2]


def test_retries_stop_at_the_attempt_budget_with_growing_waits() -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=5, initial_wait=1.0, max_wait=4.0, sleep=waits.append)
    attempts = []

    def always_failing() -> None:
        attempts.append(1)
        raise ConnectionError("down")

    with pytest.raises(RetriesExhaustedError) as failure:
        call_with_retries(always_failing, policy=policy, is_transient=lambda e: True)

    assert len(attempts) == failure.value.attempts == 5
    assert waits == [1.0, 2.0, 4.0, 4.0]
    assert failure.value.waited == pytest.approx(11.0)


def test_permanent_errors_are_not_retried() -> None:
    policy = RetryPolicy(sleep=lambda s: None)
    with pytest.raises(KeyError):
        call_with_retries(lambda: {}["x"], policy=policy, is_transient=lambda e: False)
