"""Both staging stores, against a real PostgreSQL and a real DuckDB file."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import psycopg
import pytest

from music_platform.lib.schemas import LISTENS, TRACKS, USERS, rejects_columns
from music_platform.lib.staging import (
    LoadResult,
    PostgresStagingStore,
    SchemaDriftError,
    StagingConnectionError,
    StagingStore,
)
from music_platform_tests.lib.staging.conftest import StoreFactory
from music_platform_tests.lib.staging.frames import (
    ALL_TYPES,
    DAY,
    all_types,
    lastfm_listens,
    listens,
)

NEXT_DAY = "2024-03-11"


class InjectedFaultError(RuntimeError):
    pass


def load_listens(
    store: StagingStore, frame: pl.DataFrame, batch_id: str, day: str = DAY
) -> LoadResult:
    return store.replace_partition(
        LISTENS, frame, partition_key=day, source="test", batch_id=batch_id
    )


def staged(store: StagingStore, partition_keys: list[str] | None = None) -> pl.DataFrame:
    table = pl.from_arrow(store.read(LISTENS, partition_keys))
    assert isinstance(table, pl.DataFrame)
    return table.sort("event_id")


def test_load_then_read_returns_the_same_rows_typed(store: StagingStore) -> None:
    frame = listens(500)
    result = load_listens(store, frame, "b1")
    assert (result.rows_loaded, result.rows_rejected, result.rows_replaced) == (500, 0, 0)
    back = staged(store)
    assert back.columns == LISTENS.column_names
    assert back.select(list(LISTENS.columns)).equals(frame.sort("event_id"))
    assert back["source"].unique().to_list() == ["test"]
    assert back["batch_id"].unique().to_list() == ["b1"]
    assert store.count(LISTENS) == 500
    assert store.count(LISTENS, DAY) == 500


def test_rerun_is_idempotent(store: StagingStore) -> None:
    frame = listens(300).vstack(
        listens(2, prefix="bad").with_columns(ms_played=pl.lit(-1, pl.Int32))
    )
    first = load_listens(store, frame, "b1")
    second = load_listens(store, frame, "b2")
    assert (first.rows_loaded, first.rows_rejected) == (second.rows_loaded, second.rows_rejected)
    assert second.rows_replaced == first.rows_loaded == 300
    assert store.count(LISTENS) == 300
    assert store.rejects("listens", DAY).height == 2
    assert staged(store)["batch_id"].unique().to_list() == ["b2"]


def test_partitions_are_replaced_independently(store: StagingStore) -> None:
    load_listens(store, listens(100, prefix="a"), "b1")
    next_day = dt.datetime.fromisoformat(NEXT_DAY).replace(tzinfo=dt.UTC)
    load_listens(store, listens(50, day_start=next_day, prefix="b"), "b2", day=NEXT_DAY)
    load_listens(store, listens(70, prefix="c"), "b3")
    assert store.count(LISTENS, DAY) == 70
    assert store.count(LISTENS, NEXT_DAY) == 50
    assert store.read(LISTENS, [NEXT_DAY]).num_rows == 50
    assert store.read(LISTENS, [DAY, NEXT_DAY]).num_rows == 120
    assert store.read(LISTENS, []).num_rows == 0


def test_fault_between_copy_and_commit_leaves_the_previous_partition_whole(
    make_store: StoreFactory,
) -> None:
    healthy = make_store()
    load_listens(healthy, listens(200, prefix="old"), "before")
    seen: list[LoadResult] = []

    def fail(result: LoadResult) -> None:
        seen.append(result)
        raise InjectedFaultError("power cut")

    broken = make_store(before_commit=fail)
    with pytest.raises(InjectedFaultError):
        load_listens(broken, listens(300, prefix="new"), "during")
    assert seen[0].rows_loaded == 300  # the rows were written before the fault
    assert healthy.count(LISTENS, DAY) == 200
    assert staged(healthy)["batch_id"].unique().to_list() == ["before"]

    result = load_listens(healthy, listens(300, prefix="new"), "after")
    assert result.rows_replaced == 200
    assert healthy.count(LISTENS, DAY) == 300


def test_rejects_name_each_reason(store: StagingStore) -> None:
    good = listens(5)
    bad = pl.concat(
        [
            good.head(1).with_columns(event_id=pl.lit("type"), ms_played=pl.lit("abc")),
            good.head(1).with_columns(event_id=pl.lit(None, pl.String)),
            good.slice(1, 1),  # a second copy of event e00000001
            good.head(1).with_columns(event_id=pl.lit("negative"), ms_played=pl.lit(-20)),
            good.head(1).with_columns(event_id=pl.lit("ghost"), track_id=pl.lit("track_unknown")),
        ],
        how="diagonal_relaxed",
    )
    frame = pl.concat([good, bad], how="diagonal_relaxed")
    known = {"track_id": good["track_id"], "user_id": good["user_id"]}
    result = store.replace_partition(
        LISTENS, frame, partition_key=DAY, source="test", batch_id="b1", known_keys=known
    )
    assert (result.rows_loaded, result.rows_rejected) == (5, 5)
    assert result.reject_reasons == {
        "ms_played: not Int32": 1,
        "event_id: null": 1,
        "duplicate event_id": 1,
        "ms_played: negative": 1,
        "track_id: unknown": 1,
    }
    rejects = store.rejects("listens", DAY)
    assert rejects.schema == pl.Schema(rejects_columns())
    assert sorted(rejects["reason"].to_list()) == sorted(
        [
            "ms_played: 'abc' is not Int32",
            "event_id is null",
            "duplicate event_id",
            "ms_played -20 is negative",
            "unknown track_id 'track_unknown'",
        ]
    )
    assert set(rejects["batch_id"]) == {"b1"}
    assert store.rejects("listens", NEXT_DAY).is_empty()


def test_extra_column_is_reported_as_drift(store: StagingStore) -> None:
    frame = listens(10).with_columns(device=pl.lit("phone"))
    result = load_listens(store, frame, "b1")
    assert result.drift.added == ["device"]
    assert result.as_metadata()["columns_added"] == ["device"]
    assert store.count(LISTENS) == 10


def test_missing_key_column_raises_and_loads_nothing(store: StagingStore) -> None:
    load_listens(store, listens(10), "b1")
    with pytest.raises(SchemaDriftError, match="event_id"):
        load_listens(store, listens(20).drop("event_id"), "b2")
    assert store.count(LISTENS) == 10


def test_catalogue_replace_table_and_keys(store: StagingStore) -> None:
    users = pl.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "username": ["Zoë", "Łukasz", "美咲"],
            "country": ["FR", "PL", "JP"],
            "signup_date": ["2006-08-13", "2007-01-02", "not a date"],
            "birth_year": [1990, None, 1985],
        }
    )
    result = store.replace_table(USERS, users, source="test", batch_id="b1")
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    assert sorted(store.keys(USERS, "user_id").to_list()) == ["u1", "u2"]
    assert store.rejects("users")["partition_key"].to_list() == [""]

    result = store.replace_table(USERS, users.head(1), source="test", batch_id="b2")
    assert result.rows_replaced == 2
    assert store.keys(USERS, "user_id").to_list() == ["u1"]
    assert store.rejects("users").is_empty()


def test_every_type_and_unicode_round_trips(store: StagingStore) -> None:
    frame = all_types()
    store.replace_table(ALL_TYPES, frame, source="test", batch_id="b1")
    back = pl.from_arrow(store.read(ALL_TYPES))
    assert isinstance(back, pl.DataFrame)
    assert back.sort("id").select(list(ALL_TYPES.columns)).equals(frame)


def test_load_batches_record_each_load(store: StagingStore) -> None:
    load_listens(store, listens(10), "b1")
    load_listens(store, listens(10), "b1")  # a retried batch updates its own record
    load_listens(store, listens(12), "b2")
    batches = store.batches("listens")
    assert batches.select("batch_id", "table_name", "partition_key", "source", "rows").rows() == [
        ("b1", "listens", DAY, "test", 10),
        ("b2", "listens", DAY, "test", 12),
    ]
    assert (batches["finished_at"] >= batches["started_at"]).all()


def test_wrong_method_for_the_contract_is_refused(store: StagingStore) -> None:
    with pytest.raises(ValueError, match="replace_partition"):
        store.replace_table(LISTENS, listens(1), source="test", batch_id="b1")
    with pytest.raises(ValueError, match="replace_table"):
        store.replace_partition(
            TRACKS, pl.DataFrame({"track_id": ["t"]}), partition_key=DAY, source="t", batch_id="b"
        )


def test_real_lastfm_day_loads(store: StagingStore, shared_data) -> None:  # type: ignore[no-untyped-def]
    day, frame = lastfm_listens(shared_data)
    result = store.replace_partition(
        LISTENS, frame, partition_key=day, source="lastfm", batch_id="b1"
    )
    assert result.rows_loaded + result.rows_rejected == frame.height
    assert store.count(LISTENS, day) == result.rows_loaded
    assert store.rejects("listens", day).height == result.rows_rejected


def test_postgres_partition_is_a_real_partition_with_a_primary_key(
    pg_store: PostgresStagingStore,
) -> None:
    pg_store.replace_partition(LISTENS, listens(10), partition_key=DAY, source="t", batch_id="b1")
    pg_store.replace_partition(LISTENS, listens(10), partition_key=DAY, source="t", batch_id="b2")
    with psycopg.connect(pg_store.conninfo) as connection:
        constraints = connection.execute(
            """
            SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
            FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relname LIKE 'listens%%' ORDER BY 1, 2
            """,
            (pg_store.schema,),
        ).fetchall()
        leftovers = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename LIKE '%%loading'",
            (pg_store.schema,),
        ).fetchone()
    assert constraints == [
        ("listens", "listens_pkey", "PRIMARY KEY (event_id, listen_date)"),
        ("listens_p20240310", "listens_p20240310_pkey", "PRIMARY KEY (event_id, listen_date)"),
    ]
    assert leftovers == (0,)


def test_postgres_connection_error_names_the_server_and_hides_the_password() -> None:
    store = PostgresStagingStore(
        "host=127.0.0.1 port=1 dbname=warehouse user=loader password=s3cret", connect_timeout=2
    )
    with pytest.raises(StagingConnectionError) as raised:
        store.count(LISTENS)
    message = str(raised.value)
    assert "127.0.0.1:1" in message
    assert "'warehouse'" in message
    assert "s3cret" not in message


def test_an_empty_frame_empties_the_partition(store: StagingStore) -> None:
    load_listens(store, listens(20), "b1")
    result = load_listens(store, listens(0), "b2")
    assert (result.rows_loaded, result.rows_replaced) == (0, 20)
    assert store.count(LISTENS, DAY) == 0
    assert store.read(LISTENS, [DAY]).num_rows == 0


def test_concurrent_loads_take_turns_and_all_land(make_store: StoreFactory) -> None:
    days = [DAY, NEXT_DAY, DAY, NEXT_DAY]

    def load(attempt: int) -> LoadResult:
        day = days[attempt]
        start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
        frame = listens(2_000 + attempt, day_start=start, prefix=f"run{attempt}-")
        return load_listens(make_store(), frame, f"b{attempt}", day=day)

    with ThreadPoolExecutor(max_workers=len(days)) as pool:
        results = list(pool.map(load, range(len(days))))
    store = make_store()
    for day in (DAY, NEXT_DAY):
        staged_day = staged(store, [day])
        # Whichever load of the day committed last owns the whole day, alone.
        assert staged_day["batch_id"].n_unique() == 1
        winner = int(staged_day["batch_id"][0].removeprefix("b"))
        assert staged_day.height == results[winner].rows_loaded
