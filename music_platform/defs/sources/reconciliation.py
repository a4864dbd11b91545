"""`staging/track_identity`: the cross-source identity of every heard track and the catalogue
reconciled from every real source, which staging's tracks, artists and listens read.

Checks: the share of heard tracks a catalogue source recognises (blocking, at least
MUSIC_PLATFORM_MIN_MATCH_RATE), and durations that disagree between Last.fm and the catalogue by
more than MUSIC_PLATFORM_DURATION_TOLERANCE_SECONDS (a warning listing them: they are flagged
in the identity, not overwritten).
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.shared.keys import (
    CATALOGUE_FRESHNESS,
    RAW_CATALOGUE_INPUTS,
    TRACK_IDENTITY,
)
from music_platform.defs.shared.metadata import markdown_preview
from music_platform.defs.sources import files, kaggle, spotify
from music_platform.defs.sources.landing import KINDS
from music_platform.defs.sources.skipping import skipped
from music_platform.lib.raw_files import raw_path, write_raw
from music_platform.lib.sources import lastfm
from music_platform.lib.sources.catalogue import ReconciledCatalogue, reconcile
from music_platform.lib.sources.catalogue_inputs import (
    CatalogueInputs,
    heard_from_listened,
    lastfm_artists_from_raw,
    lastfm_tracks_from_raw,
    resolutions_from_raw,
    spotify_from_raw,
)
from music_platform.lib.sources.landed import read_landed
from music_platform.lib.sources.listened import listened_so_far
from music_platform.lib.sources.selection import ListensSource, Provider, SourceSelection
from music_platform.lib.sources.staging_rows import reconciled_path
from music_platform.resources.sources import SourceProviders
from music_platform.settings import Settings

if TYPE_CHECKING:
    import polars as pl

IDENTITY_KEY = TRACK_IDENTITY


def _catalogue_file(settings: Settings, source: str, entity: str) -> "pl.DataFrame | None":
    import polars as pl

    path = raw_path(settings.raw_dir, source, entity)
    return pl.read_parquet(path).select(pl.exclude("^_.*$")) if path.exists() else None


def gather_inputs(selection: SourceSelection, settings: Settings) -> CatalogueInputs:
    """Everything landed so far by the active real sources, parsed."""
    raw = settings.raw_dir
    with_lastfm_info = selection.listens is ListensSource.LASTFM
    spotify_tracks, spotify_artists = spotify_from_raw(
        *(
            read_landed(raw, spotify.SOURCE, entity) if selection.spotify else None
            for entity in ("tracks", "artists", "audio_features")
        )
    )
    return CatalogueInputs(
        heard=heard_from_listened(listened_so_far(selection, raw)),
        lastfm_tracks=lastfm_tracks_from_raw(
            read_landed(raw, lastfm.SOURCE, "track_info") if with_lastfm_info else None
        ),
        lastfm_artists=lastfm_artists_from_raw(
            read_landed(raw, lastfm.SOURCE, "artist_info") if with_lastfm_info else None
        ),
        resolutions=resolutions_from_raw(
            read_landed(raw, spotify.SOURCE, "track_search") if selection.spotify else None
        ),
        spotify_tracks=spotify_tracks,
        spotify_artists=spotify_artists,
        kaggle=_catalogue_file(settings, kaggle.SOURCE, "tracks"),
        tidytuesday=(
            _catalogue_file(settings, files.TIDYTUESDAY_SOURCE, "songs")
            if selection.tidytuesday
            else None
        ),
    )


def _counts(frame: "pl.DataFrame", column: str) -> dict[str, int]:
    return {
        str(value): count
        for value, count in frame.group_by(column).len().sort(column, nulls_last=True).iter_rows()
    }


def _checks(result: ReconciledCatalogue, settings: Settings) -> Iterator[dg.AssetCheckResult]:
    import polars as pl

    heard = result.identity.height
    rate, threshold = result.track_match_rate, settings.min_match_rate
    yield dg.AssetCheckResult(
        check_name="match_rate_above_threshold",
        passed=heard == 0 or rate >= threshold,
        metadata={
            "track_match_rate": rate,
            "artist_match_rate": result.artist_match_rate,
            "threshold": threshold,
            "heard_tracks": heard,
        },
        description=(
            f"{rate:.1%} of {heard} heard tracks matched a catalogue source "
            f"(minimum {threshold:.0%}); the rest were built from Last.fm or their names"
        ),
    )
    unknown = result.identity.filter(pl.col("matched_by").is_null())
    yield dg.AssetCheckResult(
        check_name="heard_tracks_known",
        passed=unknown.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unknown_tracks": unknown.height,
            "heard_tracks": heard,
            "examples": markdown_preview(unknown.select("artist_name", "track_name").head(5)),
        },
        description=(
            f"{unknown.height} of {heard} heard tracks are unknown to every catalogue; their "
            "listens are kept, each track with a row from Last.fm or its names"
        ),
    )
    disagreeing = result.disagreements
    tolerance = settings.duration_tolerance_seconds
    yield dg.AssetCheckResult(
        check_name="durations_agree",
        passed=disagreeing.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "disagreements": disagreeing.height,
            "tolerance_seconds": tolerance,
            "examples": markdown_preview(
                disagreeing.select(
                    "artist_name",
                    "track_name",
                    "track_id",
                    "lastfm_duration_ms",
                    "catalogue_duration_ms",
                )
            ),
        },
        description=(
            f"{disagreeing.height} heard tracks' Last.fm and catalogue durations differ by more "
            f"than {tolerance:g} s; both are kept in the identity"
        ),
    )


@dg.asset(
    key=IDENTITY_KEY,
    deps=list(RAW_CATALOGUE_INPUTS),
    description=(
        "The cross-source identity of every heard track (MBID, Spotify id, normalised "
        "names) with how it matched and both durations, and the catalogue reconciled from "
        "Spotify, Kaggle, TidyTuesday and Last.fm that staging's tracks and artists load."
    ),
    group_name="staging",
    kinds=KINDS,
    freshness_policy=CATALOGUE_FRESHNESS,
    check_specs=[
        dg.AssetCheckSpec(
            "match_rate_above_threshold",
            asset=IDENTITY_KEY,
            blocking=True,
            description="Catalogue sources recognise at least MUSIC_PLATFORM_MIN_MATCH_RATE "
            "of the heard tracks.",
        ),
        dg.AssetCheckSpec(
            "heard_tracks_known",
            asset=IDENTITY_KEY,
            description="Every heard track is in a catalogue (unknown ones are counted).",
        ),
        dg.AssetCheckSpec(
            "durations_agree",
            asset=IDENTITY_KEY,
            description="Last.fm and the catalogue agree on durations within the tolerance.",
        ),
    ],
)
def staging_track_identity(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    selection = sources.selection()
    if reason := selection.skip_reason(Provider.IDENTITY):
        yield from skipped(context, selection, reason)
        return
    result = reconcile(
        gather_inputs(selection, settings),
        duration_tolerance_ms=round(settings.duration_tolerance_seconds * 1000),
    )
    for name, frame in (
        ("track_identity", result.identity),
        ("tracks", result.tracks),
        ("artists", result.artists),
    ):
        write_raw(frame, reconciled_path(settings.reconciled_dir, name))
    context.log.info(
        f"{result.identity.height} heard tracks, {result.track_match_rate:.1%} matched; "
        f"catalogue of {result.tracks.height} tracks and {result.artists.height} artists"
    )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(result.identity.height),
            "preview": markdown_preview(result.identity),
            "track_match_rate": result.track_match_rate,
            "artist_match_rate": result.artist_match_rate,
            "heard_by_match": dg.MetadataValue.json(_counts(result.identity, "matched_by")),
            "heard_by_catalogue_source": dg.MetadataValue.json(
                _counts(result.identity, "catalogue_source")
            ),
            "tracks_by_features_source": dg.MetadataValue.json(
                _counts(result.tracks, "features_source")
            ),
            "duration_disagreements": result.disagreements.height,
            "catalogue_tracks": result.tracks.height,
            "catalogue_artists": result.artists.height,
            **selection.as_metadata(),
        }
    )
    yield from _checks(result, settings)
