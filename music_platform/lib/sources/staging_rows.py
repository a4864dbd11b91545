"""What staging reads: each contract table's rows, from the active providers' landed raw files,
mapped to the contract's columns. Staging knows nothing about sources beyond this.

- synthetic: the raw files already carry the contract's columns.
- reconciled (real listening): tracks and artists from the catalogue that the track identity
  reconciled, users from who was heard, listens with the identity's track ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from music_platform.lib import schemas
from music_platform.lib.raw_files import raw_path, read_raw
from music_platform.lib.sources.listened import (
    events_listens,
    listened,
    listened_so_far,
    to_listens,
)
from music_platform.lib.sources.selection import ListensSource, SourceSelection

if TYPE_CHECKING:
    import polars as pl

    from music_platform.settings import Settings

SYNTHETIC_SOURCE = "synthetic"
"""The raw folder the synthetic provider lands in."""


def reconciled_path(reconciled_dir: Path, name: str) -> Path:
    """`track_identity`, `tracks` or `artists` as last reconciled."""
    return reconciled_dir / f"{name}.parquet"


def _synthetic(table: str, raw_dir: Path, partition_key: str | None) -> tuple[pl.DataFrame, str]:
    import polars as pl

    raw = read_raw(raw_path(raw_dir, SYNTHETIC_SOURCE, table, partition_key))
    source = raw["_source"][0] if "_source" in raw.columns and raw.height else "unknown"
    return raw.select(pl.exclude("^_.*$")), source


def _reconciled(contract: schemas.TableContract, reconciled_dir: Path) -> tuple[pl.DataFrame, str]:
    import polars as pl

    path = reconciled_path(reconciled_dir, contract.name)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: materialize staging/track_identity first")
    frame = pl.read_parquet(path)
    # The batch is one load from several sources; name them all, most rows first.
    sources = frame["catalogue_source"].value_counts(sort=True)["catalogue_source"]
    return frame.select(list(contract.columns)), "+".join(sources.to_list()) or "reconciled"


def _users(selection: SourceSelection, settings: Settings) -> tuple[pl.DataFrame, str]:
    import polars as pl

    heard = listened_so_far(selection, settings.raw_dir)["user_id"].unique().to_list()
    # Configured Last.fm users are users before their first scrobble lands.
    configured = settings.sources.users if selection.listens is ListensSource.LASTFM else []
    names = sorted({*heard, *configured})
    # Last.fm says nothing of country, signup or age here: known columns, unknown values.
    given = {"user_id": names, "username": names}
    users = pl.DataFrame(given, schema=dict.fromkeys(given, pl.String)).select(
        [
            pl.col(c) if c in given else pl.lit(None, t).alias(c)
            for c, t in schemas.USERS.columns.items()
        ]
    )
    return users, selection.listens.value


def _listens(
    selection: SourceSelection, settings: Settings, partition_key: str
) -> tuple[pl.DataFrame, str]:
    import polars as pl

    if selection.listens is ListensSource.EVENTS_FILE:
        return events_listens(settings.raw_dir, partition_key), selection.listens.value
    identity_path = reconciled_path(settings.reconciled_dir, "track_identity")
    track_ids = pl.read_parquet(identity_path) if identity_path.exists() else None
    day = listened(selection, settings.raw_dir, partition_key)
    return to_listens(day, track_ids), selection.listens.value


def staging_rows(
    contract: schemas.TableContract,
    selection: SourceSelection,
    settings: Settings,
    partition_key: str | None,
) -> tuple[pl.DataFrame, str]:
    """The rows of `contract` (one day's for listens) in the contract's columns, from the
    active providers, and the name of the source they came from. Raises FileNotFoundError when
    the providers have not landed them yet."""
    if selection.synthetic:
        return _synthetic(contract.name, settings.raw_dir, partition_key)
    if contract is schemas.LISTENS:
        return _listens(selection, settings, partition_key or "")
    if contract is schemas.USERS:
        return _users(selection, settings)
    return _reconciled(contract, settings.reconciled_dir)
