"""validate(): typing, reject reasons, duplicates, listens rules, drift."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from music_platform.lib.schemas import LISTENS, TRACKS, USERS
from music_platform.lib.staging import MAX_MS_PLAYED, SchemaDriftError, validate
from music_platform_tests.lib.staging.frames import DAY, lastfm_listens, listens


def reasons_by_key(rejects: pl.DataFrame) -> dict[str | None, str]:
    return dict(zip(rejects["record_key"], rejects["reason"], strict=True))


def test_clean_typed_frame_passes_whole_and_typed() -> None:
    frame = listens(100)
    result = validate(LISTENS, frame, partition_key=DAY)
    assert result.valid.schema == pl.Schema(LISTENS.columns)
    assert result.valid.equals(frame)
    assert result.rejects.is_empty()
    assert result.reject_reasons == {}
    assert not result.drift.drifted


def test_text_columns_are_cast_per_row_and_bad_values_named() -> None:
    frame = pl.DataFrame(
        {
            "event_id": ["a", "b", "c", "d"],
            "user_id": ["u"] * 4,
            "track_id": ["t"] * 4,
            "listened_at": [
                f"{DAY}T10:00:00Z",
                f"{DAY} 11:30:00",  # no offset: no known instant
                f"{DAY}T12:00:00+02:00",
                "yesterday",
            ],
            "ms_played": ["1000", " 2000 ", "abc", "3000"],
        }
    )
    result = validate(LISTENS, frame, partition_key=DAY)
    assert result.valid["event_id"].to_list() == ["a"]
    assert result.valid["listened_at"].to_list() == [dt.datetime(2024, 3, 10, 10, 0, tzinfo=dt.UTC)]
    assert result.valid["ms_played"].to_list() == [1000]
    assert reasons_by_key(result.rejects) == {
        "b": f"listened_at: '{DAY} 11:30:00' has no time zone (add Z or an offset)",
        "c": "ms_played: 'abc' is not Int32",
        "d": "listened_at: 'yesterday' is not Datetime",
    }
    assert result.reject_reasons == {
        "ms_played: not Int32": 1,
        "listened_at: not Datetime": 1,
        "listened_at: no time zone": 1,
    }


def test_offsets_are_converted_to_utc() -> None:
    frame = listens(1).with_columns(listened_at=pl.lit(f"{DAY}T12:00:00+02:00"))
    result = validate(LISTENS, frame.drop("listen_date"), partition_key=DAY)
    assert result.valid["listened_at"][0] == dt.datetime(2024, 3, 10, 10, tzinfo=dt.UTC)


def test_null_keys_and_duplicates_are_rejected_keeping_the_first() -> None:
    frame = listens(5).with_columns(
        event_id=pl.Series(["x", None, "x", "y", "x"]), ms_played=pl.Series([1, 2, 3, 4, 5])
    )
    result = validate(LISTENS, frame, partition_key=DAY)
    assert result.valid["event_id"].to_list() == ["x", "y"]
    assert result.valid["ms_played"].to_list() == [1, 4]
    assert result.rejects["reason"].to_list() == [
        "event_id is null",
        "duplicate event_id",
        "duplicate event_id",
    ]
    assert result.reject_reasons == {"event_id: null": 1, "duplicate event_id": 2}


def test_a_broken_first_copy_does_not_hide_a_good_second_one() -> None:
    frame = listens(2).with_columns(event_id=pl.lit("same"), ms_played=pl.Series([-1, 10]))
    result = validate(LISTENS, frame, partition_key=DAY)
    assert result.valid["ms_played"].to_list() == [10]
    assert result.rejects["reason"].to_list() == ["ms_played -1 is negative"]


def test_listens_rules_durations_day_and_known_keys() -> None:
    frame = (
        listens(6)
        .with_columns(
            event_id=pl.Series(["ok", "neg", "long", "late", "track?", "user?"]),
            ms_played=pl.Series([1, -5, MAX_MS_PLAYED + 1, 1, 1, 1], dtype=pl.Int32),
            listened_at=pl.Series(
                [f"{DAY}T00:00:00Z"] * 3 + ["2024-03-11T00:00:00Z"] + [f"{DAY}T23:59:59Z"] * 2
            ),
            track_id=pl.Series(["t1", "t1", "t1", "t1", "t404", "t1"]),
            user_id=pl.Series(["u1", "u1", "u1", "u1", "u1", "u404"]),
        )
        .drop("listen_date")
    )
    known = {"track_id": pl.Series(["t1", "t2"]), "user_id": pl.Series(["u1"])}
    result = validate(LISTENS, frame, partition_key=DAY, known_keys=known)
    assert result.valid["event_id"].to_list() == ["ok"]
    reasons = reasons_by_key(result.rejects)
    assert reasons["neg"] == "ms_played -5 is negative"
    assert reasons["long"] == f"ms_played {MAX_MS_PLAYED + 1} exceeds {MAX_MS_PLAYED} (3 hours)"
    assert "listened_at 2024-03-11T00:00:00Z is outside partition 2024-03-10" in reasons["late"]
    assert reasons["track?"] == "unknown track_id 't404'"
    assert reasons["user?"] == "unknown user_id 'u404'"


def test_every_failed_rule_is_listed_and_counted() -> None:
    frame = listens(1).with_columns(
        ms_played=pl.lit("-"), listened_at=pl.lit("2024-03-11T08:00:00Z")
    )
    result = validate(LISTENS, frame.drop("listen_date"), partition_key=DAY)
    assert result.rejects["reason"][0] == (
        "ms_played: '-' is not Int32; listen_date 2024-03-11 is outside partition 2024-03-10; "
        "listened_at 2024-03-11T08:00:00Z is outside partition 2024-03-10"
    )


def test_extra_columns_are_drift_and_kept_in_the_rejected_record() -> None:
    frame = listens(2).with_columns(
        device=pl.Series(["phone", "tv"]), ms_played=pl.Series([1, -1], dtype=pl.Int32)
    )
    result = validate(LISTENS, frame, partition_key=DAY)
    assert result.drift.added == ["device"]
    assert result.drift.missing == []
    assert result.valid.columns == list(LISTENS.columns)
    record = json.loads(result.rejects["record"][0])
    assert record["device"] == "tv"
    assert record["ms_played"] == -1


def test_missing_columns_are_filled_with_null_and_reported() -> None:
    frame = listens(3).drop("ms_played", "listen_date")
    result = validate(LISTENS, frame, partition_key=DAY)
    assert result.drift.missing == ["ms_played", "listen_date"]
    assert result.valid.height == 3
    assert result.valid["ms_played"].null_count() == 3
    assert result.valid["listen_date"].to_list() == [dt.date(2024, 3, 10)] * 3


def test_a_missing_key_column_is_a_hard_error() -> None:
    with pytest.raises(SchemaDriftError, match="event_id"):
        validate(LISTENS, listens(3).drop("event_id"), partition_key=DAY)


def test_catalogue_casts_dates_booleans_and_lists() -> None:
    frame = pl.DataFrame(
        {
            "track_id": ["t1", "t2", "t3", "t4"],
            "release_date": ["2019", "2019-05", "2019-05-03", "2019-05-03"],
            "explicit": ["true", "0", "maybe", "yes"],
            "duration_ms": [180000.0, None, 1.0, 1.5],
        }
    )
    result = validate(TRACKS, frame)
    assert result.valid["release_date"].to_list() == [dt.date(2019, 1, 1), dt.date(2019, 5, 1)]
    assert result.valid["explicit"].to_list() == [True, False]
    assert reasons_by_key(result.rejects) == {
        "t3": "explicit: 'maybe' is not Boolean",
        "t4": "duration_ms: '1.5' is not Int32",
    }
    assert result.valid["duration_ms"].to_list() == [180000, None]
    assert result.rejects["partition_key"].to_list() == ["", ""]


def test_partition_key_must_fit_the_contract() -> None:
    with pytest.raises(ValueError, match="not partitioned"):
        validate(USERS, pl.DataFrame({"user_id": ["u"]}), partition_key=DAY)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        validate(LISTENS, listens(1), partition_key="March")


def test_real_lastfm_day(shared_data) -> None:  # type: ignore[no-untyped-def]
    day, frame = lastfm_listens(shared_data)
    result = validate(LISTENS, frame, partition_key=day)
    assert result.valid.height + result.rejects.height == frame.height
    assert result.valid.height > 0
    assert set(result.drift.added) == {"artist_mbid", "artist", "track"}
    # Scrobbles without a track MBID cannot be staged as listens of a track.
    no_track = frame["track_id"].null_count()
    assert result.reject_reasons.get("track_id: null", 0) == no_track
    assert result.valid["listen_date"].unique().to_list() == [dt.date.fromisoformat(day)]


def test_text_with_nul_is_rejected() -> None:
    frame = listens(3).with_columns(track_id=pl.Series(["ok", "bad\x00id", None]))
    result = validate(LISTENS, frame, partition_key=DAY)
    assert result.valid["track_id"].to_list() == ["ok"]
    assert result.rejects["reason"].to_list() == [
        "track_id contains a NUL character",
        "track_id is null",
    ]
