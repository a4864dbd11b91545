"""The synthetic provider: a seeded, believable world of artists, tracks, users and listening.

It stands in for the Last.fm and Spotify APIs when no keys are set, so the whole graph runs on
any machine; when real listening is configured its assets skip. Raw files land unchanged with
`_source`, `_fetched_at` and `_request` beside each record, like the live sources.
"""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.shared.keys import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    PARTITIONS_START,
    RAW_SYNTHETIC_ARTISTS,
    RAW_SYNTHETIC_LISTENS,
    RAW_SYNTHETIC_TRACKS,
    RAW_SYNTHETIC_USERS,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.shared.metadata import table_metadata
from music_platform.defs.sources.landing import KINDS
from music_platform.defs.sources.skipping import skipped
from music_platform.lib import schemas
from music_platform.lib.raw_files import raw_path, read_raw, write_raw
from music_platform.lib.sources.selection import Provider
from music_platform.lib.sources.staging_rows import SYNTHETIC_SOURCE as SOURCE
from music_platform.resources.sources import SourceProviders
from music_platform.settings import Settings

if TYPE_CHECKING:  # the generator's numpy and pyarrow load in the steps that generate
    import polars as pl

    from music_platform.lib.synthetic import Catalogue

ARTISTS_KEY = RAW_SYNTHETIC_ARTISTS
TRACKS_KEY = RAW_SYNTHETIC_TRACKS
USERS_KEY = RAW_SYNTHETIC_USERS
LISTENS_KEY = RAW_SYNTHETIC_LISTENS


def _with_landing_columns(frame: "pl.DataFrame", request: dict[str, object]) -> "pl.DataFrame":
    """Record where and when each record came from, as a live fetch would."""
    import polars as pl

    return frame.with_columns(
        pl.lit(SOURCE).alias("_source"),
        pl.lit(datetime.now(UTC)).alias("_fetched_at"),
        pl.lit(json.dumps(request, sort_keys=True)).alias("_request"),
    )


def _key_check(keys: "pl.Series", asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    """Keys must be present and unique for the record to be usable downstream at all."""
    nulls = keys.null_count()
    duplicates = keys.len() - keys.n_unique()
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="keys_present_and_unique",
        passed=nulls == 0 and duplicates == 0,
        metadata={"null_keys": nulls, "duplicate_keys": duplicates, "key": keys.name},
        description=f"{keys.name}: {nulls} null, {duplicates} duplicated of {keys.len()} records",
    )


