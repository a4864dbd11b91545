"""Spotify (client credentials) for what was heard: each heard (artist, title) resolved by search
with how sure the match is, then the matched tracks and their artists in batches of 50 and
audio features in batches of 100, landed per day as Spotify returned them.

Spotify refusing audio features (403, as it does for apps registered since late 2024) or
staying down past the retry budget is not fatal: the day lands what Spotify gave, says so in
metadata (and a warning check for an outage), and the reconciled catalogue falls back to the
Kaggle row of each track, then to Last.fm's track.getInfo.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg

from music_platform.defs.shared.keys import (
    DAILY_FRESHNESS,
    RAW_REAL_LISTENS,
    RAW_SPOTIFY_ARTISTS,
    RAW_SPOTIFY_AUDIO_FEATURES,
    RAW_SPOTIFY_TRACK_SEARCH,
    RAW_SPOTIFY_TRACKS,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.sources.landing import KINDS, landed_metadata
from music_platform.defs.sources.skipping import skipped
from music_platform.lib.source_errors import SourceUnavailableError
from music_platform.lib.sources.landed import payloads, records_frame, write_all
from music_platform.lib.sources.listened import listened
from music_platform.lib.sources.selection import Provider
from music_platform.lib.sources.spotify import (
    SOURCE,
    AudioFeatures,
    SpotifyCatalogue,
    fetch_catalogue,
)
from music_platform.resources.sources import SourceProviders
from music_platform.settings import Settings

if TYPE_CHECKING:
    import polars as pl

SEARCH_KEY = RAW_SPOTIFY_TRACK_SEARCH
TRACKS_KEY = RAW_SPOTIFY_TRACKS
ARTISTS_KEY = RAW_SPOTIFY_ARTISTS
FEATURES_KEY = RAW_SPOTIFY_AUDIO_FEATURES
ENTITIES = {
    SEARCH_KEY: "track_search",
    TRACKS_KEY: "tracks",
    ARTISTS_KEY: "artists",
    FEATURES_KEY: "audio_features",
}
_DESCRIPTIONS = {
    SEARCH_KEY: (
        "Each (artist, title) heard that day searched on Spotify: the best candidate as "
        "returned, its track id, a 0..1 confidence on normalised names, and why."
    ),
    TRACKS_KEY: "The matched tracks (GET /tracks, batches of 50), as Spotify returned them.",
    ARTISTS_KEY: "The matched tracks' artists (GET /artists, batches of 50).",
    FEATURES_KEY: (
        "Audio features of the matched tracks (GET /audio-features, batches of 100); empty "
        "when Spotify refuses them, and the Kaggle dataset stands in."
    ),
}


def _day_records(
    catalogue: SpotifyCatalogue, pairs: set[tuple[str, str]]
) -> dict[str, list[dict[str, Any]]]:
    """The part of a run's catalogue that a day heard."""
    resolutions = [r for r in catalogue.resolutions if (r.artist, r.title) in pairs]
    track_ids = {r.track_id for r in resolutions if r.track_id}
    tracks = [t for t in catalogue.tracks if t.get("id") in track_ids]
    artist_ids = {a.get("id") for t in tracks for a in t.get("artists") or []}
    return {
        "track_search": [r.as_record() for r in resolutions],
        "tracks": tracks,
        "artists": [a for a in catalogue.artists if a.get("id") in artist_ids],
        "audio_features": [f for f in catalogue.audio_features.records if f.get("id") in track_ids],
    }


def _fetch(
    heard: list[tuple[str, str]], sources: SourceProviders, context: dg.AssetExecutionContext
) -> tuple:
    """The run's catalogue and what Spotify said about it: ok, or why it is missing."""
    try:
        catalogue = fetch_catalogue(sources.spotify_client(), heard)
    except SourceUnavailableError as error:
        context.log.warning(f"{error}: landing nothing; the catalogue falls back to Kaggle")
        empty = AudioFeatures(status="unavailable", records=[], reason=str(error))
        return SpotifyCatalogue([], [], [], empty), f"unavailable: {error}"
    return catalogue, "ok"


def _id_check(key: dg.AssetKey, frame: "pl.DataFrame") -> dg.AssetCheckResult:
    ids = [record.get("id") for record in payloads(frame)]
    missing = sum(1 for i in ids if not i)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name="records_have_ids",
        passed=missing == 0,
        metadata={"records": len(ids), "missing_ids": missing},
        description=f"{missing} of {len(ids)} records have no Spotify id",
    )


@dg.multi_asset(
    name="raw_spotify_day",
    specs=[
        dg.AssetSpec(
            key,
            deps=list(RAW_REAL_LISTENS),
            description=_DESCRIPTIONS[key],
            group_name="raw",
            kinds=KINDS,
            freshness_policy=DAILY_FRESHNESS,
        )
        for key in ENTITIES
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    check_specs=[
        *(
            dg.AssetCheckSpec(
                "records_have_ids",
                asset=key,
                blocking=True,
                description="Every record carries its Spotify id.",
            )
            for key in (TRACKS_KEY, ARTISTS_KEY, FEATURES_KEY)
        ),
        dg.AssetCheckSpec(
            "spotify_answered",
            asset=SEARCH_KEY,
            description="Spotify answered; when it did not, the catalogue fell back.",
        ),
    ],
)
def raw_spotify_day(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    selection = sources.selection()
    if reason := selection.skip_reason(Provider.SPOTIFY):
        yield from skipped(context, selection, reason)
        return
    days = context.partition_keys
    heard_by_day = {
        day: set(
            listened(selection, settings.raw_dir, day)
            .select("artist_name", "track_name")
            .drop_nulls()
            .iter_rows()
        )
        for day in days
    }
    heard = list(dict.fromkeys(p for day in days for p in sorted(heard_by_day[day])))
    catalogue, status = _fetch(heard, sources, context)
    frames = {
        (entity, day): records_frame(records)
        for day in days
        for entity, records in _day_records(catalogue, heard_by_day[day]).items()
    }
    write_all(settings.raw_dir, SOURCE, frames)
    features = catalogue.audio_features
    matches = [r.match for r in catalogue.resolutions]
    for key, entity in ENTITIES.items():
        combined = pl.concat([frames[(entity, day)] for day in days])
        extra: dict[str, Any] = {
            "source": "live: Spotify Web API",
            "spotify": status,
            **selection.as_metadata(),
        }
        if key == SEARCH_KEY:
            extra |= {f"matched_{m}": matches.count(m) for m in ("exact", "fuzzy", "none")}
        if key == FEATURES_KEY:
            extra["audio_features"] = features.status + (
                f" ({features.reason})" if features.reason else ""
            )
        yield dg.MaterializeResult(asset_key=key, metadata=landed_metadata(combined, days, **extra))
        if key != SEARCH_KEY:
            yield _id_check(key, combined)
    yield dg.AssetCheckResult(
        asset_key=SEARCH_KEY,
        check_name="spotify_answered",
        passed=status == "ok",
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"heard": len(heard), "status": status},
        description=(
            f"Spotify resolved {len(heard)} heard tracks"
            if status == "ok"
            else f"Spotify {status}; rerun these days once it is back"
        ),
    )
