"""The synthetic source: a seeded, believable world of artists, tracks, users and listening.

It stands in for the Last.fm and Spotify APIs when no keys are set, so the whole graph runs on
any machine. Raw files land unchanged with `_source`, `_fetched_at` and `_request` beside each
record, like the live sources.
"""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.partitions import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.shared.metadata import table_metadata
from music_platform.lib import schemas
from music_platform.lib.raw_files import raw_path, read_raw, write_raw
from music_platform.settings import get_settings

if TYPE_CHECKING:  # the generator's numpy and pyarrow load in the steps that generate
    import polars as pl

    from music_platform.lib.synthetic import Catalogue, SyntheticConfig

SOURCE = "synthetic"
ARTISTS_KEY = dg.AssetKey(["raw", SOURCE, "artists"])
TRACKS_KEY = dg.AssetKey(["raw", SOURCE, "tracks"])
USERS_KEY = dg.AssetKey(["raw", SOURCE, "users"])
LISTENS_KEY = dg.AssetKey(["raw", SOURCE, "listens"])
KINDS = {"python", "parquet"}


def synthetic_config() -> "SyntheticConfig":
    from music_platform.lib.synthetic import SyntheticConfig

    sizes = get_settings().synthetic
    return SyntheticConfig(
        seed=sizes.seed,
        users=sizes.users,
        artists=sizes.artists,
        tracks=sizes.tracks,
        events_per_day=sizes.events_per_day,
    )


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
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    from music_platform.lib.synthetic import generate_catalogue

    config = synthetic_config()
    catalogue = generate_catalogue(config)
    request = {
        "generator": "catalogue",
        "seed": config.seed,
        "artists": config.artists,
        "tracks": config.tracks,
    }
    raw_dir = get_settings().raw_dir
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
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    from music_platform.lib.synthetic import generate_users

    config = synthetic_config()
    as_of = date.fromisoformat(get_settings().partitions_start)
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
        raw_path(get_settings().raw_dir, SOURCE, schemas.USERS.name),
    )
    context.log.info(f"landed {users.height} users at {path}")
    yield dg.MaterializeResult(
        metadata=table_metadata(users, extra={"path": str(path), "source": SOURCE})
    )
    yield _key_check(users[schemas.USERS.primary_key[0]], USERS_KEY)


def _without_landing_columns(frame: "pl.DataFrame") -> "pl.DataFrame":
    import polars as pl

    return frame.select(pl.exclude("^_.*$"))


def load_landed_world() -> "tuple[Catalogue, pl.DataFrame]":
    """The catalogue and users as landed, so daily listening draws from what staging has."""
    from music_platform.lib.synthetic import Catalogue

    raw_dir = get_settings().raw_dir
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
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    from music_platform.lib.synthetic import generate_listens

    config = synthetic_config()
    catalogue, users = load_landed_world()
    raw_dir = get_settings().raw_dir
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
        keys.append(listens[key])
    all_keys = pl.concat(keys)
    yield dg.MaterializeResult(
        metadata=table_metadata(
            listens,
            rows=all_keys.len(),
            extra={
                "source": SOURCE,
                "partitions": len(context.partition_keys),
                "window": f"{context.partition_keys[0]} .. {context.partition_keys[-1]}",
            },
        )
    )
    yield _key_check(all_keys, LISTENS_KEY)
