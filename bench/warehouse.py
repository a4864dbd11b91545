"""Warehouse build rate: the dbt project on DuckDB over 1M and 10M listening events.

For each size, seeded synthetic landing tables (the project's generator, numpy + polars) are
loaded into a scratch DuckDB file through the platform's DuckDBWarehouse, then timed:

- landing load: every landing table written by DuckDBWarehouse (replace_table, and one
  replace_partitions call over all days);
- dbt full build: `dbt build` of the whole project (models, snapshot, data tests);
- one-day incremental: the last day re-landed (replace_partitions) and `dbt build --select
  tag:daily --event-time-start DAY --event-time-end NEXT_DAY`, what a daily partition run does.
  Every size has the same number of events per day and the same last day, so this run's input
  is identical at every size: its time should not grow with the history.

Baselines, measured in the same process on the same data: a bare DuckDB `CREATE TABLE AS
SELECT * FROM <arrow>` of the landing listens, and a bare `CREATE TABLE AS` of the fact join
(listens joined to tracks), the least work any build of fct_listens does.

    uv run python bench/warehouse.py --sizes 1000000 10000000 --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib import schemas
from music_platform.lib.staging.store import arrow_schema
from music_platform.lib.synthetic import (
    SyntheticConfig,
    generate_catalogue,
    generate_listens,
    generate_users,
)
from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
LAST_DAY = dt.date(2024, 6, 30)
LOADED_AT = dt.datetime(2024, 7, 1, 3, 0, tzinfo=dt.UTC)
GOAL_FULL_BUILD_SECONDS = 60  # 10M listens through dbt on 2 cores
SLOWEST_NODES = 8


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def with_load_metadata(frame: pl.DataFrame, contract: schemas.TableContract) -> pa.Table:
    """A contract frame as the landing table has it: plus source, batch_id and loaded_at."""
    return (
        frame.with_columns(
            source=pl.lit("synthetic"), batch_id=pl.lit("bench"), loaded_at=pl.lit(LOADED_AT)
        )
        .select(contract.column_names)
        .to_arrow()
        .cast(arrow_schema(contract.schema))
    )


def generate_landing(config: SyntheticConfig, days: int) -> dict[str, pa.Table]:
    """Catalogue, users and `days` days of listens ending on LAST_DAY, as landing tables."""
    catalogue = generate_catalogue(config)
    users = generate_users(config, as_of=LAST_DAY + dt.timedelta(days=1))
    first_day = LAST_DAY - dt.timedelta(days=days - 1)
    listens = pl.concat(
        generate_listens(config, first_day + dt.timedelta(days=offset), catalogue, users)
        for offset in range(days)
    )
    return {
        "artists": with_load_metadata(catalogue.artists, schemas.ARTISTS),
        "tracks": with_load_metadata(catalogue.tracks, schemas.TRACKS),
        "users": with_load_metadata(users, schemas.USERS),
        "listens": with_load_metadata(listens, schemas.LISTENS),
    }


def land(warehouse: DuckDBWarehouse, tables: dict[str, pa.Table]) -> None:
    for contract in schemas.CATALOGUE_TABLES:
        warehouse.replace_table(contract.name, tables[contract.name])
    listens = tables["listens"]
    days = sorted({day.isoformat() for day in listens["listen_date"].unique().to_pylist()})
    warehouse.replace_partitions(
        "listens", listens, partition_column="listen_date", partition_keys=days
    )


def bare_copy(path: Path, listens: pa.Table) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.register("incoming", listens)
        connection.execute("CREATE OR REPLACE TABLE bare_listens AS SELECT * FROM incoming")


def bare_fact_join(path: Path) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "CREATE OR REPLACE TABLE bare_facts AS "
            "SELECT l.*, t.artist_id, t.duration_ms FROM landing.listens l "
            "LEFT JOIN landing.tracks t USING (track_id)"
        )


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class DbtRun:
    """One dbt invocation: wall and CPU seconds, and each node's execution time."""

    wall: float
    cpu: float
    node_seconds: dict[str, float]

    def seconds_of(self, resource_type: str) -> float:
        """Node seconds of one resource type (model, test, snapshot); nodes run two at a time,
        so they may add up to more than the wall time."""
        return sum(
            elapsed
            for unique_id, elapsed in self.node_seconds.items()
            if unique_id.startswith(f"{resource_type}.")
        )

    def slowest(self) -> dict[str, float]:
        ranked = sorted(self.node_seconds.items(), key=lambda item: -item[1])
        # "model.music_platform.fct_listens" -> "model fct_listens"
        return {
            " ".join(unique_id.split(".", 2)[::2]): round(elapsed, 2)
            for unique_id, elapsed in ranked[:SLOWEST_NODES]
        }


