"""Spotify through spotipy (client credentials): resolve heard tracks, then fetch in batches.

spotipy's own urllib3 retries would sleep through any Retry-After silently (up to six hours), so
the client gets a plain requests session and this module owns retries, the Retry-After cap and
the one token refresh on 401.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import requests

from music_platform.lib.source_errors import (
    CredentialsRejectedError,
    MalformedResponseError,
    RetryAfterTooLongError,
    SourceError,
    SourceUnavailableError,
)
from music_platform.lib.sources.identity import normalise_artist, normalise_title, similarity
from music_platform.lib.sources.ratelimit import TokenBucket, spotify_bucket
from music_platform.lib.sources.records import keep_body, landed, request_descriptor, utc_now_iso
from music_platform.lib.sources.retry import RetriesExhaustedError, RetryPolicy, call_with_retries

if TYPE_CHECKING:
    import polars as pl

SOURCE = "spotify"
DEFAULT_API_BASE = "https://api.spotify.com/v1/"
DEFAULT_AUTH_URL = "https://accounts.spotify.com/api/token"
TRACKS_BATCH = 50
ARTISTS_BATCH = 50
AUDIO_FEATURES_BATCH = 100
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})
FEATURE_COLUMNS = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
)


@dataclass(frozen=True)
class SpotifySettings:
    """Where and how to reach Spotify. Credentials never appear in repr or records."""

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE
    auth_url: str = DEFAULT_AUTH_URL
    market: str | None = None
    requests_timeout: float = 10.0

    @classmethod
    def from_env(cls) -> SpotifySettings:
        """SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET, SPOTIFY_API_BASE, SPOTIFY_AUTH_URL."""
        client_id = os.environ.get("SPOTIFY_CLIENT_ID", "")
        client_secret = os.environ.get("SPOTIFY_CLIENT_SECRET", "")
        if not (client_id and client_secret):
            raise CredentialsRejectedError(
                "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set"
            )
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            api_base=os.environ.get("SPOTIFY_API_BASE") or DEFAULT_API_BASE,
            auth_url=os.environ.get("SPOTIFY_AUTH_URL") or DEFAULT_AUTH_URL,
        )


@dataclass(frozen=True)
class TrackResolution:
    """How one heard (artist, title) maps to a Spotify track, and how sure we are (0..1)."""

    artist: str
    title: str
    track_id: str | None
    confidence: float
    match: Literal["exact", "fuzzy", "none"]
    reason: str
    candidate: dict[str, Any] | None = None  # the raw search item scored best
    request: dict[str, Any] | None = None
    fetched_at: str = ""

    def as_record(self) -> dict[str, Any]:
        item = {
            "artist": self.artist,
            "title": self.title,
            "track_id": self.track_id,
            "confidence": self.confidence,
            "match": self.match,
            "reason": self.reason,
            "candidate": self.candidate,
        }
        return landed(item, SOURCE, self.fetched_at, self.request or {})


@dataclass(frozen=True)
class AudioFeatures:
    """Audio features, or status "unavailable" (403: the app may not use the endpoint) so the
    caller falls back to the Kaggle row, then to Last.fm track.getInfo."""

    status: Literal["ok", "unavailable"]
    records: list[dict[str, Any]]
    reason: str = ""


@dataclass(frozen=True)
class SpotifyCatalogue:
    resolutions: list[TrackResolution]
    tracks: list[dict[str, Any]]
    artists: list[dict[str, Any]]
    audio_features: AudioFeatures


class SpotifyError(SourceError):
    """Spotify answered with an error that retrying cannot fix."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class _TokenRefreshedError(Exception):
    """Internal: a 401 was answered by fetching a new token; repeat the call at once."""


def _retry_after(error: BaseException) -> float | None:
    from spotipy.exceptions import SpotifyException

    if isinstance(error, _TokenRefreshedError):
        return 0.0
    if not (isinstance(error, SpotifyException) and error.http_status == 429):
        return None
    value = (error.headers or {}).get("Retry-After")  # requests' headers ignore case
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _is_transient(error: BaseException) -> bool:
    from spotipy.exceptions import SpotifyException
    from spotipy.oauth2 import SpotifyOauthError

    if isinstance(error, _TokenRefreshedError):
        return True
    if isinstance(error, SpotifyException):
        return error.http_status in TRANSIENT_STATUSES
    if isinstance(error, SpotifyOauthError):
        return error.error not in CREDENTIAL_ERRORS
    return isinstance(error, requests.ConnectionError | requests.Timeout)


def _batches(ids: Iterable[str], size: int) -> list[list[str]]:
    unique = list(dict.fromkeys(i for i in ids if i))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


