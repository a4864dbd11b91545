"""Bounds on what a request may send and on what an error sends back.

A body past `MAX_BODY_BYTES` is refused with 413 before anything parses it (whitespace padding
counts like any other byte), and a request that fails validation gets its errors without the
input that failed: FastAPI's default 422 echoes `input`, which would send a large body back.
Every status the service answers is described in the OpenAPI document by `ERROR_RESPONSES`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A question is at most 2,000 characters, up to 6 bytes each once JSON-escaped, with room to spare.
MAX_BODY_BYTES = 16_384
# Validation errors are cut to this many, each location part to this many characters.
MAX_VALIDATION_ERRORS = 10
MAX_LOCATION_CHARS = 100


class ErrorBody(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[ValidationIssue]


def _described(description: str, model: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    return {"model": model, "description": description}


ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    400: _described("The request is well formed but asks for something invalid."),
    404: _described("No user, track, artist or genre matches."),
    413: _described(f"The request body is larger than {MAX_BODY_BYTES} bytes."),
    422: _described(
        "The request does not match the schema; the input itself is not echoed.",
        ValidationErrorBody,
    ),
    503: _described(
        "No model is promoted yet, or the service is at its limit of requests in progress "
        "(retry after the `Retry-After` seconds)."
    ),
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI descriptions of a route's error statuses."""
    return {status: ERROR_RESPONSES[status] for status in statuses}


async def validation_error(_request: Request, error: Exception) -> JSONResponse:
    """422 with where and why each field failed, never the input (nor its context)."""
    assert isinstance(error, RequestValidationError)
    issues = [
        {
            "loc": [
                part if isinstance(part, int) else str(part)[:MAX_LOCATION_CHARS]
                for part in issue.get("loc", ())
            ],
            "msg": str(issue.get("msg", ""))[: MAX_LOCATION_CHARS * 2],
            "type": str(issue.get("type", "")),
        }
        for issue in error.errors()[:MAX_VALIDATION_ERRORS]
    ]
    return JSONResponse(status_code=422, content={"detail": issues})


class BodySizeLimit:
    """ASGI middleware: a body past `limit` bytes is answered with 413 before the app reads it,
    whether it announces its length or arrives in chunks."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._refuse(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = JSONResponse(
            {"detail": f"the request body is larger than the limit of {self.limit} bytes"},
            status_code=413,
            headers={"connection": "close"},
        )
        await refusal(scope, receive, send)
