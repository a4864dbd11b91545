"""Each question as one OpenTelemetry trace, after the GenAI semantic conventions.

`invoke_agent music-platform` spans the question and its answer; inside it every model turn is a
`chat {model}` span (tokens, finish reasons, the turn's text and tool calls) and every tool call
an `execute_tool {name}` span (arguments, rows, refusal). MCP tool calls are traces of their own.

Spans go to a JSON-lines file under the home (one span a line, tied by `trace_id`), and to an
OTLP/HTTP collector as well when OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ variant) is set.
Secret values are masked in every attribute before a span is recorded, so no exporter sees them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, Status, StatusCode

from music_platform.lib.agent.tracing import redact

SERVICE_NAME = "music-platform-agent"
AGENT_NAME = "music-platform"
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# A long attribute (an answer, a tool's arguments) is cut here: traces are not a data store.
MAX_ATTRIBUTE_CHARS = 4_000


def _iso(nanoseconds: int | None) -> str | None:
    if nanoseconds is None:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, UTC).isoformat(timespec="microseconds")


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as one JSON-able record."""
    context = span.get_span_context()
    start, end = span.start_time, span.end_time
    return {
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "start": _iso(start),
        "end": _iso(end),
        "duration_ms": round((end - start) / 1e6, 3) if start and end else None,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span to a file as one JSON line."""

    def __init__(self, path: Path, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._secrets = [secret for secret in secrets if secret]
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [
            json.dumps(redact(span_record(span), self._secrets), default=str) for span in spans
        ]
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as log:
                log.writelines(line + "\n" for line in lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def otlp_configured() -> bool:
    return any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)


class AgentTelemetry:
    """The agent's tracer: spans to the JSON-lines file and, when configured, to OTLP."""

    def __init__(self, path: Path | None, secrets: Iterable[str] = ()) -> None:
        self._secrets = [secret for secret in secrets if secret]
        self.provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        if path is not None:
            exporter = JsonLinesSpanExporter(path, self._secrets)
            # Written as each span ends, so a trace is on disk when the answer is returned.
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        if otlp_configured():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            # The exporter reads the endpoint, headers and timeout from OTEL_* variables.
            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("music_platform.agent")

    @contextmanager
    def span(self, name: str, attributes: dict[str, Any]) -> Iterator[Span]:
        """A span, current for its block (so spans opened inside are its children)."""
        with self.tracer.start_as_current_span(name) as span:
            self.set(span, attributes)
            yield span

    def set(self, span: Span, attributes: dict[str, Any]) -> None:
        """Attributes, masked and made primitive (lists and objects as JSON), on `span`."""
        for key, value in attributes.items():
            if value is None:
                continue
            if not isinstance(value, str | bool | int | float):
                value = json.dumps(value, default=str)
            if isinstance(value, str):
                value = redact(value, self._secrets)[:MAX_ATTRIBUTE_CHARS]
            span.set_attribute(key, value)

    def refused(self, span: Span, reason: str) -> None:
        span.set_status(
            Status(StatusCode.ERROR, redact(reason, self._secrets)[:MAX_ATTRIBUTE_CHARS])
        )

    def flush(self) -> None:
        self.provider.force_flush()
