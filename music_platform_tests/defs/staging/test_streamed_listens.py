"""staging/listens adds each day's streamed events in the database, and its materialization and
blocking checks count them: loaded, deduplicated against the source's rows, received."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from music_platform.defs.shared.keys import STREAM_LISTEN_EVENTS
from music_platform.defs.staging.assets import _listens_asset, staging_key
from music_platform.lib.raw_files import raw_path, write_raw
from music_platform.lib.schemas import LISTENS, rejects_columns
from music_platform.lib.staging import DuckDBStagingStore
from music_platform.lib.staging.streamed import EventBatch
from music_platform.resources.sources import SourceProviders
from music_platform.resources.staging import DuckDBStaging
from music_platform.settings import get_settings
from music_platform_tests.lib.staging.frames import (
    DAY,
    DAY_START,
    catalogues,
    listens,
    streamed_events,
)
from music_platform_tests.support.platform_env import applied, platform_environment

STREAM_ONLY_DAY = "2024-03-11"
EMPTY_DAY = "2024-03-12"


def land_synthetic_day(day: str) -> None:
    """The synthetic provider's raw listens: 100 listens of `day` and no other day."""
    settings = get_settings()
    raw = listens(100).with_columns(pl.lit("test").alias("_source"))
    write_raw(raw, raw_path(settings.raw_dir, "synthetic", "listens", day))


def materialize(
    store: DuckDBStagingStore, day: str, *, raise_on_error: bool = False
) -> dg.ExecuteInProcessResult:
    settings = get_settings()
    return dg.materialize(
        [_listens_asset()],
        partition_key=day,
        resources={
            "settings": settings,
            "sources": SourceProviders(settings),
            "staging": DuckDBStaging(store.path),
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )


def test_staging_listens_counts_the_streamed_events_of_its_day(tmp_path: Path) -> None:
    with applied(platform_environment(tmp_path / "home")):
        store = DuckDBStagingStore(tmp_path / "staging.duckdb")
        land_synthetic_day(DAY)
        for contract, frame in catalogues():
            store.replace_table(contract, frame, source="test", batch_id=contract.name)
        next_day = DAY_START + dt.timedelta(days=1)
        events = streamed_events(
            ("s-1", "user_001", "track_0001", DAY_START + dt.timedelta(hours=1), 1_000),
            ("e00000003", "user_001", "track_0001", DAY_START, 1_000),  # the source has it
            ("s-2", "user_002", "track_0002", next_day, 1_000),
            ("s-3", "user_003", "track_0003", next_day, 1_000),
        )
        empty = pl.DataFrame(schema=rejects_columns())
        store.write_events(EventBatch(events=events, rejects=empty, source="kafka:events"))

        assert STREAM_LISTEN_EVENTS in _listens_asset().asset_deps[staging_key(LISTENS)]

        both = materialize(store, DAY)
        assert both.success
        [loaded] = both.asset_materializations_for_node("staging__staged_listens")
        metadata = {name: value.value for name, value in loaded.metadata.items()}
        assert metadata["dagster/row_count"] == 101
        assert (metadata["received"], metadata["deduplicated"], metadata["rejected"]) == (102, 1, 0)
        assert metadata["source"] == "test+stream"
        checks = {check.check_name: check.passed for check in both.get_asset_check_evaluations()}
        assert checks == {
            "volume_as_expected": True,
            "reject_rate_within_threshold": True,
            "no_schema_drift": True,
            "tracks_in_catalogue": True,
            "track_match_rate_above_threshold": True,
        }
        assert store.count(LISTENS, DAY) == 101

        stream_only = materialize(store, STREAM_ONLY_DAY)
        assert stream_only.success
        [loaded] = stream_only.asset_materializations_for_node("staging__staged_listens")
        assert loaded.metadata["dagster/row_count"].value == 2
        assert loaded.metadata["source"].value == "stream"
        assert store.count(LISTENS, STREAM_ONLY_DAY) == 2

        # A day neither the source nor the stream has stays an error, as before.
        with pytest.raises(FileNotFoundError, match=f"{EMPTY_DAY}.parquet does not exist"):
            materialize(store, EMPTY_DAY, raise_on_error=True)
