"""Streamed events join staging/listens: each day's listens are the batch source's rows plus
the events streamed for that day, validated together by staging's listens rules."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from music_platform.defs.sources.providers import StagingSource
from music_platform.defs.streaming.assets import STREAM_KEY, staging_store, stream_sink
from music_platform.settings import get_settings

if TYPE_CHECKING:
    import polars as pl


def with_streamed_listens(source: StagingSource) -> StagingSource:
    """`source` for staging/listens, with the day's streamed events added. A day the batch
    source has not landed is staged from the stream alone (the batch run later adds its rows)."""

    def read(partition_key: str | None) -> tuple[pl.DataFrame, str]:
        import polars as pl

        from music_platform.lib.events import as_listens

        day = dt.date.fromisoformat(partition_key or "")
        streamed = as_listens(stream_sink(staging_store(get_settings())).read_days([day]))
        try:
            batch, name = source.read(partition_key)
        except FileNotFoundError:
            if streamed.is_empty():
                raise
            return streamed, "stream"
        if streamed.is_empty():
            return batch, name or "unknown"
        return pl.concat([batch, streamed], how="vertical_relaxed"), f"{name}+stream"

    return StagingSource(deps=(*source.deps, STREAM_KEY), read=read, metadata=source.metadata)
