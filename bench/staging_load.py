"""Staging load rate: the project's loader against a bare bulk insert of the same rows.

PostgreSQL baseline: a bare psycopg binary COPY (`set_types` + `write_row`; the Python tuples
are built beforehand and not timed) of the listens contract columns into a scratch table with
no key or index. DuckDB baseline: a bare `INSERT INTO ... SELECT * FROM arrow_table` into a
table without constraints. The loader is timed end to end from a polars frame to COMMIT:
validation, encoding, bulk load, primary-key build and partition swap (PostgreSQL), rejects and
the batch record. "new" loads a day not staged yet, "replace" reloads it (a rerun).

    uv run python bench/staging_load.py --rows 1000000 --backend both --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import psycopg
import pyarrow as pa
from psycopg import sql
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib.schemas import LISTENS
from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore, validate

DAY = "2024-06-01"
GOAL_RATIO = 0.8  # issue 13: the loader at >= 0.8x a bare binary COPY
PG_COPY_TYPES = ["text", "text", "text", "timestamptz", "int4", "date"]
DEFAULT_CONNINFO = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def generate_listens(rows: int, seed: int = 7) -> pl.DataFrame:
    """Typed listening events over one UTC day, in random event-id order as a stream has them."""
    rng = np.random.default_rng(seed)
    day_start = dt.datetime.fromisoformat(DAY).replace(tzinfo=dt.UTC)

    def padded(values: np.ndarray, width: int) -> pl.Series:
        return pl.Series(values).cast(pl.String).str.zfill(width)

    return pl.DataFrame(
        {
            "event_id": "ev-" + padded(rng.permutation(rows), 12),
            "user_id": "user-" + padded(rng.integers(0, 10_000, rows), 6),
            "track_id": "track-" + padded(rng.integers(0, 200_000, rows), 8),
            "listened_at": pl.Series(rng.integers(0, 86_400_000_000, rows)).cast(pl.Duration("us"))
            + day_start,
            "ms_played": rng.integers(1_000, 600_000, rows).astype(np.int32),
        }
    ).with_columns(listen_date=pl.col("listened_at").dt.date())


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_postgres(frame: pl.DataFrame, conninfo: str, repeat: int) -> dict[str, float]:
    schema = f"bench_staging_{uuid.uuid4().hex[:8]}"
    store = PostgresStagingStore(conninfo, schema=schema)
    bare_table = sql.Identifier(schema, "bare_copy")
    day_partition = sql.Identifier(schema, f"listens_p{DAY.replace('-', '')}")
    tuples = frame.rows()
    columns = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type))
        for name, pg_type in zip(frame.columns, PG_COPY_TYPES, strict=True)
    )
    copy_statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(bare_table, columns)

    def drop(table: sql.Identifier) -> None:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))

    def bare_copy() -> None:
        with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE TABLE {} ({})").format(bare_table, definitions))
            with cursor.copy(copy_statement) as copy:
                copy.set_types(PG_COPY_TYPES)
                for row in tuples:
                    copy.write_row(row)

    def load(batch_id: str) -> None:
        store.replace_partition(
            LISTENS, frame, partition_key=DAY, source="bench", batch_id=batch_id
        )

    timings: dict[str, list[float]] = {"bare": [], "new": [], "replace": []}
    try:
        store.ensure_tables()
        for attempt in range(repeat):
            drop(bare_table)
            timings["bare"].append(seconds(bare_copy))
            drop(day_partition)
            timings["new"].append(seconds(partial(load, f"new-{attempt}")))
            timings["replace"].append(seconds(partial(load, f"replace-{attempt}")))
        if store.count(LISTENS, DAY) != frame.height:
            raise RuntimeError("the loader did not stage every row")
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
    return {name: min(values) for name, values in timings.items()}


def bare_insert(path: Path, arrow_rows: pa.Table) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.register("arrow_rows", arrow_rows)
        connection.execute("CREATE TABLE bare AS SELECT * FROM arrow_rows LIMIT 0")
        connection.execute("INSERT INTO bare SELECT * FROM arrow_rows")


def bench_duckdb(frame: pl.DataFrame, repeat: int) -> dict[str, float]:
    timings: dict[str, list[float]] = {"bare": [], "new": [], "replace": []}
    arrow_rows = frame.to_arrow()
    with tempfile.TemporaryDirectory(prefix="bench-staging-") as folder:
        for attempt in range(repeat):
            bare_path = Path(folder) / f"bare-{attempt}.duckdb"

            timings["bare"].append(seconds(partial(bare_insert, bare_path, arrow_rows)))
            store = DuckDBStagingStore(Path(folder) / f"staging-{attempt}.duckdb")
            store.ensure_tables()
            for run in ("new", "replace"):
                load = partial(
                    store.replace_partition,
                    LISTENS,
                    frame,
                    partition_key=DAY,
                    source="bench",
                    batch_id=f"{run}-{attempt}",
                )
                timings[run].append(seconds(load))
            if store.count(LISTENS, DAY) != frame.height:
                raise RuntimeError("the loader did not stage every row")
    return {name: min(values) for name, values in timings.items()}


def figures(backend: str, rows: int, timings: dict[str, float]) -> list[dict[str, object]]:
    baseline = {
        "postgres": "bare binary COPY (write_row)",
        "duckdb": "bare INSERT ... SELECT arrow",
    }[backend]
    names = {
        "bare": baseline,
        "new": "loader: new partition",
        "replace": "loader: replace partition",
    }
    bare_rate = rows / timings["bare"]
    return [
        {
            "backend": backend,
            "method": names[run],
            "rows": rows,
            "seconds": round(elapsed, 3),
            "rows_per_second": round(rows / elapsed),
            "ratio_to_bare": round((rows / elapsed) / bare_rate, 3),
        }
        for run, elapsed in timings.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="events to load (default 1,000,000)"
    )
    parser.add_argument(
        "--backend", choices=["postgres", "duckdb", "both"], default="both", help="default both"
    )
    parser.add_argument("--conninfo", default=DEFAULT_CONNINFO, help="PostgreSQL server to use")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method; the best counts")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    console = Console()
    frame = generate_listens(args.rows)
    validate_seconds = seconds(lambda: validate(LISTENS, frame, partition_key=DAY))
    results: list[dict[str, object]] = []
    if args.backend in ("postgres", "both"):
        results += figures("postgres", args.rows, bench_postgres(frame, args.conninfo, args.repeat))
    if args.backend in ("duckdb", "both"):
        results += figures("duckdb", args.rows, bench_duckdb(frame, args.repeat))

    table = Table(
        title=f"Staging load, {args.rows:,} listening events (goal: ratio >= {GOAL_RATIO})"
    )
    for column in ("backend", "method", "seconds", "rows/s", "ratio to bare"):
        table.add_column(column, justify="left" if column in ("backend", "method") else "right")
    for result in results:
        table.add_row(
            str(result["backend"]),
            str(result["method"]),
            f"{result['seconds']:.2f}",
            f"{result['rows_per_second']:,}",
            f"{result['ratio_to_bare']:.2f}",
        )
    console.print(table)
    console.print(
        f"validation alone: {validate_seconds:.2f} s ({args.rows / validate_seconds:,.0f} rows/s)"
    )

    write_json(
        args.json,
        "staging_load",
        {
            "rows": args.rows,
            "goal_ratio": GOAL_RATIO,
            "validation_seconds": round(validate_seconds, 3),
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