class SpotifyClient:
    """spotipy with client credentials, rate limiting, bounded retries and kept bad bodies."""

    def __init__(
        self,
        settings: SpotifySettings,
        *,
        dump_dir: Path,
        retry: RetryPolicy | None = None,
        limiter: TokenBucket | None = None,
        min_confidence: float = 0.75,
    ) -> None:
        # spotipy loads when a step talks to Spotify, not with the code location.
        import spotipy
        from spotipy.cache_handler import MemoryCacheHandler

        self.settings = settings
        self.dump_dir = Path(dump_dir)
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or spotify_bucket()
        self.min_confidence = min_confidence
        self._last = threading.local()  # the last response per thread, for kept bodies
        session = requests.Session()
        session.hooks["response"].append(self._remember)
        auth = spotipy.SpotifyClientCredentials(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            cache_handler=MemoryCacheHandler(),
            requests_timeout=settings.requests_timeout,
        )
        auth.OAUTH_TOKEN_URL = settings.auth_url
        self.auth_manager = auth
        self._sp = spotipy.Spotify(
            auth_manager=auth,
            requests_session=session,
            requests_timeout=settings.requests_timeout,
            retries=0,
            status_retries=0,
        )
        self._sp.prefix = (
            settings.api_base if settings.api_base.endswith("/") else settings.api_base + "/"
        )

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.response = response

    def call(
        self, endpoint: str, params: dict[str, Any], fn: Callable[[], Any], *, context: str
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """Run one spotipy call under the retry policy; returns (result, request, fetched_at)."""
        from spotipy.exceptions import SpotifyException
        from spotipy.oauth2 import SpotifyOauthError

        request = request_descriptor(endpoint, params)
        refreshed = False

        def attempt() -> tuple[Any, str]:
            nonlocal refreshed
            self.limiter.acquire()
            fetched_at = utc_now_iso()
            self._last.response = None
            try:
                result = fn()
            except SpotifyException as error:
                if error.http_status == 401 and not refreshed:
                    # An expired or revoked token: fetch a fresh one once, then repeat.
                    refreshed = True
                    self.auth_manager.get_access_token(as_dict=False, check_cache=False)
                    raise _TokenRefreshedError from error
                wait = _retry_after(error)
                if wait is not None and wait > self.retry.retry_after_cap:
                    raise RetryAfterTooLongError(
                        "Spotify", endpoint, context, wait, self.retry.retry_after_cap
                    ) from error
                raise
            if not isinstance(result, dict | list):
                # spotipy returns None for a 2xx body that is not JSON.
                raise self._malformed(endpoint, context, "body is not JSON")
            return result, fetched_at

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                result, fetched_at = call_with_retries(
                    attempt, policy=self.retry, is_transient=_is_transient, wait_hint=_retry_after
                )
        except RetriesExhaustedError as exhausted:
            raise SourceUnavailableError(
                "Spotify", endpoint, context, str(exhausted)
            ) from exhausted.last
        except SpotifyOauthError as error:
            raise CredentialsRejectedError(
                f"Spotify refused the client credentials ({error.error}); check "
                "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
            ) from None
        except SpotifyException as error:
            if error.http_status == 401:
                raise CredentialsRejectedError(
                    f"Spotify rejected a freshly issued token for {endpoint} ({context})"
                ) from error
            raise SpotifyError(
                error.http_status,
                f"Spotify {endpoint} failed ({context}): HTTP {error.http_status}: {error.msg}",
            ) from error
        return result, request, fetched_at

    def _malformed(self, endpoint: str, context: str, detail: str) -> MalformedResponseError:
        response = getattr(self._last, "response", None)
        path = keep_body(self.dump_dir, SOURCE, endpoint, getattr(response, "content", b""))
        return MalformedResponseError("Spotify", endpoint, context, path, detail)

    def search_tracks(self, query: str, *, limit: int = 10, context: str) -> tuple[list, dict, str]:
        """GET /search type=track; returns (raw items, request, fetched_at)."""
        params = {"q": query, "type": "track", "limit": limit, "market": self.settings.market}
        result, request, fetched_at = self.call(
            "search",
            {k: v for k, v in params.items() if v is not None},
            lambda: self._sp.search(query, limit=limit, type="track", market=self.settings.market),
            context=context,
        )
        page = result.get("tracks") if isinstance(result, dict) else None
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise self._malformed("search", context, "no tracks.items")
        return [i for i in items if isinstance(i, dict)], request, fetched_at

    def resolve(self, artist: str, title: str) -> TrackResolution:
        """Search by artist and title and score candidates on normalised names."""
        context = f"track {artist!r} - {title!r}"
        artist_key, title_key = normalise_artist(artist), normalise_title(title)
        fielded = f'track:"{title.replace(chr(34), "")}" artist:"{artist.replace(chr(34), "")}"'
        items, request, fetched_at = self.search_tracks(fielded, context=context)
        if not items:
            items, request, fetched_at = self.search_tracks(
                f"{artist_key} {title_key}", context=context
            )
        base = {"artist": artist, "title": title, "request": request, "fetched_at": fetched_at}
        if not items:
            return TrackResolution(
                track_id=None, confidence=0.0, match="none", reason="no search results", **base
            )
        scored = [(*_score(artist_key, title_key, item), item) for item in items]
        combined, title_score, artist_score, best = max(
            scored, key=lambda s: (s[0], s[3].get("popularity") or 0)
        )
        if title_score == 1.0 and artist_score == 1.0:
            return TrackResolution(
                track_id=best.get("id"),
                confidence=1.0,
                match="exact",
                reason="normalised artist and title equal",
                candidate=best,
                **base,
            )
        detail = f"title {title_score:.2f}, artist {artist_score:.2f}"
        if combined >= self.min_confidence:
            return TrackResolution(
                track_id=best.get("id"),
                confidence=round(combined, 4),
                match="fuzzy",
                reason=f"fuzzy: {detail}",
                candidate=best,
                **base,
            )
        return TrackResolution(
            track_id=None,
            confidence=round(combined, 4),
            match="none",
            reason=f"best candidate {combined:.2f} < {self.min_confidence:.2f} ({detail})",
            candidate=best,
            **base,
        )

    def _batched(
        self, endpoint: str, key: str, ids: Iterable[str], size: int, fetch: Callable
    ) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for batch in _batches(ids, size):
            context = f"{len(batch)} ids from {batch[0]}"
            result, request, fetched_at = self.call(
                endpoint, {"ids": ",".join(batch)}, lambda b=batch: fetch(b), context=context
            )
            items = result.get(key) if isinstance(result, dict) else result
            if not isinstance(items, list):
                raise self._malformed(endpoint, context, f"no {key} list")
            # Unknown ids come back as null entries.
            records += [landed(i, SOURCE, fetched_at, request) for i in items if i]
        return records

    def tracks(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """GET /tracks?ids= in batches of 50; unknown ids are left out."""
        market = self.settings.market
        return self._batched(
            "tracks", "tracks", ids, TRACKS_BATCH, lambda b: self._sp.tracks(b, market=market)
        )

    def artists(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """GET /artists?ids= in batches of 50; unknown ids are left out."""
        return self._batched("artists", "artists", ids, ARTISTS_BATCH, self._sp.artists)

    def audio_features(self, ids: Iterable[str]) -> AudioFeatures:
        """GET /audio-features?ids= in batches of 100; a 403 makes the whole set unavailable."""
        try:
            records = self._batched(
                "audio-features",
                "audio_features",
                ids,
                AUDIO_FEATURES_BATCH,
                self._sp.audio_features,
            )
        except SpotifyError as error:
            if error.status != 403:
                raise
            return AudioFeatures(status="unavailable", records=[], reason=str(error))
        return AudioFeatures(status="ok", records=records)


def _score(artist_key: str, title_key: str, item: dict[str, Any]) -> tuple[float, float, float]:
    title_score = similarity(title_key, normalise_title(item.get("name")))
    artists = [normalise_artist(a.get("name")) for a in item.get("artists") or []]
    artist_score = max((similarity(artist_key, a) for a in artists), default=0.0)
    return 0.6 * title_score + 0.4 * artist_score, title_score, artist_score


def fetch_catalogue(client: SpotifyClient, heard: Sequence[tuple[str, str]]) -> SpotifyCatalogue:
    """Resolve each heard (artist, title), then fetch the matched tracks, their artists and
    their audio features."""
    resolutions = [client.resolve(artist, title) for artist, title in dict.fromkeys(heard)]
    track_ids = [r.track_id for r in resolutions if r.track_id]
    tracks = client.tracks(track_ids)
    artist_ids = [a["id"] for t in tracks for a in t.get("artists") or [] if a.get("id")]
    return SpotifyCatalogue(
        resolutions=resolutions,
        tracks=tracks,
        artists=client.artists(artist_ids),
        audio_features=client.audio_features(track_ids),
    )


def features_with_fallback(
    track_ids: Sequence[str], spotify: AudioFeatures, kaggle_tracks: pl.DataFrame
) -> pl.DataFrame:
    """One row per track id with the audio feature columns and `features_source`: "spotify",
    else "kaggle" (a TRACKS-shaped frame), else null (use Last.fm track.getInfo: duration, tags)."""
    import polars as pl

    ids = pl.DataFrame({"track_id": list(dict.fromkeys(track_ids))}, schema={"track_id": pl.String})
    schema = {"track_id": pl.String, **{c: pl.Float64 for c in FEATURE_COLUMNS}}
    rows = [{c: r.get(c if c != "track_id" else "id") for c in schema} for r in spotify.records]
    from_spotify = pl.DataFrame(rows, schema=schema).with_columns(
        pl.lit("spotify").alias("features_source")
    )
    from_kaggle = (
        kaggle_tracks.select("track_id", *[pl.col(c).cast(pl.Float64) for c in FEATURE_COLUMNS])
        .join(from_spotify.select("track_id"), on="track_id", how="anti")
        .with_columns(pl.lit("kaggle").alias("features_source"))
    )
    features = pl.concat([from_spotify, from_kaggle]).unique("track_id", keep="first")
    return ids.join(features, on="track_id", how="left", maintain_order="left").with_columns(
        [pl.col(c).cast(pl.Int32) for c in ("key", "mode", "time_signature")]
    )