def dbt(args: list[str], *, warehouse_path: Path, work_dir: Path) -> DbtRun:
    """Run dbt on the `local` (DuckDB) target with its own target and log folders."""
    command = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--target",
        "local",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    environment = {
        **os.environ,
        "MUSIC_PLATFORM_WAREHOUSE_PATH": str(warehouse_path),
        # The pipeline's builds leave the unit tests out (music_platform/defs/warehouse/dbt.py).
        "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
    }
    run_results = work_dir / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)  # `dbt parse` writes none
    cpu_before = children_cpu_seconds()
    start = time.perf_counter()
    completed = subprocess.run(
        command, env=environment, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{completed.stdout[-4000:]}")
    results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    return DbtRun(
        wall=wall,
        cpu=children_cpu_seconds() - cpu_before,
        node_seconds={result["unique_id"]: result["execution_time"] for result in results},
    )


def bench_size(
    listens_target: int, events_per_day: int, config: SyntheticConfig, console: Console
) -> dict[str, object]:
    days = max(1, round(listens_target / events_per_day))
    console.log(f"generating {days} days of about {events_per_day:,} listens")
    tables = generate_landing(config, days)
    listens = tables["listens"]
    last_day = LAST_DAY.isoformat()
    day_rows = listens.filter(pc.equal(listens["listen_date"], LAST_DAY))
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as folder:
        work_dir = Path(folder)
        path = work_dir / "warehouse.duckdb"
        warehouse = DuckDBWarehouse(path)
        console.log(f"{listens.num_rows:,} listens: landing load")
        landing_seconds = seconds(lambda: land(warehouse, tables))
        bare_copy_seconds = seconds(lambda: bare_copy(work_dir / "bare.duckdb", listens))
        bare_join_seconds = seconds(lambda: bare_fact_join(path))
        console.log("dbt parse, dbt full build")
        parse = dbt(["parse"], warehouse_path=path, work_dir=work_dir)
        full = dbt(["build"], warehouse_path=path, work_dir=work_dir)
        console.log(f"one-day incremental ({last_day}, {day_rows.num_rows:,} listens)")
        day_landing_seconds = seconds(
            lambda: warehouse.replace_partitions(
                "listens", day_rows, partition_column="listen_date", partition_keys=[last_day]
            )
        )
        day_end = (LAST_DAY + dt.timedelta(days=1)).isoformat()
        day_window = ["--event-time-start", last_day, "--event-time-end", day_end]
        day = dbt(
            ["build", "--select", "tag:daily", *day_window],
            warehouse_path=path,
            work_dir=work_dir,
        )
        facts = warehouse.relation_row_counts({"fct_listens": "analytics.fct_listens"})
    if facts["fct_listens"] != listens.num_rows:
        raise RuntimeError(f"fct_listens has {facts['fct_listens']} rows, not {listens.num_rows}")
    figures = {
        "listens": listens.num_rows,
        "days": days,
        "day_listens": day_rows.num_rows,
        "landing_seconds": landing_seconds,
        "bare_copy_seconds": bare_copy_seconds,
        "dbt_parse_seconds": parse.wall,
        "full_build_seconds": full.wall,
        "full_build_cpu_seconds": full.cpu,
        "full_build_model_seconds": full.seconds_of("model"),
        "full_build_test_seconds": full.seconds_of("test"),
        "bare_fact_join_seconds": bare_join_seconds,
        "day_landing_seconds": day_landing_seconds,
        "day_build_seconds": day.wall,
        "day_build_cpu_seconds": day.cpu,
        "day_build_model_seconds": day.seconds_of("model"),
        "day_build_test_seconds": day.seconds_of("test"),
        "landing_events_per_second": listens.num_rows / landing_seconds,
        "full_build_events_per_second": listens.num_rows / full.wall,
        "day_events_per_second": day_rows.num_rows / (day_landing_seconds + day.wall),
        "landing_ratio_to_bare_copy": landing_seconds / bare_copy_seconds,
        "full_build_ratio_to_bare_join": full.wall / bare_join_seconds,
    }
    rounded: dict[str, object] = {
        key: round(value, 3) if isinstance(value, float) else value
        for key, value in figures.items()
    }
    rounded["full_build_slowest_nodes"] = full.slowest()
    rounded["day_build_slowest_nodes"] = day.slowest()
    return rounded


def render(results: list[dict[str, object]]) -> Table:
    table = Table(
        title=(
            "Warehouse on DuckDB: seconds per stage "
            f"(goal: 10M listens through dbt in < {GOAL_FULL_BUILD_SECONDS} s)"
        )
    )
    table.add_column("stage")
    for result in results:
        table.add_column(f"{result['listens']:,} listens", justify="right")
    rows = [
        ("days of history", "days", "{:,}"),
        ("landing load (s)", "landing_seconds", "{:.2f}"),
        ("  baseline: bare CTAS of listens (s)", "bare_copy_seconds", "{:.2f}"),
        ("  ratio to baseline", "landing_ratio_to_bare_copy", "{:.2f}"),
        ("  events/s", "landing_events_per_second", "{:,.0f}"),
        ("dbt parse, cold: dbt's fixed cost (s)", "dbt_parse_seconds", "{:.2f}"),
        ("dbt full build (s)", "full_build_seconds", "{:.2f}"),
        ("  CPU (s)", "full_build_cpu_seconds", "{:.2f}"),
        ("  models (node s)", "full_build_model_seconds", "{:.2f}"),
        ("  tests (node s)", "full_build_test_seconds", "{:.2f}"),
        ("  baseline: bare fact join CTAS (s)", "bare_fact_join_seconds", "{:.2f}"),
        ("  ratio to baseline", "full_build_ratio_to_bare_join", "{:.1f}"),
        ("  events/s", "full_build_events_per_second", "{:,.0f}"),
        ("one day: listens", "day_listens", "{:,}"),
        ("one day: landing replace (s)", "day_landing_seconds", "{:.2f}"),
        ("one day: dbt build tag:daily (s)", "day_build_seconds", "{:.2f}"),
        ("  CPU (s)", "day_build_cpu_seconds", "{:.2f}"),
        ("  models (node s)", "day_build_model_seconds", "{:.2f}"),
        ("  tests (node s)", "day_build_test_seconds", "{:.2f}"),
        ("  events/s", "day_events_per_second", "{:,.0f}"),
    ]
    for label, key, style in rows:
        table.add_row(label, *(style.format(result[key]) for result in results))
    return table


def render_slowest(result: dict[str, object]) -> Table:
    table = Table(title=f"slowest dbt nodes at {result['listens']:,} listens (node seconds)")
    table.add_column("full build")
    table.add_column("s", justify="right")
    table.add_column("one-day build")
    table.add_column("s", justify="right")
    full: dict[str, float] = result["full_build_slowest_nodes"]  # type: ignore[assignment]
    day: dict[str, float] = result["day_build_slowest_nodes"]  # type: ignore[assignment]
    for (full_node, full_s), (day_node, day_s) in zip(full.items(), day.items(), strict=False):
        table.add_row(full_node, f"{full_s:.1f}", day_node, f"{day_s:.1f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000_000, 10_000_000],
        help="listening events in the history (default 1000000 10000000)",
    )
    parser.add_argument(
        "--events-per-day",
        type=int,
        default=250_000,
        help="mean listens per day, the same at every size (default 250000)",
    )
    parser.add_argument("--users", type=int, default=20_000, help="default 20000")
    parser.add_argument("--artists", type=int, default=5_000, help="default 5000")
    parser.add_argument("--tracks", type=int, default=50_000, help="default 50000")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    console = Console()
    config = SyntheticConfig(
        users=args.users,
        artists=args.artists,
        tracks=args.tracks,
        events_per_day=args.events_per_day,
    )
    results = [bench_size(size, args.events_per_day, config, console) for size in args.sizes]
    console.print(render(results))
    console.print(render_slowest(results[-1]))

    write_json(
        args.json,
        "warehouse",
        {
            "events_per_day": args.events_per_day,
            "catalogue": {"users": args.users, "artists": args.artists, "tracks": args.tracks},
            "goal_full_build_seconds": GOAL_FULL_BUILD_SECONDS,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
