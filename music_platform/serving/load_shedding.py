"""Shed load instead of queueing it: a cap on the requests the service works on at once.

Past the cap, a request is answered at once with 503 and `Retry-After`, so an overloaded service
keeps its latency for the requests it takes and clients learn to back off, instead of every
request waiting in a growing queue until all of them time out. The health check is exempt, so
an orchestrator never mistakes a busy service for a dead one.

uvicorn's own `--limit-concurrency` also answers 503, but it counts every connection, the health
check's included; this counts only the work.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

RETRY_AFTER_SECONDS = 1


class ConcurrencyLimit:
    """ASGI middleware: at most `limit` requests in progress; the rest get 503 at once.

    The count lives on the event loop, where requests are admitted: no await falls between the
    check and the increment, so no lock is needed. Keep `limit` below the thread pool that runs
    the synchronous endpoints (40 by default in Starlette) so that the exempt paths always find
    a free thread.
    """

    def __init__(self, app: ASGIApp, *, limit: int, exempt_paths: frozenset[str]) -> None:
        if limit < 1:
            raise ValueError(f"the concurrency limit must be at least 1, got {limit}")
        self.app = app
        self.limit = limit
        self.exempt_paths = exempt_paths
        self.in_flight = 0
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.shed += 1
            await self._refuse(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = JSONResponse(
            {
                "detail": f"the service is at its limit of {self.limit} requests in progress; "
                f"retry after {RETRY_AFTER_SECONDS} s"
            },
            status_code=503,
            headers={"retry-after": str(RETRY_AFTER_SECONDS)},
        )
        await refusal(scope, receive, send)
