"""SnowflakeWarehouse against fakesnow's Snowflake server: the bulk PUT + COPY INTO path."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pytest
from snowflake.connector.errors import ProgrammingError

from music_platform.lib.schemas import ARTISTS, LISTENS
from music_platform.lib.staging.store import arrow_schema
from music_platform.lib.warehouse.snowflake_warehouse import SnowflakeWarehouse
from music_platform.settings import SnowflakeSettings
from music_platform_tests.warehouse.conftest import FakesnowServer

pytestmark = pytest.mark.slow  # starts fakesnow's server

LOADED_AT = dt.datetime(2024, 3, 12, 6, 0, tzinfo=dt.UTC)


def _listens(day: str, rows: int, *, prefix: str = "e") -> pa.Table:
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    frame = pl.DataFrame(
        {
            "event_id": [f"{prefix}-{day}-{i:05d}" for i in range(rows)],
            "user_id": [f"user_{i % 7}" for i in range(rows)],
            "track_id": [f"track_{i % 11}" for i in range(rows)],
            "listened_at": [start + dt.timedelta(seconds=37 * i) for i in range(rows)],
            "ms_played": [1_000 + i for i in range(rows)],
            "listen_date": [start.date()] * rows,
            "source": ["synthetic"] * rows,
            "batch_id": [f"batch-{prefix}"] * rows,
            "loaded_at": [LOADED_AT] * rows,
        }
    )
    return frame.to_arrow().cast(arrow_schema(LISTENS.schema))


def _artists(rows: int) -> pa.Table:
    frame = pl.DataFrame(
        {
            "artist_id": [f"artist_{i}" for i in range(rows)],
            "artist_name": [f"Artist {i}" for i in range(rows)],
            "artist_mbid": [None] * rows,
            "country": ["GB"] * rows,
            "genres": ["rock;pop"] * rows,
            "popularity": [i % 100 for i in range(rows)],
            "followers": [10 * i for i in range(rows)],
            "source": ["synthetic"] * rows,
            "batch_id": ["batch"] * rows,
            "loaded_at": [LOADED_AT] * rows,
        }
    )
    return frame.to_arrow().cast(arrow_schema(ARTISTS.schema))


@pytest.fixture
def warehouse(fakesnow_server: FakesnowServer, snowflake_database: str) -> SnowflakeWarehouse:
    return SnowflakeWarehouse(
        SnowflakeSettings(
            account="fakesnow",
            user="fake",
            password="snow",
            database=snowflake_database,
            host=fakesnow_server.host,
            port=fakesnow_server.port,
            protocol="http",
        )
    )


def _days(warehouse: SnowflakeWarehouse) -> dict[str, int]:
    with warehouse.connect() as connection, connection.cursor() as cursor:
        rows = cursor.execute(
            f"SELECT TO_VARCHAR(listen_date), COUNT(*) FROM {warehouse.table_name('listens')} "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return {day: int(count) for day, count in rows}


def test_replacing_a_partition_twice_is_idempotent(warehouse: SnowflakeWarehouse) -> None:
    data = _listens("2024-03-10", 250)
    for _ in range(2):
        written = warehouse.replace_partitions(
            "listens", data, partition_column="listen_date", partition_keys=["2024-03-10"]
        )
        assert written == 250
    assert _days(warehouse) == {"2024-03-10": 250}
    assert warehouse.count("listens") == 250
    assert warehouse.count("listens", partition_column="listen_date", partition_keys=[]) == 0


def test_a_window_replace_leaves_other_days_untouched(warehouse: SnowflakeWarehouse) -> None:
    two_days = pa.concat_tables([_listens("2024-03-10", 120), _listens("2024-03-11", 80)])
    warehouse.replace_partitions(
        "listens",
        two_days,
        partition_column="listen_date",
        partition_keys=["2024-03-10", "2024-03-11"],
    )
    warehouse.replace_partitions(
        "listens",
        _listens("2024-03-11", 30, prefix="rerun"),
        partition_column="listen_date",
        partition_keys=["2024-03-11"],
    )
    assert _days(warehouse) == {"2024-03-10": 120, "2024-03-11": 30}
    assert (
        warehouse.count("listens", partition_column="listen_date", partition_keys=["2024-03-11"])
        == 30
    )


def test_loaded_values_keep_their_types(warehouse: SnowflakeWarehouse) -> None:
    data = _listens("2024-03-10", 3)
    warehouse.replace_partitions(
        "listens", data, partition_column="listen_date", partition_keys=["2024-03-10"]
    )
    with warehouse.connect() as connection, connection.cursor() as cursor:
        rows = cursor.execute(
            "SELECT event_id, listened_at, ms_played, listen_date, loaded_at "
            f"FROM {warehouse.table_name('listens')} ORDER BY event_id"
        ).fetchall()
    expected = data.select(["event_id", "listened_at", "ms_played", "listen_date", "loaded_at"])
    assert [tuple(row) for row in rows] == [tuple(row.values()) for row in expected.to_pylist()]


def test_a_failed_load_keeps_the_previous_rows(warehouse: SnowflakeWarehouse) -> None:
    warehouse.replace_partitions(
        "listens",
        _listens("2024-03-10", 40),
        partition_column="listen_date",
        partition_keys=["2024-03-10"],
    )
    # Same columns, but ms_played is text that NUMBER cannot take: COPY INTO fails mid-transaction.
    broken = _listens("2024-03-10", 10).set_column(
        4, "ms_played", pa.array(["not a number"] * 10, pa.string())
    )
    with pytest.raises(ProgrammingError):
        warehouse.replace_partitions(
            "listens", broken, partition_column="listen_date", partition_keys=["2024-03-10"]
        )
    assert _days(warehouse) == {"2024-03-10": 40}


def test_replace_table_twice_and_after_a_contract_change(warehouse: SnowflakeWarehouse) -> None:
    for _ in range(2):
        assert warehouse.replace_table("artists", _artists(25)) == 25
    assert warehouse.count("artists") == 25

    narrower = _artists(5).drop_columns(["genres"])
    warehouse.replace_table("artists", narrower)
    with warehouse.connect() as connection, connection.cursor() as cursor:
        columns = [
            row[0]
            for row in cursor.execute(
                f"SELECT * FROM {warehouse.table_name('artists')} LIMIT 0"
            ).description
        ]
    assert warehouse.count("artists") == 5
    assert "GENRES" not in columns


def test_a_partition_load_refuses_other_columns(warehouse: SnowflakeWarehouse) -> None:
    warehouse.replace_partitions(
        "listens",
        _listens("2024-03-10", 5),
        partition_column="listen_date",
        partition_keys=["2024-03-10"],
    )
    with pytest.raises(ValueError, match="contract change"):
        warehouse.replace_partitions(
            "listens",
            _listens("2024-03-11", 5).drop_columns(["batch_id"]),
            partition_column="listen_date",
            partition_keys=["2024-03-11"],
        )
    assert _days(warehouse) == {"2024-03-10": 5}


def test_relation_row_counts_within_a_window(warehouse: SnowflakeWarehouse) -> None:
    two_days = pa.concat_tables([_listens("2024-03-10", 12), _listens("2024-03-11", 8)])
    warehouse.replace_partitions(
        "listens",
        two_days,
        partition_column="listen_date",
        partition_keys=["2024-03-10", "2024-03-11"],
    )
    # dbt names relations without quotes; Snowflake resolves them in upper case.
    relation = f"{warehouse.settings.database.lower()}.landing.listens"
    assert warehouse.relation_row_counts({"all": relation}) == {"all": 20}
    assert warehouse.relation_row_counts(
        {"day": relation}, date_column="listen_date", window=("2024-03-11", "2024-03-11")
    ) == {"day": 8}


def test_relation_daily_row_counts_and_columns(warehouse: SnowflakeWarehouse) -> None:
    two_days = pa.concat_tables([_listens("2024-03-10", 12), _listens("2024-03-11", 8)])
    warehouse.replace_partitions(
        "listens",
        two_days,
        partition_column="listen_date",
        partition_keys=["2024-03-10", "2024-03-11"],
    )
    relation = f"{warehouse.settings.database.lower()}.landing.listens"
    assert warehouse.relation_daily_row_counts(
        {"facts": relation}, date_column="listen_date", window=("2024-03-01", "2024-03-31")
    ) == {"facts": {"2024-03-10": 12, "2024-03-11": 8}}
    columns = warehouse.relation_columns({"facts": relation})["facts"]
    assert columns["listen_date"] == "DATE"
    assert set(columns) == set(two_days.schema.names)


def test_fetch_arrow_returns_the_query_rows_with_lower_case_names(
    warehouse: SnowflakeWarehouse,
) -> None:
    warehouse.replace_partitions(
        "listens",
        _listens("2024-03-10", 21),
        partition_column="listen_date",
        partition_keys=["2024-03-10"],
    )
    plays = warehouse.fetch_arrow(
        f"select user_id, count(*) as plays, max(listen_date) as last_day "
        f"from {warehouse.table_name('listens')} where ms_played >= ? group by user_id",
        [1_007],
    )
    assert plays.column_names == ["user_id", "plays", "last_day"]
    assert sum(plays["plays"].to_pylist()) == 14
    assert set(plays["last_day"].to_pylist()) == {dt.date(2024, 3, 10)}
    empty = warehouse.fetch_arrow(
        f"select user_id from {warehouse.table_name('listens')} where ms_played < ?", [0]
    )
    assert empty.num_rows == 0
