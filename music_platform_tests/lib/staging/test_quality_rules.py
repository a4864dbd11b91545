"""The quality rules staging applies on every path (API payloads included), on both stores:
out-of-range facts, encoding damage, zoneless and future timestamps, plays far longer than their
track are rejected with the column and the value; legitimately odd rows are not; a screened
file's rejects replace the previous ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from music_platform.lib.schemas import LISTENS, TRACKS, rejects_columns
from music_platform.lib.staging import StagingStore
from music_platform.lib.staging.validate import validate
from music_platform_tests.lib.staging.frames import DAY, listens
from music_platform_tests.support.defects import DEFECTS, KAGGLE, write_defective


def _tracks(**columns: list) -> pl.DataFrame:
    rows = len(next(iter(columns.values())))
    base = {
        "track_id": [f"t{n}" for n in range(rows)],
        "track_name": [f"Song {n}" for n in range(rows)],
        "duration_ms": [200_000] * rows,
        "popularity": [50] * rows,
        "danceability": [0.5] * rows,
    }
    return pl.DataFrame({**base, **columns})


def _reasons(store: StagingStore, table: str, partition_key: str | None = None) -> dict:
    rejects = store.rejects(table, partition_key)
    return dict(zip(rejects["record_key"], rejects["reason"], strict=True))


def test_track_facts_outside_their_ranges_and_damaged_text_are_rejected(
    store: StagingStore,
) -> None:
    frame = _tracks(
        track_name=["Jóga", "Song\x07", "BjÃ¶rk", "戦場のメリークリスマス", "Fine", "Fine", "!!!"],
        duration_ms=[500, 200_000, 200_000, 5_400_000, 0, 200_000, 200_000],
        popularity=[50, 50, 50, 100, 50, 101, 0],
        danceability=[0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 1.7],
    )

    result = store.replace_table(TRACKS, frame, source="spotify", batch_id="b1")

    assert result.rows_loaded == 2  # the 0.5 s track and the 90-minute one, with real names
    assert _reasons(store, "tracks") == {
        "t1": "track_name: control character in Song?",
        "t2": "track_name: mojibake (UTF-8 read as Latin-1) in 'BjÃ¶rk'",
        "t4": "duration_ms 0 is outside [1, 21600000]",
        "t5": "popularity 101 is outside [0, 100]",
        "t6": "danceability 1.7 is outside [0, 1]",
    }


def test_zoneless_future_and_overlong_listens_are_rejected_and_midnight_is_not(
    store: StagingStore,
) -> None:
    frame = listens(5).with_columns(
        listened_at=pl.Series(
            [
                f"{DAY}T00:00:00Z",  # exactly midnight: the day's first instant
                f"{DAY} 10:00:00",
                f"{DAY}T11:00:00+01:00",
                f"{DAY}T12:00:00Z",
                f"{DAY}T13:00:00Z",
            ]
        ),
        track_id=pl.Series(["t0", "t0", "t0", "t0", "t1"]),
        ms_played=pl.Series([1_000, 1_000, 1_000, 700_000, 1_000], dtype=pl.Int32),
    )
    durations = pl.DataFrame({"track_id": ["t0", "t1"], "duration_ms": [200_000, 200_000]})

    validation = validate(LISTENS, frame, partition_key=DAY, track_durations=durations)
    result = store.replace_partition(
        LISTENS,
        frame,
        partition_key=DAY,
        source="stream",
        batch_id="b1",
        track_durations=durations,
    )

    assert result.rows_loaded == 3
    assert _reasons(store, "listens", DAY) == {
        "e00000001": f"listened_at: '{DAY} 10:00:00' has no time zone (add Z or an offset)",
        "e00000003": "ms_played 700000 is over 3 times the track's duration_ms 200000",
    }
    assert validation.valid["event_id"].to_list() == ["e00000000", "e00000002", "e00000004"]


def test_a_listen_in_the_future_is_rejected() -> None:
    now = dt.datetime(2024, 3, 10, 12, tzinfo=dt.UTC)
    frame = listens(2).with_columns(
        listened_at=pl.Series([now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)])
    )
    result = validate(LISTENS, frame, partition_key=DAY, now=now)
    assert result.reject_reasons == {"listened_at: in the future": 1}
    assert "is in the future (now 2024-03-10T12:00Z)" in result.rejects["reason"][0]


def test_a_screened_file_s_rejects_replace_its_previous_ones(
    store: StagingStore, shared_data: Path, tmp_path: Path
) -> None:
    defect = next(d for d in DEFECTS if d.kind == "mojibake")
    _, screened = KAGGLE.read(write_defective(defect, shared_data, tmp_path))
    rows = screened.rejects.select(
        pl.lit("file:kaggle_tracks").alias("table_name"),
        pl.lit("").alias("partition_key"),
        "record_key",
        "reason",
        "record",
        pl.lit("b1").alias("batch_id"),
        pl.lit(dt.datetime.now(dt.UTC)).alias("rejected_at"),
    ).cast(rejects_columns())

    for _ in range(2):  # idempotent
        store.replace_rejects("file:kaggle_tracks", "", rows)
    kept = store.rejects("file:kaggle_tracks")
    assert kept.height == 1
    assert kept["reason"][0] == "artists: mojibake (UTF-8 read as Latin-1) in 'BjÃ¶rk'"
    assert '"artists":"BjÃ¶rk"' in kept["record"][0]

    store.replace_rejects("file:kaggle_tracks", "", rows.clear())
    assert store.rejects("file:kaggle_tracks").is_empty()
