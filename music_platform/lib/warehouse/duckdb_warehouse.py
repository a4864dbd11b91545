"""The embedded DuckDB warehouse: landing tables that dbt reads as its `landing` source."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from music_platform.lib.fault_points import WAREHOUSE_BEFORE_COMMIT, pause_point

LANDING_SCHEMA = "landing"


class DuckDBWarehouse:
    """Loads staged Arrow tables into `landing.<table>`, a partition or a whole table at a time.

    Each load is one transaction, so a crash leaves the previous state of the table whole.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(self.path), read_only=read_only)
        try:
            yield connection
        finally:
            connection.close()

    def replace_partitions(
        self, table: str, data: pa.Table, *, partition_column: str, partition_keys: Sequence[str]
    ) -> int:
        """Replace the rows of the given days with `data`; returns the rows written."""
        with self.connect() as connection:
            connection.execute("BEGIN")
            self._ensure_table(connection, table, data)
            connection.execute(
                f'DELETE FROM {LANDING_SCHEMA}."{table}" '
                f'WHERE CAST("{partition_column}" AS VARCHAR) IN (SELECT UNNEST(?))',
                [list(partition_keys)],
            )
            connection.register("incoming", data)
            connection.execute(
                f'INSERT INTO {LANDING_SCHEMA}."{table}" BY NAME SELECT * FROM incoming'
            )
            connection.unregister("incoming")
            pause_point(WAREHOUSE_BEFORE_COMMIT)
            connection.execute("COMMIT")
        return data.num_rows

    def replace_table(self, table: str, data: pa.Table) -> int:
        with self.connect() as connection:
            connection.execute("BEGIN")
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {LANDING_SCHEMA}")
            connection.register("incoming", data)
            connection.execute(
                f'CREATE OR REPLACE TABLE {LANDING_SCHEMA}."{table}" AS SELECT * FROM incoming'
            )
            connection.unregister("incoming")
            pause_point(WAREHOUSE_BEFORE_COMMIT)
            connection.execute("COMMIT")
        return data.num_rows

    def count(
        self,
        table: str,
        *,
        partition_column: str | None = None,
        partition_keys: Sequence[str] | None = None,
    ) -> int:
        with self.connect(read_only=True) as connection:
            if partition_column and partition_keys is not None:
                row = connection.execute(
                    f'SELECT COUNT(*) FROM {LANDING_SCHEMA}."{table}" '
                    f'WHERE CAST("{partition_column}" AS VARCHAR) IN (SELECT UNNEST(?))',
                    [list(partition_keys)],
                ).fetchone()
            else:
                row = connection.execute(
                    f'SELECT COUNT(*) FROM {LANDING_SCHEMA}."{table}"'
                ).fetchone()
        return int(row[0]) if row else 0

    def fetch_arrow(self, query: str, parameters: Sequence[object] = ()) -> pa.Table:
        """Run a read-only query over the models and return its rows as Arrow."""
        with self.connect(read_only=True) as connection:
            return connection.sql(query, params=list(parameters)).to_arrow_table()

    def relation_row_counts(
        self,
        relations: Mapping[str, str],
        *,
        date_column: str | None = None,
        window: tuple[str, str] | None = None,
    ) -> dict[str, int]:
        """Rows per relation (dbt's quoted `relation_name`), optionally within a date window.

        Counted after dbt has finished: dbt holds DuckDB's single-writer lock while it runs.
        """
        counts: dict[str, int] = {}
        with self.connect(read_only=True) as connection:
            for name, relation in relations.items():
                if date_column and window:
                    row = connection.execute(
                        f'SELECT COUNT(*) FROM {relation} WHERE "{date_column}" BETWEEN ? AND ?',
                        list(window),
                    ).fetchone()
                else:
                    row = connection.execute(f"SELECT COUNT(*) FROM {relation}").fetchone()
                counts[name] = int(row[0]) if row else 0
        return counts

    def relation_daily_row_counts(
        self, relations: Mapping[str, str], *, date_column: str, window: tuple[str, str]
    ) -> dict[str, dict[str, int]]:
        """Rows per relation and day (ISO date) within the inclusive window; days without rows
        are left out. Counted after dbt has finished, as relation_row_counts."""
        counts: dict[str, dict[str, int]] = {}
        with self.connect(read_only=True) as connection:
            for name, relation in relations.items():
                rows = connection.execute(
                    f'SELECT CAST("{date_column}" AS VARCHAR), COUNT(*) FROM {relation} '
                    f'WHERE "{date_column}" BETWEEN ? AND ? GROUP BY 1',
                    list(window),
                ).fetchall()
                counts[name] = {day: int(count) for day, count in rows}
        return counts

    def relation_columns(self, relations: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Each relation's columns and their types as the warehouse reports them."""
        columns: dict[str, dict[str, str]] = {}
        with self.connect(read_only=True) as connection:
            for name, relation in relations.items():
                described = connection.execute(f"DESCRIBE {relation}").fetchall()
                columns[name] = {row[0]: str(row[1]) for row in described}
        return columns

    @staticmethod
    def _ensure_table(connection: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {LANDING_SCHEMA}")
        connection.register("template", data.slice(0, 0))
        connection.execute(
            f'CREATE TABLE IF NOT EXISTS {LANDING_SCHEMA}."{table}" AS SELECT * FROM template'
        )
        connection.unregister("template")
