"""Last.fm through pylast: a user's scrobbles for one UTC day, top artists, artist/track info.

pylast's high-level objects drop most fields (MBIDs, images, uts) and retry pages with fixed 1 s
sleeps, so we use its request layer (transport, XML, error mapping) and page ourselves: each item
lands as the dict Last.fm's own JSON format would give for it (see `element_to_item`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.dom import minidom
from xml.dom.minidom import Node

import pylast

from music_platform.lib.source_errors import (
    CredentialsRejectedError,
    IncompleteResultError,
    MalformedResponseError,
    SourceError,
    SourceUnavailableError,
)
from music_platform.lib.sources.ratelimit import TokenBucket, lastfm_bucket
from music_platform.lib.sources.records import (
    canonical,
    keep_body,
    landed,
    raw_item,
    request_descriptor,
    utc_now_iso,
)
from music_platform.lib.sources.retry import RetriesExhaustedError, RetryPolicy, call_with_retries

SOURCE = "lastfm"
DEFAULT_API_ROOT = "https://ws.audioscrobbler.com/2.0/"
# 8 operation failed, 11 service offline, 16 temporarily unavailable, 29 rate limit; pylast
# raises HTTP 5xx as WSError with the HTTP status.
TRANSIENT_CODES = frozenset({"8", "11", "16", "29", "500", "502", "503", "504"})
KEY_CODES = frozenset({"10", "26"})  # invalid API key, API key suspended
NOT_FOUND = "6"
MAX_PAGE_SIZE = 200


class LastfmError(SourceError):
    """Last.fm answered with an error that retrying cannot fix."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class LastfmSettings:
    """Where and how to reach Last.fm. Keys never appear in repr or in landed records."""

    api_key: str = field(repr=False)
    api_secret: str = field(default="", repr=False)
    api_root: str = DEFAULT_API_ROOT
    ca_file: Path | None = None  # extra CA to trust (a loopback fake's); process-wide in pylast
    page_size: int = MAX_PAGE_SIZE

    @classmethod
    def from_env(cls) -> LastfmSettings:
        """LASTFM_API_KEY, LASTFM_API_SECRET, LASTFM_API_ROOT, LASTFM_CA_FILE."""
        key = os.environ.get("LASTFM_API_KEY", "")
        if not key:
            raise CredentialsRejectedError("LASTFM_API_KEY is not set")
        ca_file = os.environ.get("LASTFM_CA_FILE")
        return cls(
            api_key=key,
            api_secret=os.environ.get("LASTFM_API_SECRET", ""),
            api_root=os.environ.get("LASTFM_API_ROOT") or DEFAULT_API_ROOT,
            ca_file=Path(ca_file) if ca_file else None,
        )


