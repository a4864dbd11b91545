"""Streamed events in both staging stores: a batch lands with its consumer offsets in one
transaction, each event once; a day of listens takes its streamed events inside the database, as
one validation of the batch rows and the stream together would have staged them."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from music_platform.lib.events import LISTEN_EVENTS, as_listens
from music_platform.lib.schemas import LISTENS, TRACKS, USERS, rejects_columns
from music_platform.lib.staging import LoadResult, StagingStore
from music_platform.lib.staging.store import prepare_load
from music_platform.lib.staging.streamed import EventBatch
from music_platform_tests.lib.staging.conftest import StoreFactory
from music_platform_tests.lib.staging.frames import (
    DAY,
    DAY_START,
    TRACK_MS,
    catalogues,
    listens,
    streamed_events,
)

TOPIC = "events"
GROUP = "staging"
NEXT_DAY_START = DAY_START + dt.timedelta(days=1)


class InjectedFaultError(RuntimeError):
    pass


def no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=rejects_columns())


def at(hours: float, start: dt.datetime = DAY_START) -> dt.datetime:
    return start + dt.timedelta(hours=hours)


# -- landing batches ---------------------------------------------------------------------------


def test_a_batch_stages_each_event_once_and_advances_the_offsets(store: StagingStore) -> None:
    first = store.write_events(
        EventBatch(
            events=streamed_events(
                ("a", "user_001", "track_0001", at(1), 1_000),
                ("b", "user_001", "track_0001", at(2), 1_000),
                ("b", "user_001", "track_0001", at(2), 1_000),  # sent twice in the batch
            ),
            rejects=no_rejects(),
            source=f"kafka:{TOPIC}",
            offsets={(TOPIC, 0): 3, (TOPIC, 1): 5},
            group=GROUP,
        )
    )
    assert (first.staged, first.duplicates, first.rejected) == (2, 1, 0)
    assert store.consumer_offsets(GROUP, TOPIC) == {0: 3, 1: 5}

    # "b" is already staged; an offset behind the stored one never moves it back.
    second = store.write_events(
        EventBatch(
            events=streamed_events(
                ("b", "user_001", "track_0001", at(2), 1_000),
                ("c", "user_002", "track_0002", at(3, NEXT_DAY_START), 1_000),
            ),
            rejects=no_rejects(),
            source=f"kafka:{TOPIC}",
            offsets={(TOPIC, 0): 2, (TOPIC, 1): 7},
            group=GROUP,
        )
    )
    assert (second.staged, second.duplicates) == (1, 1)
    assert second.late == 1  # both days ended long ago; "b" was not staged again
    assert store.consumer_offsets(GROUP, TOPIC) == {0: 3, 1: 7}
    assert store.consumer_offsets("another group", TOPIC) == {}

    stats = store.stream_stats()
    assert stats.rows == 3
    assert stats.rows_by_day == {DAY: 2, NEXT_DAY_START.date().isoformat(): 1}
    assert (stats.received, stats.duplicates, stats.rejected) == (5, 2, 0)
    staged_ids = pl.from_arrow(store.read(LISTEN_EVENTS))["event_id"].sort().to_list()
    assert staged_ids == ["a", "b", "c"]


def test_a_batch_failing_after_its_rows_leaves_neither_rows_nor_offsets(
    store: StagingStore,
) -> None:
    batch = EventBatch(
        events=streamed_events(("a", "user_001", "track_0001", at(1), 1_000)),
        rejects=no_rejects(),
        source=f"kafka:{TOPIC}",
        offsets={(TOPIC, 0): 1},
        group=GROUP,
    )

    def power_cut() -> None:
        raise InjectedFaultError("between the rows and the offsets")

    with pytest.raises(InjectedFaultError):
        store.write_events(batch, rows_written=power_cut)
    assert store.stream_stats().rows == 0
    assert store.stream_stats().received == 0
    assert store.consumer_offsets(GROUP, TOPIC) == {}

    assert store.write_events(batch).staged == 1
    assert store.consumer_offsets(GROUP, TOPIC) == {0: 1}


# -- a day of listens with its streamed events -------------------------------------------------


def stage_catalogues(store: StagingStore) -> None:
    for contract, frame in catalogues():
        store.replace_table(contract, frame, source="test", batch_id=contract.name)


def stream(store: StagingStore, events: pl.DataFrame) -> None:
    store.write_events(EventBatch(events=events, rejects=no_rejects(), source="kafka:events"))


def load_day(store: StagingStore, frame: pl.DataFrame, batch_id: str, day: str = DAY) -> LoadResult:
    return store.replace_partition(
        LISTENS,
        frame,
        partition_key=day,
        source="test+stream",
        batch_id=batch_id,
        # As staging: an unknown user is rejected, a track not in the catalogue is kept.
        known_keys={"user_id": store.keys(USERS, "user_id")},
        track_durations=pl.from_arrow(store.read(TRACKS)).select("track_id", "duration_ms"),
        include_streamed=True,
    )


def validated_together(store: StagingStore, frame: pl.DataFrame, day: str = DAY) -> LoadResult:
    """What staging the batch rows and the day's streamed events as one frame gives (how
    streamed events joined a day before they were added inside the database)."""
    events = pl.from_arrow(store.read(LISTEN_EVENTS, [day]))
    assert isinstance(events, pl.DataFrame)
    together = pl.concat([frame, as_listens(events.sort("event_id"))], how="vertical_relaxed")
    return prepare_load(
        LISTENS,
        together,
        partition_key=day,
        source="test+stream",
        batch_id="together",
        # As staging: an unknown user is rejected, a track not in the catalogue is kept.
        known_keys={"user_id": store.keys(USERS, "user_id")},
        track_durations=pl.from_arrow(store.read(TRACKS)).select("track_id", "duration_ms"),
    ).result(0)


def day_rows(store: StagingStore, day: str = DAY) -> pl.DataFrame:
    table = pl.from_arrow(store.read(LISTENS, [day]))
    assert isinstance(table, pl.DataFrame)
    return table.sort("event_id")


def test_a_day_takes_its_streamed_events_as_one_validation_would(store: StagingStore) -> None:
    stage_catalogues(store)
    batch = pl.concat(
        [
            listens(100),
            # A batch row refused (unknown user) whose streamed copy is valid: the copy stays.
            listens(1, prefix="refused-in-batch").with_columns(user_id=pl.lit("nobody")),
        ]
    )
    stream(
        store,
        streamed_events(
            ("s-new-1", "user_001", "track_0001", at(1), 1_000),
            ("s-new-2", "user_002", "track_0002", at(2), 1_000),
            ("e00000007", "user_003", "track_0003", at(3), 9),  # also in the batch
            ("refused-in-batch00000000", "user_004", "track_0004", at(4), 1_000),
            ("s-unknown-track", "user_001", "track_9999", at(5), 1_000),  # kept
            ("s-unknown-user", "nobody", "track_0001", at(6), 1_000),
            ("s-too-long", "user_001", "track_0001", at(7), 3 * TRACK_MS + 1),
            ("s-next-day", "user_001", "track_0001", at(1, NEXT_DAY_START), 1_000),
        ),
    )
    expected = validated_together(store, batch)

    result = load_day(store, batch, "b1")

    assert result.rows_loaded == expected.rows_loaded == 104
    assert result.rows_rejected == expected.rows_rejected == 4
    assert (
        result.reject_reasons
        == expected.reject_reasons
        == {
            "user_id: unknown": 2,
            "ms_played: longer than its track": 1,
            "duplicate event_id": 1,
        }
    )
    assert result.streamed is not None
    assert (result.streamed.received, result.streamed.loaded) == (7, 4)
    assert result.streamed.unknown_tracks == 1
    assert result.streamed.late == 4  # consumed today, long after their day ended
    rows = day_rows(store)
    assert rows.height == 104
    assert {"s-new-1", "s-new-2", "refused-in-batch00000000", "s-unknown-track"} <= set(
        rows["event_id"]
    )
    # The batch's copy of an event both hold wins, as the first of a key did.
    assert rows.filter(pl.col("event_id") == "e00000007")["ms_played"].item() != 9
    assert rows["batch_id"].unique().to_list() == ["b1"]
    assert rows["source"].unique().to_list() == ["test+stream"]

    rejects = store.rejects(LISTENS.name, DAY)
    reasons = dict(zip(rejects["record_key"], rejects["reason"], strict=True))
    assert "s-unknown-track" not in reasons
    assert reasons["s-unknown-user"] == "unknown user_id 'nobody'"
    assert reasons["s-too-long"] == (
        f"ms_played {3 * TRACK_MS + 1} is over 3 times the track's duration_ms {TRACK_MS}"
    )
    assert reasons["e00000007"] == "duplicate event_id"
    assert set(rejects["batch_id"]) == {"b1"}
    assert '"track_id"' in rejects.filter(pl.col("record_key") == "s-unknown-user")["record"][0]

    [batch_record] = store.batches(LISTENS.name).filter(pl.col("batch_id") == "b1").to_dicts()
    assert (batch_record["rows"], batch_record["rejected"]) == (104, 4)
    assert store.count(LISTENS, "2024-03-11") == 0  # the next day's event waits for its day


def test_a_day_only_the_stream_has_is_staged_from_it(store: StagingStore) -> None:
    stage_catalogues(store)
    stream(
        store,
        streamed_events(
            ("s-1", "user_001", "track_0001", at(1), 1_000),
            ("s-2", "user_002", "track_0002", at(2), 1_000),
        ),
    )
    empty = pl.DataFrame(schema=LISTENS.columns)
    expected = validated_together(store, empty)

    result = load_day(store, empty, "b1")

    assert result.rows_loaded == expected.rows_loaded == 2
    assert result.rows_rejected == expected.rows_rejected == 0
    assert day_rows(store)["event_id"].to_list() == ["s-1", "s-2"]


def test_rerunning_a_day_with_streamed_events_is_idempotent(store: StagingStore) -> None:
    stage_catalogues(store)
    stream(
        store,
        streamed_events(
            ("s-1", "user_001", "track_0001", at(1), 1_000),
            ("e00000001", "user_001", "track_0001", at(1), 1_000),
            ("s-unknown", "nobody", "track_0001", at(2), 1_000),
        ),
    )
    first = load_day(store, listens(50), "b1")
    before = day_rows(store).drop("batch_id", "loaded_at")

    second = load_day(store, listens(50), "b2")

    assert (first.rows_loaded, first.rows_rejected) == (second.rows_loaded, second.rows_rejected)
    assert second.rows_loaded == 51
    assert second.rows_replaced == 51
    assert day_rows(store).drop("batch_id", "loaded_at").equals(before)
    assert store.rejects(LISTENS.name, DAY).height == 2
    assert set(store.rejects(LISTENS.name, DAY)["batch_id"]) == {"b2"}


def test_a_day_failing_before_commit_keeps_the_previous_day_whole(
    make_store: StoreFactory,
) -> None:
    healthy = make_store()
    stage_catalogues(healthy)
    load_day(healthy, listens(200, prefix="old"), "before")
    stream(healthy, streamed_events(("s-1", "user_001", "track_0001", at(1), 1_000)))
    seen: list[LoadResult] = []

    def power_cut(result: LoadResult) -> None:
        seen.append(result)
        raise InjectedFaultError("power cut")

    with pytest.raises(InjectedFaultError):
        load_day(make_store(before_commit=power_cut), listens(300, prefix="new"), "during")
    assert seen[0].rows_loaded == 301  # the streamed event was added before the fault
    assert healthy.count(LISTENS, DAY) == 200
    assert day_rows(healthy)["batch_id"].unique().to_list() == ["before"]
    assert "s-1" not in set(day_rows(healthy)["event_id"])

    assert load_day(healthy, listens(300, prefix="new"), "after").rows_loaded == 301
    assert healthy.count(LISTENS, DAY) == 301


def test_a_day_refused_on_its_final_counts_writes_nothing(store: StagingStore) -> None:
    stage_catalogues(store)
    load_day(store, listens(20, prefix="old"), "before")
    stream(store, streamed_events(("s-1", "user_001", "track_0001", at(1), 1_000)))
    judged: list[int] = []

    def refuse(result: LoadResult) -> str | None:
        judged.append(result.rows_loaded)
        return "too few rows"

    prepared = prepare_load(
        LISTENS,
        listens(5, prefix="new"),
        partition_key=DAY,
        source="test",
        batch_id="refused",
        known_keys=None,
    )
    result = store.write(prepared, include_streamed=True, accept=refuse)

    assert judged == [6]
    assert (result.refused, result.rows_replaced) == ("too few rows", 0)
    assert day_rows(store)["batch_id"].unique().to_list() == ["before"]
    assert store.count(LISTENS, DAY) == 20
    assert "refused" not in set(store.batches(LISTENS.name)["batch_id"])


def test_only_a_day_of_listens_takes_streamed_events(store: StagingStore) -> None:
    with pytest.raises(ValueError, match="only a day of listens"):
        store.write(
            prepare_load(
                USERS,
                pl.DataFrame({"user_id": ["u"]}),
                partition_key=None,
                source="t",
                batch_id="b",
                known_keys=None,
            ),
            include_streamed=True,
        )