def _key_check_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "keys_present_and_unique",
        asset=asset_key,
        blocking=True,
        description="Every record has its key, and no key repeats.",
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ARTISTS_KEY,
            description="Synthetic artists with genres, country and long-tailed popularity.",
            group_name="raw",
            kinds=KINDS,
            freshness_policy=CATALOGUE_FRESHNESS,
        ),
        dg.AssetSpec(
            TRACKS_KEY,
            description="Synthetic tracks with albums, durations, genres and audio features.",
            group_name="raw",
            kinds=KINDS,
            freshness_policy=CATALOGUE_FRESHNESS,
        ),
    ],
    check_specs=[_key_check_spec(ARTISTS_KEY), _key_check_spec(TRACKS_KEY)],
)
def raw_synthetic_catalogue(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    from music_platform.lib.synthetic import config_from, generate_catalogue

    selection = sources.selection()
    if reason := selection.skip_reason(Provider.SYNTHETIC):
        yield from skipped(context, selection, reason)
        return
    config = config_from(settings.synthetic)
    catalogue = generate_catalogue(config)
    request = {
        "generator": "catalogue",
        "seed": config.seed,
        "artists": config.artists,
        "tracks": config.tracks,
    }
    raw_dir = settings.raw_dir
    for key, contract, frame in (
        (ARTISTS_KEY, schemas.ARTISTS, catalogue.artists),
        (TRACKS_KEY, schemas.TRACKS, catalogue.tracks),
    ):
        path = write_raw(
            _with_landing_columns(frame, request), raw_path(raw_dir, SOURCE, contract.name)
        )
        context.log.info(f"landed {frame.height} {contract.name} at {path}")
        yield dg.MaterializeResult(
            asset_key=key,
            metadata=table_metadata(frame, extra={"path": str(path), "source": SOURCE}),
        )
        yield _key_check(frame[contract.primary_key[0]], key)


@dg.asset(
    key=USERS_KEY,
    description="Synthetic listeners with a country, signup date and birth year.",
    group_name="raw",
    kinds=KINDS,
    freshness_policy=CATALOGUE_FRESHNESS,
    check_specs=[_key_check_spec(USERS_KEY)],
)
def raw_synthetic_users(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    from music_platform.lib.synthetic import config_from, generate_users

    selection = sources.selection()
    if reason := selection.skip_reason(Provider.SYNTHETIC):
        yield from skipped(context, selection, reason)
        return
    config = config_from(settings.synthetic)
    as_of = date.fromisoformat(PARTITIONS_START)
    users = generate_users(config, as_of=as_of)
    path = write_raw(
        _with_landing_columns(
            users,
            {
                "generator": "users",
                "seed": config.seed,
                "users": config.users,
                "as_of": as_of.isoformat(),
            },
        ),
        raw_path(settings.raw_dir, SOURCE, schemas.USERS.name),
    )
    context.log.info(f"landed {users.height} users at {path}")
    yield dg.MaterializeResult(
        metadata=table_metadata(users, extra={"path": str(path), "source": SOURCE})
    )
    yield _key_check(users[schemas.USERS.primary_key[0]], USERS_KEY)


def _without_landing_columns(frame: "pl.DataFrame") -> "pl.DataFrame":
    import polars as pl

    return frame.select(pl.exclude("^_.*$"))


def load_landed_world(raw_dir: Path) -> "tuple[Catalogue, pl.DataFrame]":
    """The catalogue and users as landed, so daily listening draws from what staging has."""
    from music_platform.lib.synthetic import Catalogue

    artists, tracks, users = (
        _without_landing_columns(read_raw(raw_path(raw_dir, SOURCE, contract.name)))
        for contract in (schemas.ARTISTS, schemas.TRACKS, schemas.USERS)
    )
    return Catalogue(artists=artists, tracks=tracks), users


@dg.asset(
    key=LISTENS_KEY,
    deps=[ARTISTS_KEY, TRACKS_KEY, USERS_KEY],
    description="One day of synthetic listening events: sessions, skips, taste and a long tail.",
    group_name="raw",
    kinds=KINDS,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    freshness_policy=DAILY_FRESHNESS,
    check_specs=[_key_check_spec(LISTENS_KEY)],
)
def raw_synthetic_listens(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    from music_platform.lib.synthetic import config_from, generate_listens

    selection = sources.selection()
    if reason := selection.skip_reason(Provider.SYNTHETIC):
        yield from skipped(context, selection, reason)
        return
    config = config_from(settings.synthetic)
    raw_dir = settings.raw_dir
    catalogue, users = load_landed_world(raw_dir)
    # Only the keys stay in memory across the window (a month is millions of events); each day's
    # rows are written and dropped.
    (key,) = schemas.LISTENS.primary_key
    keys = []
    for partition_key in context.partition_keys:
        listens = generate_listens(config, date.fromisoformat(partition_key), catalogue, users)
        request = {"generator": "listens", "seed": config.seed, "day": partition_key}
        write_raw(
            _with_landing_columns(listens, request),
            raw_path(raw_dir, SOURCE, schemas.LISTENS.name, partition_key),
        )
        context.log.info(f"{partition_key}: landed {listens.height} listening events")
        # Each day's materialization carries that day's own count.
        context.add_asset_metadata(
            {"dagster/row_count": dg.MetadataValue.int(listens.height)}, partition_key=partition_key
        )
        keys.append(listens[key])
    all_keys = pl.concat(keys)
    yield dg.MaterializeResult(
        metadata=table_metadata(
            listens,
            rows=all_keys.len(),
            extra={
                "source": SOURCE,
                "window": f"{context.partition_keys[0]} .. {context.partition_keys[-1]}",
            },
        )
    )
    yield _key_check(all_keys, LISTENS_KEY)
