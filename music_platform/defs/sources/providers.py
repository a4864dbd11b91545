"""What staging reads: for each contract table, the raw assets of the active source and their
rows mapped to the contract's columns. Staging knows nothing about sources beyond this.

- synthetic: the raw files already carry the contract's columns.
- reconciled (real listening): tracks and artists from `staging/track_identity`'s catalogue,
  users from who was heard, listens with the identity's track ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.sources import synthetic
from music_platform.defs.sources.listens import (
    events_listens,
    listened,
    listened_so_far,
    raw_listens_key,
    to_listens,
)
from music_platform.defs.sources.reconciliation import IDENTITY_KEY, reconciled_path
from music_platform.defs.sources.selection import ListensSource, SourceSelection
from music_platform.lib import schemas
from music_platform.lib.raw_files import raw_path, read_raw
from music_platform.settings import get_settings

if TYPE_CHECKING:
    import polars as pl

Reader = Callable[[str | None], "tuple[pl.DataFrame, str]"]
"""Partition key (None for catalogues) -> the rows in contract columns, and the source name."""


@dataclass(frozen=True)
class StagingSource:
    deps: tuple[dg.AssetKey, ...]
    read: Reader
    metadata: dict[str, str] = field(default_factory=dict)


def _synthetic(contract: schemas.TableContract, key: dg.AssetKey) -> StagingSource:
    def read(partition_key: str | None) -> tuple[pl.DataFrame, str]:
        import polars as pl

        path = raw_path(get_settings().raw_dir, synthetic.SOURCE, contract.name, partition_key)
        raw = read_raw(path)
        source = raw["_source"][0] if "_source" in raw.columns and raw.height else "unknown"
        return raw.select(pl.exclude("^_.*$")), source

    return StagingSource(deps=(key,), read=read)


def _reconciled(contract: schemas.TableContract) -> Reader:
    def read(_: str | None) -> tuple[pl.DataFrame, str]:
        import polars as pl

        path = reconciled_path(get_settings(), contract.name)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: materialize {IDENTITY_KEY} first")
        frame = pl.read_parquet(path)
        # The batch is one load from several sources; name them all, most rows first.
        sources = frame["catalogue_source"].value_counts(sort=True)["catalogue_source"]
        return frame.select(list(contract.columns)), "+".join(sources.to_list()) or "reconciled"

    return read


def _users(selection: SourceSelection) -> Reader:
    def read(_: str | None) -> tuple[pl.DataFrame, str]:
        import polars as pl

        settings = get_settings()
        heard = listened_so_far(selection, settings.raw_dir)["user_id"].unique().to_list()
        # Configured Last.fm users are users before their first scrobble lands.
        configured = settings.sources.users if selection.listens is ListensSource.LASTFM else []
        names = sorted({*heard, *configured})
        # Last.fm says nothing of country, signup or age here: known columns, unknown values.
        given = {"user_id": names, "username": names}
        users = pl.DataFrame(given, schema=dict.fromkeys(given, pl.String)).select(
            [
                pl.col(c) if c in ("user_id", "username") else pl.lit(None, t).alias(c)
                for c, t in schemas.USERS.columns.items()
            ]
        )
        return users, selection.listens.value

    return read


def _listens(selection: SourceSelection) -> Reader:
    def read(partition_key: str | None) -> tuple[pl.DataFrame, str]:
        import polars as pl

        settings = get_settings()
        if selection.listens is ListensSource.EVENTS_FILE:
            return events_listens(settings.raw_dir, partition_key or ""), selection.listens.value
        identity_path = reconciled_path(settings, "track_identity")
        track_ids = pl.read_parquet(identity_path) if identity_path.exists() else None
        day = listened(selection, settings.raw_dir, partition_key or "")
        return to_listens(day, track_ids), selection.listens.value

    return read


def staging_sources(selection: SourceSelection) -> dict[str, StagingSource]:
    """The source of each staging table, by contract name."""
    described = selection.as_metadata()
    if selection.synthetic:
        sources = {
            schemas.ARTISTS.name: _synthetic(schemas.ARTISTS, synthetic.ARTISTS_KEY),
            schemas.TRACKS.name: _synthetic(schemas.TRACKS, synthetic.TRACKS_KEY),
            schemas.USERS.name: _synthetic(schemas.USERS, synthetic.USERS_KEY),
            schemas.LISTENS.name: _synthetic(schemas.LISTENS, synthetic.LISTENS_KEY),
        }
        return {name: StagingSource(s.deps, s.read, described) for name, s in sources.items()}
    listens_key = raw_listens_key(selection)
    return {
        schemas.ARTISTS.name: StagingSource(
            (IDENTITY_KEY,), _reconciled(schemas.ARTISTS), described
        ),
        schemas.TRACKS.name: StagingSource((IDENTITY_KEY,), _reconciled(schemas.TRACKS), described),
        schemas.USERS.name: StagingSource((listens_key,), _users(selection), described),
        schemas.LISTENS.name: StagingSource(
            (listens_key, IDENTITY_KEY), _listens(selection), described
        ),
    }
