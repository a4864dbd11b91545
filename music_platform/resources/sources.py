"""The source providers: which are active for this run, and their API clients, all built from
the settings handed in once. Which provider fills an entity is decided here at run time, never
by the shape of the graph: every provider's assets exist, the inactive ones skip."""

from __future__ import annotations

from dataclasses import dataclass

from music_platform.lib.sources.lastfm import DEFAULT_API_ROOT, LastfmClient, LastfmSettings
from music_platform.lib.sources.ratelimit import TokenBucket
from music_platform.lib.sources.retry import RetryPolicy
from music_platform.lib.sources.selection import SourceSelection, select_sources
from music_platform.lib.sources.spotify import (
    DEFAULT_API_BASE,
    DEFAULT_AUTH_URL,
    SpotifyClient,
    SpotifySettings,
)
from music_platform.settings import Settings


@dataclass(frozen=True)
class SourceProviders:
    settings: Settings

    def selection(self) -> SourceSelection:
        """The active provider of each entity. Read anew on each call: a file dropped in the
        external folder counts from the next run, with no reload."""
        return select_sources(self.settings)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.settings.api_retry_attempts,
            initial_wait=self.settings.api_retry_initial_wait_seconds,
            budget_seconds=self.settings.api_retry_budget_seconds,
        )

    def lastfm_client(self) -> LastfmClient:
        sources = self.settings.sources
        return LastfmClient(
            LastfmSettings(
                api_key=sources.lastfm_api_key.get_secret_value(),
                api_secret=sources.lastfm_api_secret.get_secret_value(),
                api_root=sources.lastfm_api_root or DEFAULT_API_ROOT,
                ca_file=sources.lastfm_ca_file,
            ),
            dump_dir=self.settings.bodies_dir,
            retry=self.retry_policy(),
            # Last.fm allows 5 requests/s per key, averaged; a burst of 5 stays inside it.
            limiter=TokenBucket(rate=sources.lastfm_requests_per_second, capacity=5),
        )

    def spotify_client(self) -> SpotifyClient:
        sources = self.settings.sources
        return SpotifyClient(
            SpotifySettings(
                client_id=sources.spotify_client_id,
                client_secret=sources.spotify_client_secret.get_secret_value(),
                api_base=sources.spotify_api_base or DEFAULT_API_BASE,
                auth_url=sources.spotify_auth_url or DEFAULT_AUTH_URL,
                market=sources.spotify_market or None,
            ),
            dump_dir=self.settings.bodies_dir,
            retry=self.retry_policy(),
            limiter=TokenBucket(rate=sources.spotify_requests_per_second, capacity=10),
            min_confidence=sources.spotify_min_confidence,
        )
