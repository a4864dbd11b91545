"""Bounded exponential backoff (tenacity) shared by the API connectors."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff within a budget of attempts and seconds.

    `retry_after_cap` bounds a server-requested wait (Spotify's Retry-After); a longer one fails
    at once. `sleep` is injectable so tests can record waits instead of spending them.
    """

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    budget_seconds: float = 120.0
    retry_after_cap: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (counting from 1)."""
        return min(self.max_wait, self.initial_wait * 2 ** (attempt - 1))


class RetriesExhaustedError(Exception):
    """Internal: the budget ran out; carries the last transient error and the attempt count."""

    def __init__(self, last: BaseException, attempts: int, waited: float) -> None:
        self.last = last
        self.attempts = attempts
        self.waited = waited
        super().__init__(f"{attempts} attempts, {waited:.2f} s of backoff, last error: {last}")


def call_with_retries(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    is_transient: Callable[[BaseException], bool],
    wait_hint: Callable[[BaseException], float | None] | None = None,
) -> T:
    """Call `fn`, retrying transient errors; raise `RetriesExhaustedError` once the budget is spent.

    `wait_hint` may return a server-requested wait (seconds) that replaces the backoff.
    """

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = wait_hint(error) if (wait_hint and error) else None
        return hinted if hinted is not None else policy.backoff(state.attempt_number)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts)
        | tenacity.stop_before_delay(policy.budget_seconds),
        wait=wait,
        retry=tenacity.retry_if_exception(is_transient),
        sleep=policy.sleep,
        reraise=False,
    )
    try:
        return retrying(fn)
    except tenacity.RetryError as exhausted:
        state = exhausted.last_attempt
        raise RetriesExhaustedError(
            state.exception(),
            state.attempt_number,
            retrying.statistics.get("idle_for", 0.0),
        ) from state.exception()
