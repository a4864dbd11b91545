"""Landed raw records and kept bodies: what every connector writes the same way."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Request parameters that are credentials and never land anywhere.
SECRET_PARAMS = frozenset({"api_key", "api_sig", "sk", "secret", "client_secret", "token"})


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat()


def request_descriptor(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The `_request` of a record: method and params, credentials removed."""
    return {
        "method": method,
        "params": {k: str(v) for k, v in params.items() if k not in SECRET_PARAMS},
    }


def landed(item: dict[str, Any], source: str, fetched_at: str, request: dict[str, Any]) -> dict:
    """The raw item unchanged plus `_source`, `_fetched_at` (UTC ISO-8601) and `_request`."""
    return {**item, "_source": source, "_fetched_at": fetched_at, "_request": request}


def raw_item(record: dict[str, Any]) -> dict[str, Any]:
    """A landed record without its landing metadata."""
    return {k: v for k, v in record.items() if k not in ("_source", "_fetched_at", "_request")}


def canonical(item: Any) -> str:
    """Key-sorted JSON: equal items give equal strings (dedupe, sorting)."""
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def keep_body(dump_dir: Path, source: str, method: str, body: str | bytes | None) -> Path:
    """Write a body that failed to parse under `dump_dir` and return its path."""
    data = body.encode() if isinstance(body, str) else (body or b"")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(data).hexdigest()[:12]
    path = Path(dump_dir) / f"{source}-{method.replace('/', '_')}-{stamp}-{digest}.body"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
