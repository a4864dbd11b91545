"""The API clients built from the settings, and what a partition does when its source is down."""

from __future__ import annotations

import dagster as dg

from music_platform.lib.source_errors import SourceUnavailableError
from music_platform.lib.sources.lastfm import DEFAULT_API_ROOT, LastfmClient, LastfmSettings
from music_platform.lib.sources.ratelimit import TokenBucket
from music_platform.lib.sources.retry import RetryPolicy
from music_platform.lib.sources.spotify import (
    DEFAULT_API_BASE,
    DEFAULT_AUTH_URL,
    SpotifyClient,
    SpotifySettings,
)
from music_platform.settings import Settings


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.api_retry_attempts,
        initial_wait=settings.api_retry_initial_wait_seconds,
        budget_seconds=settings.api_retry_budget_seconds,
    )


def lastfm_client(settings: Settings) -> LastfmClient:
    sources = settings.sources
    return LastfmClient(
        LastfmSettings(
            api_key=sources.lastfm_api_key.get_secret_value(),
            api_secret=sources.lastfm_api_secret.get_secret_value(),
            api_root=sources.lastfm_api_root or DEFAULT_API_ROOT,
            ca_file=sources.lastfm_ca_file,
        ),
        dump_dir=settings.bodies_dir,
        retry=retry_policy(settings),
        # Last.fm allows 5 requests/s per key, averaged; a burst of 5 stays inside it.
        limiter=TokenBucket(rate=sources.lastfm_requests_per_second, capacity=5),
    )


def spotify_client(settings: Settings) -> SpotifyClient:
    sources = settings.sources
    return SpotifyClient(
        SpotifySettings(
            client_id=sources.spotify_client_id,
            client_secret=sources.spotify_client_secret.get_secret_value(),
            api_base=sources.spotify_api_base or DEFAULT_API_BASE,
            auth_url=sources.spotify_auth_url or DEFAULT_AUTH_URL,
            market=sources.spotify_market or None,
        ),
        dump_dir=settings.bodies_dir,
        retry=retry_policy(settings),
        limiter=TokenBucket(rate=sources.spotify_requests_per_second, capacity=10),
        min_confidence=sources.spotify_min_confidence,
    )


def retry_later(
    context: dg.AssetExecutionContext, settings: Settings, error: SourceUnavailableError
) -> Exception:
    """The exception that ends a partition whose source outlasted its retry budget: a Dagster
    retry while some are left, then a failure that says nothing was written."""
    window = f"{context.partition_keys[0]} .. {context.partition_keys[-1]}"
    if context.retry_number < settings.source_retries:
        context.log.warning(
            f"{error}; nothing written for {window}; retrying in "
            f"{settings.source_retry_delay_seconds:g} s "
            f"(retry {context.retry_number + 1} of {settings.source_retries})"
        )
        return dg.RetryRequested(
            max_retries=settings.source_retries,
            seconds_to_wait=settings.source_retry_delay_seconds,
        )
    return dg.Failure(
        description=(
            f"{error}. Nothing was written for {window}: the partitions stay as they were "
            "until a later run succeeds."
        ),
        allow_retries=False,
    )