def day_bounds(day: date) -> tuple[int, int]:
    """`from` and `to` (both inclusive, Unix seconds) covering one UTC day."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return int(start.timestamp()), int(end.timestamp()) - 1


def element_to_item(element: minidom.Element) -> dict[str, Any] | str:
    """Convert an XML element the way Last.fm's JSON format does: an element with children
    becomes a dict (its attributes under "@attr", repeated children as a list), a text element
    with attributes becomes {attributes..., "#text": text}, a plain text element its text."""
    children = [c for c in element.childNodes if c.nodeType == Node.ELEMENT_NODE]
    attributes = dict(element.attributes.items())
    if children:
        item: dict[str, Any] = {"@attr": attributes} if attributes else {}
        for child in children:
            value = element_to_item(child)
            if child.tagName not in item:
                item[child.tagName] = value
            elif isinstance(item[child.tagName], list):
                item[child.tagName].append(value)
            else:
                item[child.tagName] = [item[child.tagName], value]
        return item
    text = "".join(
        c.data
        for c in element.childNodes
        if c.nodeType in (Node.TEXT_NODE, Node.CDATA_SECTION_NODE)
    )
    return {**attributes, "#text": text} if attributes else text


def _child_elements(element: minidom.Element, name: str) -> list[minidom.Element]:
    return [c for c in element.childNodes if c.nodeType == Node.ELEMENT_NODE and c.tagName == name]


class _ParseOnceRequest(pylast._Request):
    """pylast's request (transport, TLS, HTTP 5xx as WSError), parsing each body once.

    pylast parses a body twice and pretty-prints it for a debug log even when debug is off,
    about half of its time per page; this keeps its error semantics and also remembers the body
    so a malformed one can be written out.
    """

    body: str | None = None
    document: minidom.Document | None = None

    def execute(self, cacheable: bool = False) -> minidom.Document:
        self._download_response()  # runs _check_response_for_errors on the body
        return self.document

    def _check_response_for_errors(self, response: str) -> None:
        self.body = response
        try:
            document = pylast._parse_response(response)
        except Exception as error:
            raise pylast.MalformedResponseError(self.network, error) from error
        root = document.documentElement
        if root.tagName != "lfm":
            raise pylast.MalformedResponseError(self.network, f"<{root.tagName}> is not <lfm>")
        if root.getAttribute("status") != "ok":
            errors = root.getElementsByTagName("error")
            if not errors:
                raise pylast.MalformedResponseError(self.network, "failed without an <error>")
            details = "".join(c.data for c in errors[0].childNodes if c.nodeType == Node.TEXT_NODE)
            raise pylast.WSError(self.network, errors[0].getAttribute("code"), details.strip())
        self.document = document


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, pylast.WSError):
        return str(error.status) in TRANSIENT_CODES
    return isinstance(error, pylast.NetworkError)


@dataclass
class _Page:
    payload: minidom.Element
    body: str
    request: dict[str, Any]
    fetched_at: str


class LastfmClient:
    """Calls Last.fm through pylast with rate limiting, bounded retries and kept bad bodies."""

    def __init__(
        self,
        settings: LastfmSettings,
        *,
        dump_dir: Path,
        retry: RetryPolicy | None = None,
        limiter: TokenBucket | None = None,
    ) -> None:
        root = urlsplit(settings.api_root)
        if root.scheme != "https":
            raise SourceError(f"LASTFM_API_ROOT must be https (pylast speaks only https): {root}")
        if settings.ca_file:
            pylast.SSL_CONTEXT.load_verify_locations(cafile=str(settings.ca_file))
        self.settings = settings
        self.dump_dir = Path(dump_dir)
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or lastfm_bucket()
        self._network = pylast.LastFMNetwork(
            api_key=settings.api_key, api_secret=settings.api_secret
        )
        self._network.ws_server = (root.netloc, root.path or "/2.0/")

    def call(self, method: str, params: dict[str, Any], *, context: str) -> _Page:
        """One API call, retried within the budget; returns the payload element under <lfm>."""

        def attempt() -> _Page:
            self.limiter.acquire()
            request = _ParseOnceRequest(self._network, method, params)
            fetched_at = utc_now_iso()
            try:
                document = request.execute()
            except pylast.MalformedResponseError as error:
                raise self._malformed(method, context, request.body, str(error)) from error
            payload = next(
                (c for c in document.documentElement.childNodes if c.nodeType == Node.ELEMENT_NODE),
                None,
            )
            if payload is None:
                raise self._malformed(method, context, request.body, "empty <lfm> element")
            return _Page(
                payload, request.body or "", request_descriptor(method, params), fetched_at
            )

        try:
            return call_with_retries(attempt, policy=self.retry, is_transient=_is_transient)
        except RetriesExhaustedError as exhausted:
            raise SourceUnavailableError(
                "Last.fm", method, context, str(exhausted)
            ) from exhausted.last
        except pylast.WSError as error:
            code = str(error.status)
            if code in KEY_CODES:
                raise CredentialsRejectedError(
                    f"Last.fm rejected the API key (error {code}: {error.details}); "
                    "check LASTFM_API_KEY and LASTFM_API_SECRET"
                ) from None
            raise LastfmError(
                code, f"Last.fm {method} failed ({context}): error {code}: {error.details}"
            ) from error

    def _malformed(self, method: str, context: str, body: str | None, detail: str) -> Exception:
        path = keep_body(self.dump_dir, SOURCE, method, body)
        return MalformedResponseError("Last.fm", method, context, path, detail)

    def _items(self, page: _Page, name: str) -> list[dict[str, Any]]:
        return [
            landed(element_to_item(e), SOURCE, page.fetched_at, page.request)
            for e in _child_elements(page.payload, name)
        ]

    def _int_attribute(self, page: _Page, name: str, method: str, context: str) -> int:
        value = page.payload.getAttribute(name)
        try:
            return int(value)
        except ValueError:
            raise self._malformed(method, context, page.body, f"bad {name}={value!r}") from None

    def recent_tracks(self, user: str, day: date) -> list[dict[str, Any]]:
        """Every scrobble of `user` on UTC `day`, all pages, without the now-playing item.
        Sorted by time, duplicates removed; raises rather than return part of the day."""
        start, end = day_bounds(day)
        method = "user.getRecentTracks"
        context = f"user {user!r}, day {day.isoformat()}"
        params = {"user": user, "from": start, "to": end, "limit": self.settings.page_size}
        scrobbles: list[dict[str, Any]] = []
        first: tuple[int, int] | None = None  # (totalPages, total) as page 1 reported them
        page_number = 1
        while first is None or page_number <= first[0]:
            page = self.call(method, {**params, "page": page_number}, context=context)
            shape = (
                self._int_attribute(page, "totalPages", method, context),
                self._int_attribute(page, "total", method, context),
            )
            if first is None:
                first = shape
            elif shape != first:
                raise IncompleteResultError(
                    f"Last.fm {method} changed while paging ({context}): page {page_number} "
                    f"reports {shape[1]} scrobbles in {shape[0]} pages, page 1 said "
                    f"{first[1]} in {first[0]}"
                )
            # The now-playing item (page 1 only) has no date and belongs to no day.
            scrobbles += [item for item in self._items(page, "track") if "date" in item]
            page_number += 1
        total_pages, total = first
        if len(scrobbles) != total:
            raise IncompleteResultError(
                f"Last.fm {method} ({context}) reported {total} scrobbles but "
                f"{len(scrobbles)} arrived over {total_pages} pages"
            )
        return _dedupe_sorted(scrobbles)

    def top_artists(
        self, user: str, *, period: str = "overall", limit: int = 50, context: str = ""
    ) -> list[dict[str, Any]]:
        """The user's top artists for `period` (overall, 7day, 1month, ...), first page."""
        page = self.call(
            "user.getTopArtists",
            {"user": user, "period": period, "limit": limit, "page": 1},
            context=context or f"user {user!r}",
        )
        return self._items(page, "artist")

    def _single(self, method: str, params: dict[str, Any], context: str) -> dict | None:
        try:
            page = self.call(method, params, context=context)
        except LastfmError as error:
            if error.code == NOT_FOUND:
                return None
            raise
        item = element_to_item(page.payload)
        if not isinstance(item, dict):
            raise self._malformed(method, context, page.body, f"<{page.payload.tagName}> is empty")
        return landed(item, SOURCE, page.fetched_at, page.request)

    def artist_info(self, artist: str, *, context: str = "") -> dict[str, Any] | None:
        """artist.getInfo (includes its top 5 tags); None when Last.fm does not know it."""
        return self._single("artist.getInfo", {"artist": artist}, context or f"artist {artist!r}")

    def artist_top_tags(self, artist: str, *, context: str = "") -> dict[str, Any] | None:
        """artist.getTopTags with tag counts; None when Last.fm does not know the artist."""
        return self._single(
            "artist.getTopTags", {"artist": artist}, context or f"artist {artist!r}"
        )

    def track_info(self, artist: str, track: str, *, context: str = "") -> dict[str, Any] | None:
        """track.getInfo (duration, top tags); None when Last.fm does not know the track."""
        return self._single(
            "track.getInfo",
            {"artist": artist, "track": track},
            context or f"track {artist!r} - {track!r}",
        )

    def track_top_tags(
        self, artist: str, track: str, *, context: str = ""
    ) -> dict[str, Any] | None:
        """track.getTopTags with tag counts; None when Last.fm does not know the track."""
        return self._single(
            "track.getTopTags",
            {"artist": artist, "track": track},
            context or f"track {artist!r} - {track!r}",
        )


