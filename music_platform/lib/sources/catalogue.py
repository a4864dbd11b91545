"""One catalogue from every real source, and the cross-source identity of what was heard.

Track identity: each heard (artist, title) is matched to a catalogue track by MBID where both
have one, then Spotify id (Spotify's search resolution), then normalised artist and title
(`lib.sources.identity.match_tracks`). Catalogue rows come from Spotify, then Kaggle, then
TidyTuesday (all keyed by Spotify track id); audio features missing from Spotify (a 403, an
outage) are taken from the Kaggle or TidyTuesday row of the same track. A heard track no
catalogue knows gets a row of its own from Last.fm's track.getInfo (or just its names), keyed
by its name-derived id, so every listen finds its track.

Artist identity: the Spotify id where a Spotify artist has the same normalised name, else the
name-derived id; MBIDs come from Last.fm.

Durations that disagree by more than the tolerance are flagged in the identity, never
overwritten: the catalogue keeps its own duration and the identity keeps Last.fm's beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from music_platform.lib.schemas import ColumnType, polars_schema
from music_platform.lib.sources.catalogue_inputs import (
    CATALOGUE_ARTIST_SCHEMA,
    CATALOGUE_TRACK_SCHEMA,
    FEATURES,
    CatalogueInputs,
)
from music_platform.lib.sources.files import tidytuesday_to_artists, tidytuesday_to_tracks
from music_platform.lib.sources.identity import (
    artist_key,
    heard_keys,
    match_tracks,
    normalise_artist,
    normalised,
)
from music_platform.lib.sources.kaggle import kaggle_to_artists, kaggle_to_tracks

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class ReconciledCatalogue:
    identity: pl.DataFrame
    """One row per heard track: its keys in every source, what matched it, the durations."""
    tracks: pl.DataFrame
    """TRACKS contract columns plus catalogue_source and features_source."""
    artists: pl.DataFrame
    """ARTISTS contract columns plus catalogue_source."""
    track_match_rate: float
    artist_match_rate: float

    @property
    def disagreements(self) -> pl.DataFrame:
        import polars as pl

        return self.identity.filter(pl.col("duration_disagrees"))


def _labelled(frame: pl.DataFrame, source: str, types: Mapping[str, ColumnType]) -> pl.DataFrame:
    """A file source's rows in `types`' columns, labelled, every artist id set: names that
    normalise to nothing ("!!!") get no `name_id`, so they get `artist_key`'s hash of the
    name instead."""
    import polars as pl

    missing = frame.filter(pl.col("artist_id").is_null() & pl.col("artist_name").is_not_null())
    ids = {name: artist_key(name) for name in missing["artist_name"].unique()}
    return frame.with_columns(
        pl.coalesce(
            "artist_id",
            pl.col("artist_name").replace_strict(ids, default=None, return_dtype=pl.String),
        ).alias("artist_id"),
        pl.lit(source).alias("catalogue_source"),
    ).select([pl.col(c).cast(t) for c, t in polars_schema(types).items()])


def _file_catalogues(inputs: CatalogueInputs) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """Kaggle and TidyTuesday tracks (with their first artist's name) and artists."""
    tracks, artists = [], []
    if inputs.kaggle is not None and inputs.kaggle.height:
        first_artist = inputs.kaggle["artists"].str.split(";").list.first().str.strip_chars()
        shaped = kaggle_to_tracks(inputs.kaggle).with_columns(first_artist.alias("artist_name"))
        tracks.append(_labelled(shaped, "kaggle", CATALOGUE_TRACK_SCHEMA))
        artists.append(
            _labelled(kaggle_to_artists(inputs.kaggle), "kaggle", CATALOGUE_ARTIST_SCHEMA)
        )
    if inputs.tidytuesday is not None and inputs.tidytuesday.height:
        songs = inputs.tidytuesday
        shaped = tidytuesday_to_tracks(songs).with_columns(
            songs["track_artist"].alias("artist_name")
        )
        tracks.append(_labelled(shaped, "tidytuesday", CATALOGUE_TRACK_SCHEMA))
        artists.append(
            _labelled(tidytuesday_to_artists(songs), "tidytuesday", CATALOGUE_ARTIST_SCHEMA)
        )
    return tracks, artists


def _with_fallback_features(tracks: pl.DataFrame, donors: pl.DataFrame) -> pl.DataFrame:
    """Audio features (and a missing genre) from a file row of the same track id, else of the
    same normalised artist and title; `features_source` says whose they are."""
    import polars as pl

    donors = donors.filter(pl.col("danceability").is_not_null())
    given = [*FEATURES, "genre", "catalogue_source"]
    by_id = donors.unique("track_id", keep="first", maintain_order=True).select(
        "track_id", *[pl.col(c).alias(f"{c}__id") for c in given]
    )
    by_name = donors.unique("name_key", keep="first", maintain_order=True).select(
        "name_key", *[pl.col(c).alias(f"{c}__name") for c in given]
    )
    joined = tracks.join(by_id, on="track_id", how="left", maintain_order="left").join(
        by_name, on="name_key", how="left", maintain_order="left"
    )
    own = pl.col("danceability").is_not_null()
    from_id = pl.col("danceability__id").is_not_null()

    def pick(column: str, own_value: pl.Expr) -> pl.Expr:
        import polars as pl

        return (
            pl.when(own)
            .then(own_value)
            .when(from_id)
            .then(pl.col(f"{column}__id"))
            .otherwise(pl.col(f"{column}__name"))
        )

    return joined.with_columns(
        *[pick(c, pl.col(c)).alias(c) for c in FEATURES],
        pick("catalogue_source", pl.col("catalogue_source")).alias("features_source"),
        pl.coalesce("genre", "genre__id", "genre__name").alias("genre"),
    ).select(*CATALOGUE_TRACK_SCHEMA, "features_source")


def _artist_id_map(spotify_artists: pl.DataFrame) -> dict[str, str]:
    """Name-derived artist id -> Spotify artist id, the most popular Spotify artist per name."""
    ranked = spotify_artists.sort("popularity", descending=True, nulls_last=True)
    mapping: dict[str, str] = {}
    for artist_id, name in ranked.select("artist_id", "artist_name").iter_rows():
        mapping.setdefault(artist_key(name), artist_id)
    return mapping


def _artist_id(name: str | None, to_spotify: dict[str, str]) -> str:
    derived = artist_key(name)
    return to_spotify.get(derived, derived)


def reconcile(inputs: CatalogueInputs, *, duration_tolerance_ms: int) -> ReconciledCatalogue:
    import polars as pl

    file_tracks, file_artists = _file_catalogues(inputs)
    to_spotify = _artist_id_map(inputs.spotify_artists)

    def canonical_artists(frame: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        return frame.with_columns(pl.col("artist_id").replace(to_spotify))

    every_row = pl.concat([inputs.spotify_tracks, *file_tracks])
    # Normalised names, once per row, for the feature fallback by name.
    every_row = every_row.with_columns(heard_keys(every_row).alias("name_key"))
    donors = every_row.filter(pl.col("catalogue_source") != "spotify")
    catalogue = canonical_artists(every_row.unique("track_id", keep="first", maintain_order=True))
    catalogue = _with_fallback_features(catalogue, donors)

    heard = (
        inputs.heard.join(inputs.lastfm_tracks, on="heard_key", how="left", maintain_order="left")
        .join(inputs.resolutions, on="heard_key", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("track_mbid", "lastfm_track_mbid").alias("track_mbid"),
            pl.when(pl.col("spotify_match") != "none")
            .then(pl.col("spotify_search_id"))
            .alias("spotify_track_id"),
        )
    )
    matched = match_tracks(
        heard.select(
            "artist_name",
            "track_name",
            "track_mbid",
            "spotify_track_id",
            pl.col("lastfm_duration_ms").alias("duration_ms"),
        ),
        catalogue.select(
            "artist_name",
            "track_name",
            "track_mbid",
            pl.col("track_id").alias("spotify_track_id"),
            "duration_ms",
        ),
        duration_tolerance_ms=duration_tolerance_ms,
    )
    identity = _identity(heard, catalogue, matched.pairs, duration_tolerance_ms)
    heard_only = _heard_only_tracks(identity, heard, to_spotify)
    tracks = pl.concat([catalogue, heard_only]).unique(
        "track_id", keep="first", maintain_order=True
    )
    artists = _artists(inputs, file_artists, tracks, canonical_artists, to_spotify)
    return ReconciledCatalogue(
        identity=identity,
        tracks=tracks,
        artists=artists,
        track_match_rate=matched.match_rate,
        artist_match_rate=_artist_match_rate(inputs.heard, inputs.spotify_artists, file_artists),
    )


def _identity(
    heard: pl.DataFrame, catalogue: pl.DataFrame, pairs: pl.DataFrame, tolerance_ms: int
) -> pl.DataFrame:
    import polars as pl

    matched = pairs.select(
        "left_row",
        "right_row",
        "matched_by",
        pl.col("duration_ms_right").alias("catalogue_duration_ms"),
        "duration_diff_ms",
    ).join(
        catalogue.with_row_index("right_row").select(
            "right_row", "track_id", "catalogue_source", "features_source"
        ),
        on="right_row",
        how="left",
    )
    known_to_lastfm = (
        pl.col("lastfm_duration_ms").is_not_null() | pl.col("lastfm_genre").is_not_null()
    )
    return (
        heard.with_row_index("left_row")
        .join(matched, on="left_row", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("track_id", "heard_key").alias("track_id"),
            pl.coalesce(
                "catalogue_source",
                pl.when(known_to_lastfm).then(pl.lit("lastfm")).otherwise(pl.lit("names")),
            ).alias("catalogue_source"),
            (pl.col("duration_diff_ms").fill_null(0) > tolerance_ms).alias("duration_disagrees"),
        )
        .select(
            "heard_key",
            "artist_name",
            "track_name",
            "track_mbid",
            "artist_mbid",
            "spotify_search_id",
            "spotify_confidence",
            "spotify_match",
            "matched_by",
            "track_id",
            "catalogue_source",
            "features_source",
            "lastfm_duration_ms",
            "catalogue_duration_ms",
            "duration_diff_ms",
            "duration_disagrees",
        )
    )


def _heard_only_tracks(
    identity: pl.DataFrame, heard: pl.DataFrame, to_spotify: dict[str, str]
) -> pl.DataFrame:
    """Catalogue rows for heard tracks no catalogue knows: Last.fm's facts, or just the names."""
    import polars as pl

    unknown = identity.filter(pl.col("matched_by").is_null()).join(
        heard.select("heard_key", "lastfm_duration_ms", "lastfm_genre"),
        on="heard_key",
        how="left",
        maintain_order="left",
    )
    artist_ids = {name: _artist_id(name, to_spotify) for name in unknown["artist_name"].unique()}
    given = unknown.select(
        "track_id",
        "track_name",
        "track_mbid",
        pl.col("artist_name").replace_strict(artist_ids, return_dtype=pl.String).alias("artist_id"),
        pl.col("lastfm_duration_ms").alias("duration_ms"),
        pl.col("lastfm_genre").alias("genre"),
        "artist_name",
        "catalogue_source",
    )
    return _conformed(given, CATALOGUE_TRACK_SCHEMA).with_columns(
        pl.lit(None, pl.String).alias("features_source")
    )


def _conformed(frame: pl.DataFrame, types: Mapping[str, ColumnType]) -> pl.DataFrame:
    """`frame` with exactly `types`' columns: cast where present, null where not."""
    import polars as pl

    return frame.select(
        [
            pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
            for name, dtype in polars_schema(types).items()
        ]
    )


def _artists(
    inputs: CatalogueInputs,
    file_artists: list[pl.DataFrame],
    tracks: pl.DataFrame,
    canonical_artists: Callable[[pl.DataFrame], pl.DataFrame],
    to_spotify: dict[str, str],
) -> pl.DataFrame:
    """Spotify, then file, then Last.fm artists; every track's artist present; MBIDs from
    Last.fm (its info, else the scrobbles) by normalised name."""
    import polars as pl

    lastfm = inputs.lastfm_artists.select(
        pl.col("artist_name")
        .map_elements(lambda name: _artist_id(name, to_spotify), return_dtype=pl.String)
        .alias("artist_id"),
        "artist_name",
        "artist_mbid",
        "genres",
    ).with_columns(pl.lit("lastfm").alias("catalogue_source"))
    named = (
        tracks.select("artist_id", "artist_name")
        .unique("artist_id", keep="first", maintain_order=True)
        .with_columns(pl.lit("names").alias("catalogue_source"))
    )
    candidates = [
        inputs.spotify_artists,
        *[canonical_artists(frame) for frame in file_artists],
        lastfm,
        named,
    ]
    artists = pl.concat([_conformed(f, CATALOGUE_ARTIST_SCHEMA) for f in candidates]).unique(
        "artist_id", keep="first", maintain_order=True
    )
    mbids = pl.concat(
        [
            inputs.lastfm_artists.select("artist_name", "artist_mbid"),
            inputs.heard.select("artist_name", "artist_mbid"),
        ]
    ).drop_nulls()
    by_key = {normalise_artist(name): mbid for name, mbid in mbids.iter_rows()}
    keys = normalised("artist_name", normalise_artist)(artists)
    from_lastfm = keys.replace_strict(by_key, default=None, return_dtype=pl.String)
    return artists.with_columns(
        pl.coalesce(pl.col("artist_mbid"), from_lastfm).alias("artist_mbid")
    ).filter(pl.col("artist_id").is_not_null())


def _artist_match_rate(
    heard: pl.DataFrame, spotify_artists: pl.DataFrame, file_artists: list[pl.DataFrame]
) -> float:
    """Share of heard artists a catalogue source knows by normalised name."""
    heard_names = {normalise_artist(n) for n in heard["artist_name"].unique().drop_nulls()}
    known = {
        normalise_artist(name)
        for frame in (spotify_artists, *file_artists)
        for name in frame["artist_name"].unique().drop_nulls()
    }
    return len(heard_names & known) / len(heard_names) if heard_names else 0.0
