"""Last.fm through its API: each configured user's scrobbles of a day (every page), their top
artists, and artist and track info with top tags for everything heard that day.

A run fetches every day and user it was asked for before it writes anything, so a partition is
landed whole or left as it was. Lookups heard on several days or by several users are fetched
once per run and landed with every day that heard them, so each partition stands alone.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg

from music_platform.defs.shared.keys import (
    DAILY_FRESHNESS,
    RAW_LASTFM_ARTIST_INFO,
    RAW_LASTFM_SCROBBLES,
    RAW_LASTFM_TOP_ARTISTS,
    RAW_LASTFM_TRACK_INFO,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.sources.landing import KINDS, landed_metadata
from music_platform.defs.sources.outages import retry_later
from music_platform.defs.sources.skipping import skipped
from music_platform.lib.source_errors import SourceUnavailableError
from music_platform.lib.sources.landed import records_frame, write_all
from music_platform.lib.sources.lastfm import SOURCE, LastfmClient, heard
from music_platform.lib.sources.selection import Provider
from music_platform.resources.sources import SourceProviders
from music_platform.settings import Settings

SCROBBLES_KEY = RAW_LASTFM_SCROBBLES
TOP_ARTISTS_KEY = RAW_LASTFM_TOP_ARTISTS
ARTIST_INFO_KEY = RAW_LASTFM_ARTIST_INFO
TRACK_INFO_KEY = RAW_LASTFM_TRACK_INFO
LOOKUPS_CHECK = "lookups_found"
# Which not-found lookups belong to which asset.
LOOKUPS = {ARTIST_INFO_KEY: "artist.", TRACK_INFO_KEY: "track."}
ENTITIES = {
    SCROBBLES_KEY: "scrobbles",
    TOP_ARTISTS_KEY: "top_artists",
    ARTIST_INFO_KEY: "artist_info",
    TRACK_INFO_KEY: "track_info",
}


@dataclass
class _Lookups:
    """Info and top-tag records by what was asked, fetched at most once per run."""

    client: LastfmClient
    artists: dict[str, list[dict]] = field(default_factory=dict)
    tracks: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    top_artists: dict[str, list[dict]] = field(default_factory=dict)
    not_found: list[dict[str, str]] = field(default_factory=list)

    def _found(self, kind: str, record: dict | None, **key: str) -> list[dict]:
        if record is None:
            self.not_found.append({"lookup": kind, **key})
            return []
        return [record]

    def artist(self, name: str, context: str) -> list[dict]:
        if name not in self.artists:
            where = f"artist {name!r} for {context}"
            self.artists[name] = self._found(
                "artist.getInfo", self.client.artist_info(name, context=where), artist=name
            ) + self._found(
                "artist.getTopTags", self.client.artist_top_tags(name, context=where), artist=name
            )
        return self.artists[name]

    def track(self, artist: str, title: str, context: str) -> list[dict]:
        key = (artist, title)
        if key not in self.tracks:
            where = f"track {artist!r} - {title!r} for {context}"
            info = self.client.track_info(artist, title, context=where)
            tags = self.client.track_top_tags(artist, title, context=where)
            self.tracks[key] = self._found(
                "track.getInfo", info, artist=artist, track=title
            ) + self._found("track.getTopTags", tags, artist=artist, track=title)
        return self.tracks[key]

    def user_top_artists(self, user: str, context: str) -> list[dict]:
        if user not in self.top_artists:
            self.top_artists[user] = self.client.top_artists(user, context=context)
        return self.top_artists[user]


def fetch_days(client: LastfmClient, users: list[str], days: list[str]) -> dict[str, dict]:
    """For each day: scrobbles, top artists, artist info and track info records of every user.
    Raises on any failure, before anything is written."""
    lookups = _Lookups(client)
    fetched: dict[str, dict[str, Any]] = {}
    for day in days:
        scrobbles: list[dict] = []
        top_artists: list[dict] = []
        for user in users:
            context = f"user {user!r}, day {day}"
            scrobbles += client.recent_tracks(user, date.fromisoformat(day))
            top_artists += lookups.user_top_artists(user, context)
        pairs = heard(scrobbles)
        context = f"day {day}"
        artist_info = [
            r for a in dict.fromkeys(a for a, _ in pairs) for r in lookups.artist(a, context)
        ]
        track_info = [r for a, t in pairs for r in lookups.track(a, t, context)]
        fetched[day] = {
            "scrobbles": scrobbles,
            "top_artists": top_artists,
            "artist_info": artist_info,
            "track_info": track_info,
        }
    return {"days": fetched, "not_found": lookups.not_found}


def _complete_scrobbles(records: list[dict[str, Any]]) -> int:
    """Scrobbles that carry a time, an artist and a title."""
    return sum(
        1
        for item in records
        if (item.get("date") or {}).get("uts") and item.get("artist") and item.get("name")
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            SCROBBLES_KEY,
            description=(
                "Every scrobble of each LASTFM_USERS user on the day (user.getRecentTracks, all "
                "pages, the now-playing item left out), as Last.fm returned it."
            ),
            group_name="raw",
            kinds=KINDS,
            freshness_policy=DAILY_FRESHNESS,
        ),
        dg.AssetSpec(
            TOP_ARTISTS_KEY,
            description="Each user's overall top artists (user.getTopArtists) as of the fetch.",
            group_name="raw",
            kinds=KINDS,
            freshness_policy=DAILY_FRESHNESS,
        ),
        dg.AssetSpec(
            ARTIST_INFO_KEY,
            description="artist.getInfo and artist.getTopTags for every artist heard that day.",
            group_name="raw",
            kinds=KINDS,
            freshness_policy=DAILY_FRESHNESS,
        ),
        dg.AssetSpec(
            TRACK_INFO_KEY,
            description=(
                "track.getInfo (duration, MBID, tags) and track.getTopTags for every track heard "
                "that day: the catalogue of last resort for tracks no other source knows."
            ),
            group_name="raw",
            kinds=KINDS,
            freshness_policy=DAILY_FRESHNESS,
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    check_specs=[
        dg.AssetCheckSpec(
            "scrobbles_complete",
            asset=SCROBBLES_KEY,
            blocking=True,
            description="Every scrobble has a time, an artist and a title.",
        ),
        dg.AssetCheckSpec(
            "top_artists_named",
            asset=TOP_ARTISTS_KEY,
            description="Every top artist record names its artist.",
        ),
        *(
            dg.AssetCheckSpec(
                LOOKUPS_CHECK,
                asset=key,
                description="Last.fm found every artist or track heard (the rest are listed).",
            )
            for key in (ARTIST_INFO_KEY, TRACK_INFO_KEY)
        ),
    ],
)
def raw_lastfm_day(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    selection = sources.selection()
    if reason := selection.skip_reason(Provider.LASTFM):
        yield from skipped(context, selection, reason)
        return
    users = settings.sources.users
    days = context.partition_keys
    try:
        fetched = fetch_days(sources.lastfm_client(), users, days)
    except SourceUnavailableError as error:
        raise retry_later(context, settings, error) from error
    frames = {
        (entity, day): records_frame(records[entity])
        for day, records in fetched["days"].items()
        for entity in ENTITIES.values()
    }
    write_all(settings.raw_dir, SOURCE, frames)
    for key, entity in ENTITIES.items():
        combined = pl.concat([frames[(entity, day)] for day in days])
        extra: dict[str, Any] = {
            "source": "live: Last.fm API",
            "users": len(users),
            **selection.as_metadata(),
        }
        if key in (ARTIST_INFO_KEY, TRACK_INFO_KEY):
            extra["not_found"] = dg.MetadataValue.json(fetched["not_found"])
        yield dg.MaterializeResult(asset_key=key, metadata=landed_metadata(combined, days, **extra))
    records = [r for day in days for r in fetched["days"][day]["scrobbles"]]
    complete = _complete_scrobbles(records)
    yield dg.AssetCheckResult(
        asset_key=SCROBBLES_KEY,
        check_name="scrobbles_complete",
        passed=complete == len(records),
        metadata={"scrobbles": len(records), "incomplete": len(records) - complete},
        description=(
            f"{len(records) - complete} of {len(records)} scrobbles lack a time, artist or title"
        ),
    )
    top = [r for day in days for r in fetched["days"][day]["top_artists"]]
    unnamed = sum(1 for record in top if not record.get("name"))
    yield dg.AssetCheckResult(
        asset_key=TOP_ARTISTS_KEY,
        check_name="top_artists_named",
        passed=unnamed == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"records": len(top), "unnamed": unnamed},
        description=f"{unnamed} of {len(top)} top artist records have no name",
    )
    for key, prefix in LOOKUPS.items():
        missing = [m for m in fetched["not_found"] if m["lookup"].startswith(prefix)]
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=LOOKUPS_CHECK,
            passed=not missing,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"not_found": len(missing), "examples": dg.MetadataValue.json(missing[:5])},
            description=f"Last.fm did not find {len(missing)} lookups; their listens are kept",
        )
