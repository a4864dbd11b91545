"""Every tool call, from the agent loop or an MCP client, as one JSON line: the tool, its
arguments, how long it took, how many rows it returned and why it was refused, if it was.

Secret values from the settings are masked before anything is written.
"""

from __future__ import annotations

import json
import statistics
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MASK = "***"


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """`value` with every secret string replaced by a mask, recursively."""
    secrets = [secret for secret in secrets if secret]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {key: redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, secrets) for item in value]
    return value


class ToolTracer:
    """Appends one line per tool call; thread-safe so the HTTP and MCP servers can share it."""

    def __init__(self, path: Path | None, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._secrets = [secret for secret in secrets if secret]
        self._lock = threading.Lock()

    def record(
        self,
        *,
        tool: str,
        arguments: Any,
        duration_ms: float,
        rows: int,
        refusal: str | None,
        surface: str,
    ) -> dict[str, Any]:
        entry = redact(
            {
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "surface": surface,
                "tool": tool,
                "arguments": arguments,
                "duration_ms": round(duration_ms, 3),
                "rows": rows,
                "refusal": refusal,
            },
            self._secrets,
        )
        if self.path is not None:
            line = json.dumps(entry, default=str)
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as log:
                    log.write(line + "\n")
        return entry


def read_trace(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as log:
        return [json.loads(line) for line in log if line.strip()]


def summarise_trace(path: Path) -> dict[str, Any]:
    """Calls, refusals and median duration per tool, for `music-platform status`."""
    entries = read_trace(path)
    by_tool: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_tool.setdefault(entry["tool"], []).append(entry)
    return {
        "path": str(path),
        "calls": len(entries),
        "refusals": sum(1 for entry in entries if entry.get("refusal")),
        "last_call_at": entries[-1]["at"] if entries else None,
        "tools": {
            tool: {
                "calls": len(calls),
                "refusals": sum(1 for call in calls if call.get("refusal")),
                "rows": sum(int(call.get("rows") or 0) for call in calls),
                "p50_ms": round(statistics.median(call["duration_ms"] for call in calls), 3),
            }
            for tool, calls in sorted(by_tool.items())
        },
    }
