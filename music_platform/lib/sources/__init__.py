"""Source connectors: Last.fm (pylast), Spotify (spotipy), Kaggle (kaggle) and public files.

API records land raw: the item as the API gave it plus `_source`, `_fetched_at` (UTC ISO-8601)
and `_request` (method and params, credentials removed). Every failure is a `SourceError`;
a partition either gets everything it asked for or an exception.
"""

from music_platform.lib.source_errors import (
    CredentialsRejectedError,
    DatasetVerificationError,
    IncompleteResultError,
    MalformedResponseError,
    RetryAfterTooLongError,
    SourceError,
    SourceUnavailableError,
    WrongColumnsError,
)
from music_platform.lib.sources.ratelimit import TokenBucket
from music_platform.lib.sources.retry import RetryPolicy

__all__ = [
    "CredentialsRejectedError",
    "DatasetVerificationError",
    "IncompleteResultError",
    "MalformedResponseError",
    "RetryAfterTooLongError",
    "RetryPolicy",
    "SourceError",
    "SourceUnavailableError",
    "TokenBucket",
    "WrongColumnsError",
]