def _dedupe_sorted(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    unique: dict[str, dict[str, Any]] = {}
    for record in records:
        unique.setdefault(canonical(raw_item(record)), record)
    return [unique[key] for key in sorted(unique, key=lambda k: (int(unique[k]["date"]["uts"]), k))]


def _text(value: Any) -> str:
    return value.get("#text", "") if isinstance(value, dict) else (value or "")


@dataclass(frozen=True)
class LastfmDay:
    """Everything landed for one user and one UTC day."""

    user: str
    day: date
    scrobbles: list[dict[str, Any]]
    top_artists: list[dict[str, Any]]
    artist_info: list[dict[str, Any]]
    artist_top_tags: list[dict[str, Any]]
    track_info: list[dict[str, Any]]
    track_top_tags: list[dict[str, Any]]
    not_found: list[dict[str, str]]  # info lookups Last.fm answered with error 6


def heard(scrobbles: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """Distinct (artist, title) pairs in first-heard order."""
    pairs = {(_text(s.get("artist")), _text(s.get("name"))): None for s in scrobbles}
    return [pair for pair in pairs if pair[0] and pair[1]]


def fetch_day(
    client: LastfmClient,
    user: str,
    day: date,
    *,
    with_top_tags: bool = True,
    top_artists_period: str = "overall",
    top_artists_limit: int = 50,
) -> LastfmDay:
    """Scrobbles, top artists, and info (+ top tags) for every artist and track heard that day.
    Any failure raises: a day is landed whole or not at all."""
    context = f"user {user!r}, day {day.isoformat()}"
    scrobbles = client.recent_tracks(user, day)
    top_artists = client.top_artists(
        user, period=top_artists_period, limit=top_artists_limit, context=context
    )
    tracks = heard(scrobbles)
    artists = list(dict.fromkeys(artist for artist, _ in tracks))
    lookups: dict[str, list[dict[str, Any]]] = {
        "artist_info": [],
        "artist_top_tags": [],
        "track_info": [],
        "track_top_tags": [],
    }
    not_found: list[dict[str, str]] = []

    def collect(kind: str, record: dict[str, Any] | None, **key: str) -> None:
        if record is None:
            not_found.append({"lookup": kind, **key})
        else:
            lookups[kind].append(record)

    for artist in artists:
        where = f"artist {artist!r} for {context}"
        collect("artist_info", client.artist_info(artist, context=where), artist=artist)
        if with_top_tags:
            collect("artist_top_tags", client.artist_top_tags(artist, context=where), artist=artist)
    for artist, title in tracks:
        where = f"track {artist!r} - {title!r} for {context}"
        info = client.track_info(artist, title, context=where)
        collect("track_info", info, artist=artist, track=title)
        if with_top_tags:
            tags = client.track_top_tags(artist, title, context=where)
            collect("track_top_tags", tags, artist=artist, track=title)
    return LastfmDay(
        user=user,
        day=day,
        scrobbles=scrobbles,
        top_artists=top_artists,
        not_found=not_found,
        **lookups,
    )
