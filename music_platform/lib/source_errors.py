"""Errors raised by the source connectors; every one is a `SourceError`.

Below both `sources` (the connectors) and `quality.files` (the file screening, whose
`ColumnsMismatchError` is a `WrongColumnsError`), so neither package imports the other's errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class SourceError(Exception):
    """A source could not deliver what was asked; the partition fails as a whole."""


class SourceUnavailableError(SourceError):
    """Transient failures outlasted the retry budget (or a wait would exceed its cap)."""

    def __init__(self, source: str, method: str, context: str, detail: str) -> None:
        self.source = source
        self.method = method
        self.context = context
        super().__init__(f"{source} {method} unavailable ({context}): {detail}")


class RetryAfterTooLongError(SourceUnavailableError):
    """The server asked to wait longer than the configured cap; we fail instead of sleeping."""

    def __init__(self, source: str, method: str, context: str, wait: float, cap: float) -> None:
        self.wait = wait
        self.cap = cap
        super().__init__(
            source,
            method,
            context,
            f"rate limited with Retry-After {wait:g} s, above the {cap:g} s cap; try again later",
        )


class CredentialsRejectedError(SourceError):
    """The API refused the credentials; retrying cannot help."""


class MalformedResponseError(SourceError):
    """A body that could not be parsed; it is kept on disk at `body_path` for inspection."""

    def __init__(self, source: str, method: str, context: str, body_path: Path, detail: str):
        self.body_path = body_path
        super().__init__(
            f"{source} {method} returned a malformed body ({context}): {detail}; "
            f"raw body kept at {body_path}"
        )


class IncompleteResultError(SourceError):
    """Pages disagreed with each other, so the day would be incomplete."""


class DatasetVerificationError(SourceError):
    """A downloaded dataset failed its integrity checks."""


class WrongColumnsError(SourceError, ValueError):
    """A file does not carry the columns its format needs."""

    def __init__(
        self, path: Path, missing: Sequence[str], expected: Sequence[str], found: Sequence[str]
    ):
        self.path = Path(path)
        self.missing = list(missing)
        self.expected = list(expected)
        self.found = list(found)
        super().__init__(
            f"{self.path} has the wrong columns: missing {', '.join(self.missing)}; "
            f"expected {', '.join(self.expected)}; found {', '.join(self.found) or 'nothing'}"
        )
