"""The Snowflake warehouse (prod): landing tables that dbt reads as its `landing` source.

Loads go through Snowflake's bulk path: the Arrow table is written as Parquet, `PUT` on a
temporary stage and loaded with `COPY INTO`. The same path runs on fakesnow's server in tests.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from music_platform.settings import SnowflakeSettings

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection
    from snowflake.connector.cursor import SnowflakeCursor

LANDING_SCHEMA = "landing"
# Snowflake loads the files of one COPY in parallel, so big loads are split into several files.
ROWS_PER_FILE = 1_000_000
# Without this the connector posts telemetry to Snowflake's own endpoint, which fakesnow is not.
SESSION_PARAMETERS = {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}


class SnowflakeLoadError(RuntimeError):
    """COPY INTO did not load every row it was given; the transaction was rolled back."""


def quote_identifier(name: str) -> str:
    """A quoted identifier that names what dbt's unquoted SQL resolves to.

    Snowflake folds unquoted identifiers to upper case, so dbt's `landing.listens` is
    `"LANDING"."LISTENS"`; quoting the upper-cased name keeps any character safe.
    """
    return '"' + name.upper().replace('"', '""') + '"'


def snowflake_type(arrow_type: pa.DataType) -> str:
    """The Snowflake column type for an Arrow type of the table contract."""
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    ):
        return "VARCHAR"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_integer(arrow_type):
        return "NUMBER(38,0)"
    if pa.types.is_floating(arrow_type):
        return "FLOAT"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP_TZ" if arrow_type.tz else "TIMESTAMP_NTZ"
    raise TypeError(f"no Snowflake column type for Arrow type {arrow_type}")


def connection_args(settings: SnowflakeSettings) -> dict[str, Any]:
    """snowflake-connector-python arguments; host/port/protocol only when set (fakesnow)."""
    args: dict[str, Any] = {
        "account": settings.account,
        "user": settings.user,
        "password": settings.password.get_secret_value(),
        "database": settings.database,
        "schema": settings.schema_,
        "warehouse": settings.warehouse,
        # Server-side binding: values travel apart from the SQL text.
        "paramstyle": "qmark",
        "session_parameters": SESSION_PARAMETERS,
    }
    if settings.role:
        args["role"] = settings.role
    if settings.host:
        args.update(host=settings.host, port=settings.port, protocol=settings.protocol)
    return args


class SnowflakeWarehouse:
    """Loads staged Arrow tables into `landing.<table>`, a partition or a whole table at a time.

    Each load deletes and copies in one transaction, so reruns are idempotent and a failed load
    leaves the previous rows in place. DDL (schema, table, stage) runs before the transaction
    opens because Snowflake commits implicitly around every DDL statement.
    """

    def __init__(self, settings: SnowflakeSettings) -> None:
        self.settings = settings
        self.database = quote_identifier(settings.database)
        self.schema = f"{self.database}.{quote_identifier(LANDING_SCHEMA)}"

    @contextmanager
    def connect(self) -> Iterator[SnowflakeConnection]:
        # Imported here: the connector takes seconds to import and only `prod` needs it.
        import snowflake.connector

        connection = snowflake.connector.connect(**connection_args(self.settings))
        try:
            yield connection
        finally:
            connection.close()

    def table_name(self, table: str) -> str:
        return f"{self.schema}.{quote_identifier(table)}"

    def replace_partitions(
        self, table: str, data: pa.Table, *, partition_column: str, partition_keys: Sequence[str]
    ) -> int:
        """Replace the rows of the given days with `data`; returns the rows written."""
        target = self.table_name(table)
        with self.connect() as connection, connection.cursor() as cursor:
            existing = self._ensure_table(cursor, table, data.schema)
            if existing != self._columns(data.schema):
                raise ValueError(
                    f"{target} has columns {existing}, the data {self._columns(data.schema)}; "
                    "replace the whole table after a contract change"
                )
            stage = self._stage(cursor, data)
            keys = list(partition_keys)
            with self._transaction(cursor):
                if keys:
                    cursor.execute(
                        f"DELETE FROM {target} WHERE {quote_identifier(partition_column)} "
                        f"IN ({', '.join('?' for _ in keys)})",
                        keys,
                    )
                self._copy(cursor, target, stage, data.num_rows)
        return data.num_rows

    def replace_table(self, table: str, data: pa.Table) -> int:
        """Replace the whole table with `data` (its columns follow the data's)."""
        target = self.table_name(table)
        with self.connect() as connection, connection.cursor() as cursor:
            if self._ensure_table(cursor, table, data.schema) != self._columns(data.schema):
                self._create_table(cursor, table, data.schema, replace=True)
            stage = self._stage(cursor, data)
            with self._transaction(cursor):
                cursor.execute(f"DELETE FROM {target}")
                self._copy(cursor, target, stage, data.num_rows)
        return data.num_rows

    def count(
        self,
        table: str,
        *,
        partition_column: str | None = None,
        partition_keys: Sequence[str] | None = None,
    ) -> int:
        sql = f"SELECT COUNT(*) FROM {self.table_name(table)}"
        params: list[str] = []
        if partition_column and partition_keys is not None:
            params = list(partition_keys)
            if not params:
                return 0
            placeholders = ", ".join("?" for _ in params)
            sql += f" WHERE {quote_identifier(partition_column)} IN ({placeholders})"
        with self.connect() as connection, connection.cursor() as cursor:
            row = cursor.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def fetch_arrow(self, query: str, parameters: Sequence[object] = ()) -> pa.Table:
        """Run a read-only query over the models and return its rows as Arrow.

        Snowflake folds unquoted column names to upper case; they come back in lower case, as
        the query wrote them and as DuckDB returns them. Rows are fetched as Python values: the
        connector's own Arrow fetch needs pandas, which the platform does not install.
        """
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(query, list(parameters))
            rows = cursor.fetchall()
            names = [column.name for column in cursor.description]
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table(
            {
                name.lower() if name.isupper() else name: pa.array(values)
                for name, values in zip(names, columns, strict=True)
            }
        )

    def relation_row_counts(
        self,
        relations: Mapping[str, str],
        *,
        date_column: str | None = None,
        window: tuple[str, str] | None = None,
    ) -> dict[str, int]:
        """Rows per relation (dbt's `relation_name`), optionally within a date window."""
        counts: dict[str, int] = {}
        with self.connect() as connection, connection.cursor() as cursor:
            for name, relation in relations.items():
                if date_column and window:
                    row = cursor.execute(
                        f"SELECT COUNT(*) FROM {relation} "
                        f"WHERE {quote_identifier(date_column)} BETWEEN ? AND ?",
                        list(window),
                    ).fetchone()
                else:
                    row = cursor.execute(f"SELECT COUNT(*) FROM {relation}").fetchone()
                counts[name] = int(row[0]) if row else 0
        return counts

    def relation_daily_row_counts(
        self, relations: Mapping[str, str], *, date_column: str, window: tuple[str, str]
    ) -> dict[str, dict[str, int]]:
        """Rows per relation and day (ISO date) within the inclusive window; days without rows
        are left out."""
        counts: dict[str, dict[str, int]] = {}
        column = quote_identifier(date_column)
        with self.connect() as connection, connection.cursor() as cursor:
            for name, relation in relations.items():
                rows = cursor.execute(
                    f"SELECT TO_VARCHAR({column}, 'YYYY-MM-DD'), COUNT(*) FROM {relation} "
                    f"WHERE {column} BETWEEN ? AND ? GROUP BY 1",
                    list(window),
                ).fetchall()
                counts[name] = {str(day): int(count) for day, count in rows}
        return counts

    def relation_columns(self, relations: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Each relation's columns and their types, from the result description of an empty
        query (works alike for tables and views)."""
        from snowflake.connector.constants import FIELD_ID_TO_NAME

        columns: dict[str, dict[str, str]] = {}
        with self.connect() as connection, connection.cursor() as cursor:
            for name, relation in relations.items():
                cursor.execute(f"SELECT * FROM {relation} LIMIT 0")
                columns[name] = {
                    field.name.lower(): FIELD_ID_TO_NAME.get(field.type_code, "?")
                    for field in cursor.description or []
                }
        return columns

    @staticmethod
    def _columns(schema: pa.Schema) -> list[str]:
        return [name.upper() for name in schema.names]

    def _ensure_table(self, cursor: SnowflakeCursor, table: str, schema: pa.Schema) -> list[str]:
        """Create the landing schema and table if missing; returns the table's columns."""
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        self._create_table(cursor, table, schema, replace=False)
        rows = cursor.execute(
            f"SELECT column_name FROM {self.database}.information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [LANDING_SCHEMA.upper(), table.upper()],
        ).fetchall()
        return [str(name) for (name,) in rows]

    def _create_table(
        self, cursor: SnowflakeCursor, table: str, schema: pa.Schema, *, replace: bool
    ) -> None:
        columns = ", ".join(
            f"{quote_identifier(field.name)} {snowflake_type(field.type)}" for field in schema
        )
        create = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
        cursor.execute(f"{create} {self.table_name(table)} ({columns})")

    def _stage(self, cursor: SnowflakeCursor, data: pa.Table) -> str:
        """Upload `data` as Parquet files to a new temporary stage; returns the stage's name.

        A stage per load keeps concurrent loads apart; Snowflake drops it with the session.
        """
        stage = f"{self.schema}.{quote_identifier(f'load_{uuid.uuid4().hex}')}"
        cursor.execute(f"CREATE TEMPORARY STAGE {stage}")
        upper_case = data.rename_columns(self._columns(data.schema))
        with tempfile.TemporaryDirectory(prefix="snowflake-load-") as folder:
            for index, offset in enumerate(range(0, data.num_rows, ROWS_PER_FILE)):
                path = Path(folder) / f"part-{index:05d}.parquet"
                pq.write_table(upper_case.slice(offset, ROWS_PER_FILE), path)
                location = f"file://{path.as_posix()}".replace("'", "\\'")
                cursor.execute(f"PUT '{location}' @{stage} AUTO_COMPRESS=FALSE")
        return stage

    @staticmethod
    def _copy(cursor: SnowflakeCursor, target: str, stage: str, expected_rows: int) -> None:
        if expected_rows == 0:
            return
        # FORCE: a rerun loads the same bytes again on purpose (the rows were just deleted), so
        # Snowflake's load history must not skip them as already loaded.
        results = cursor.execute(
            f"COPY INTO {target} FROM @{stage} "
            "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) "
            "MATCH_BY_COLUMN_NAME = CASE_SENSITIVE PURGE = TRUE FORCE = TRUE"
        ).fetchall()
        # Each row of COPY's result is one file: (file, status, rows_parsed, rows_loaded, ...).
        loaded = sum(int(row[3]) for row in results)
        if loaded != expected_rows:
            raise SnowflakeLoadError(f"COPY INTO {target} loaded {loaded} of {expected_rows} rows")

    @staticmethod
    @contextmanager
    def _transaction(cursor: SnowflakeCursor) -> Iterator[None]:
        cursor.execute("BEGIN")
        try:
            yield
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
