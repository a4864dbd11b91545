"""End to end: `music-platform run` on the embedded `local` default, and the code location load.

For each size, a fresh temporary home and `SYNTHETIC_EVENTS_PER_DAY = size / days`, then the
real command in a child process: raw, staging, landing, dbt and the recommender. Measured: wall
and CPU seconds, listening events per second, and peak RSS of the whole process tree (the CLI
and its dbt subprocesses, sampled from /proc). Each step's time comes from the run's own
Dagster instance, to show where the time goes.

Baselines, measured in this run:
- throughput: generating the same events with the project's synthetic generator and writing
  them to Parquet with polars, nothing else (what the raw layer alone must do);
- bare pipeline: that, then the Parquet files read into one DuckDB process and put through the
  daily models' SQL written by hand (typed listens, sessions, fct_listens, the two daily
  aggregates): no Dagster, no dbt, no checks, no catalogue models, embeddings or recommender.
  `ratio_to_bare` is the platform's wall over it;
- load: a fresh interpreter's `import dagster`, against one that imports
  music_platform.definitions and builds its definitions from the settings.

    uv run python bench/end_to_end.py --sizes 100000 1000000 --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib.synthetic import (
    SyntheticConfig,
    generate_catalogue,
    generate_listens,
    generate_users,
)

# Issue 13's aims on 2 cores: seconds end to end by events, and peak memory at 10M.
GOAL_RUN_SECONDS = {1_000_000: 30, 10_000_000: 240}
# Issue 23's aim: the platform within this many times the hand-written pipeline, same machine.
GOAL_RATIO_TO_BARE = 4.0
GOAL_PEAK_MIB = 2048
GOAL_LOAD_SECONDS = 3.0
SAMPLE_SECONDS = 0.25
TIMED_IMPORT = (
    "import time; start = time.perf_counter(); {statement}; print(time.perf_counter() - start)"
)
LOAD_DEFINITIONS = "import music_platform.definitions as d; d.defs()"


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants."""
    children = _children_by_parent()
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


class PeakMemory:
    """Samples a process tree's RSS in a thread until the process ends; keeps the peak."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.peak = 0
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while self.process.poll() is None:
            self.peak = max(self.peak, tree_rss_bytes(self.process.pid))
            time.sleep(SAMPLE_SECONDS)

    def join(self) -> int:
        self.thread.join()
        return self.peak


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_platform(home: Path, events_per_day: int, days: int, work_dir: Path) -> dict[str, object]:
    summary_path = work_dir / "summary.json"
    environment = {
        **os.environ,
        "MUSIC_PLATFORM_ENV": "local",
        "MUSIC_PLATFORM_HOME": str(home),
        "SYNTHETIC_EVENTS_PER_DAY": str(events_per_day),
    }
    command = [sys.executable, "-m", "music_platform.cli", "run", "--days", str(days)]
    cpu_before = children_cpu_seconds()
    start = time.perf_counter()
    with (work_dir / "run.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--summary", str(summary_path)],
            env=environment,
            cwd=work_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        memory = PeakMemory(process)
        returncode = process.wait()
    wall = time.perf_counter() - start
    peak = memory.join()
    if returncode != 0:
        tail = (work_dir / "run.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"music-platform run failed ({returncode}):\n{tail}")
    summary = json.loads(summary_path.read_text())
    by_key = {asset["key"]: asset for asset in summary["assets"]}
    return {
        "events": by_key["raw/synthetic_listens"]["rows"],
        "wall_seconds": wall,
        "graph_seconds": summary["seconds"],
        "cpu_seconds": children_cpu_seconds() - cpu_before,
        "peak_rss_bytes": peak,
        "run_id": summary["run_id"],
    }


def step_seconds(home: Path, run_id: str) -> dict[str, float]:
    """Each step's duration, read from the run's SQLite instance under the home."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        stats = instance.get_run_step_stats(run_id)
    return {
        stat.step_key: stat.end_time - stat.start_time
        for stat in stats
        if stat.start_time and stat.end_time
    }


def parquet_baseline(events_per_day: int, days: int, folder: Path) -> tuple[int, float]:
    """Generate the run's days of events and write them to Parquet with polars only."""
    config = SyntheticConfig(events_per_day=events_per_day)
    today = dt.datetime.now(dt.UTC).date()
    start = time.perf_counter()
    catalogue = generate_catalogue(config)
    users = generate_users(config, as_of=today)
    catalogue.artists.write_parquet(folder / "artists.parquet")
    catalogue.tracks.write_parquet(folder / "tracks.parquet")
    users.write_parquet(folder / "users.parquet")
    events = 0
    for offset in range(days, 0, -1):
        day = today - dt.timedelta(days=offset)
        listens = generate_listens(config, day, catalogue, users)
        listens.write_parquet(folder / f"listens-{day.isoformat()}.parquet")
        events += listens.height
    return events, time.perf_counter() - start


# The daily models' queries (dbt_project/models/*/listening/), written out for DuckDB by hand:
# the same typing, 30-minute sessions cut at the day boundary, the fact join and the aggregates.
BARE_PIPELINE_SQL = (
    """CREATE TABLE tracks AS SELECT * FROM read_parquet($tracks)""",
    """CREATE TABLE listens AS
        SELECT event_id, user_id, track_id,
               cast(listened_at AT TIME ZONE 'UTC' AS TIMESTAMP) AS listened_at, listen_date,
               ms_played, 'synthetic' AS source_name
        FROM read_parquet($listens)""",
    """CREATE TABLE int_listening_sessions AS
        WITH ended AS (
            SELECT *, listened_at + to_milliseconds(coalesce(ms_played, 0)) AS listen_ended_at
            FROM listens
        ), previous AS (
            SELECT *, max(listen_ended_at) OVER (
                PARTITION BY user_id, listen_date ORDER BY listened_at, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_ended_at
            FROM ended
        ), numbered AS (
            SELECT *, sum(CASE WHEN previous_ended_at IS NULL
                                 OR date_diff('second', previous_ended_at, listened_at) > 1800
                               THEN 1 ELSE 0 END) OVER (
                PARTITION BY user_id, listen_date ORDER BY listened_at, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_number
            FROM previous
        )
        SELECT md5(user_id || '-' || cast(listen_date AS VARCHAR) || '-'
                   || cast(min(listened_at) AS VARCHAR)) AS session_id,
               user_id, listen_date, min(listened_at) AS session_start,
               max(listen_ended_at) AS session_end, count(*) AS listens,
               cast(sum(ms_played) AS BIGINT) AS ms_played
        FROM numbered GROUP BY user_id, listen_date, session_number""",
    """CREATE TABLE fct_listens AS
        SELECT l.event_id, l.user_id, l.track_id, t.artist_id, l.listen_date, s.session_id,
               l.listened_at, l.ms_played, t.duration_ms AS track_duration_ms,
               CASE WHEN l.ms_played IS NULL OR NOT t.duration_ms > 0 THEN NULL
                    WHEN l.ms_played >= t.duration_ms THEN 1.0
                    ELSE cast(l.ms_played AS DOUBLE) / t.duration_ms END AS completion_ratio,
               l.source_name
        FROM listens l
        LEFT JOIN tracks t ON l.track_id = t.track_id
        LEFT JOIN int_listening_sessions s
            ON l.user_id = s.user_id AND l.listen_date = s.listen_date
            AND l.listened_at BETWEEN s.session_start AND s.session_end""",
    """CREATE TABLE fct_daily_user_listens AS
        WITH user_days AS (
            SELECT listen_date, user_id, count(*) AS listens,
                   count(DISTINCT track_id) AS distinct_tracks,
                   count(DISTINCT artist_id) AS distinct_artists,
                   cast(sum(ms_played) AS BIGINT) AS ms_played,
                   avg(completion_ratio) AS avg_completion_ratio
            FROM fct_listens GROUP BY listen_date, user_id
        ), user_day_sessions AS (
            SELECT listen_date, user_id, count(*) AS sessions
            FROM int_listening_sessions GROUP BY listen_date, user_id
        )
        SELECT d.*, s.sessions FROM user_days d
        LEFT JOIN user_day_sessions s USING (listen_date, user_id)""",
    """CREATE TABLE fct_daily_artist_listens AS
        SELECT listen_date, artist_id, count(*) AS listens, count(DISTINCT user_id) AS listeners,
               count(DISTINCT track_id) AS distinct_tracks,
               cast(sum(ms_played) AS BIGINT) AS ms_played,
               avg(completion_ratio) AS avg_completion_ratio
        FROM fct_listens GROUP BY listen_date, artist_id""",
)


def bare_pipeline(folder: Path) -> tuple[int, float]:
    """The Parquet that `parquet_baseline` wrote, read into one DuckDB process and put through
    the daily models' SQL; returns fct_listens' rows and the seconds taken."""
    files = {"tracks": str(folder / "tracks.parquet"), "listens": str(folder / "listens-*.parquet")}
    start = time.perf_counter()
    with duckdb.connect(str(folder / "bare.duckdb")) as connection:
        connection.execute("SET enable_progress_bar = false")
        for statement in BARE_PIPELINE_SQL:
            used = {name: path for name, path in files.items() if f"${name}" in statement}
            connection.execute(statement, used)
        (facts,) = connection.execute("SELECT count(*) FROM fct_listens").fetchone()
    return int(facts), time.perf_counter() - start


def fresh_import_seconds(statement: str, home: Path) -> float:
    environment = {**os.environ, "MUSIC_PLATFORM_ENV": "local", "MUSIC_PLATFORM_HOME": str(home)}
    completed = subprocess.run(
        [sys.executable, "-c", TIMED_IMPORT.format(statement=statement)],
        env=environment,
        cwd=home,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def load_times(repeat: int, home: Path) -> dict[str, float]:
    """Median of `repeat` fresh processes each, alternating so load changes hit both alike."""
    dagster_only, definitions = [], []
    fresh_import_seconds(LOAD_DEFINITIONS, home)  # warm: bytecode, a stale dbt manifest
    for _ in range(repeat):
        dagster_only.append(fresh_import_seconds("import dagster", home))
        definitions.append(fresh_import_seconds(LOAD_DEFINITIONS, home))
    return {
        "import_dagster_seconds": statistics.median(dagster_only),
        "load_definitions_seconds": statistics.median(definitions),
    }


def bench_size(size: int, days: int, console: Console) -> dict[str, object]:
    events_per_day = max(1, size // days)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as folder:
        work_dir = Path(folder)
        home = work_dir / "home"
        console.log(f"{size:,} events: music-platform run ({days} days x {events_per_day:,})")
        run = run_platform(home, events_per_day, days, work_dir)
        steps = step_seconds(home, str(run["run_id"]))
        console.log(f"{size:,} events: Parquet baseline")
        baseline_dir = work_dir / "baseline"
        baseline_dir.mkdir()
        baseline_events, baseline_seconds = parquet_baseline(events_per_day, days, baseline_dir)
        console.log(f"{size:,} events: bare pipeline (DuckDB, the daily models' SQL)")
        bare_facts, bare_sql_seconds = bare_pipeline(baseline_dir)
    if bare_facts != baseline_events:
        raise RuntimeError(f"bare pipeline: {bare_facts:,} facts for {baseline_events:,} events")
    bare_seconds = baseline_seconds + bare_sql_seconds
    wall = float(run["wall_seconds"])
    events = int(run["events"])
    return {
        "target_events": size,
        "events": events,
        "days": days,
        "wall_seconds": round(wall, 2),
        "graph_seconds": round(float(run["graph_seconds"]), 2),
        "cpu_seconds": round(float(run["cpu_seconds"]), 2),
        "events_per_second": round(events / wall),
        "peak_rss_mib": round(int(run["peak_rss_bytes"]) / 2**20),
        "baseline_events": baseline_events,
        "baseline_seconds": round(baseline_seconds, 2),
        "baseline_events_per_second": round(baseline_events / baseline_seconds),
        "ratio_to_baseline": round(wall / baseline_seconds, 1),
        "bare_sql_seconds": round(bare_sql_seconds, 2),
        "bare_pipeline_seconds": round(bare_seconds, 2),
        "ratio_to_bare": round(wall / bare_seconds, 2),
        "step_seconds": {key: round(value, 2) for key, value in sorted(steps.items())},
    }


def render_runs(results: list[dict[str, object]]) -> Table:
    table = Table(
        title=(
            "music-platform run, local, end to end (aims: 1M events < "
            f"{GOAL_RUN_SECONDS[1_000_000]} s, 10M < {GOAL_RUN_SECONDS[10_000_000]} s "
            f"and < {GOAL_PEAK_MIB:,} MiB)"
        )
    )
    table.add_column("")
    for result in results:
        table.add_column(f"{result['events']:,} events", justify="right")
    rows = [
        ("wall (s)", "wall_seconds", "{:.1f}"),
        ("  of which the graph run (s)", "graph_seconds", "{:.1f}"),
        ("CPU, all processes (s)", "cpu_seconds", "{:.1f}"),
        ("events/s", "events_per_second", "{:,}"),
        ("peak RSS, process tree (MiB)", "peak_rss_mib", "{:,}"),
        ("baseline: generate + Parquet (s)", "baseline_seconds", "{:.2f}"),
        ("baseline events/s", "baseline_events_per_second", "{:,}"),
        ("ratio wall / baseline", "ratio_to_baseline", "{:.1f}"),
        ("  bare: + DuckDB, daily models' SQL (s)", "bare_sql_seconds", "{:.2f}"),
        ("bare pipeline: generate + Parquet + SQL (s)", "bare_pipeline_seconds", "{:.2f}"),
        (f"ratio wall / bare (aim < {GOAL_RATIO_TO_BARE:g})", "ratio_to_bare", "{:.2f}"),
    ]
    for label, key, style in rows:
        table.add_row(label, *(style.format(result[key]) for result in results))
    return table


def render_steps(result: dict[str, object], top: int = 10) -> Table:
    steps: dict[str, float] = result["step_seconds"]  # type: ignore[assignment]
    table = Table(title=f"slowest steps at {result['events']:,} events")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("share of wall", justify="right")
    for key, value in sorted(steps.items(), key=lambda item: -item[1])[:top]:
        table.add_row(key, f"{value:.1f}", f"{value / float(result['wall_seconds']):.0%}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="listening events in total over the run's days (default 100000 1000000)",
    )
    parser.add_argument("--days", type=int, default=7, help="daily partitions (default 7)")
    parser.add_argument(
        "--load-repeat", type=int, default=3, help="fresh processes per load figure (median)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    console = Console()
    results = [bench_size(size, args.days, console) for size in args.sizes]
    console.log("code location load")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        load = load_times(args.load_repeat, Path(folder))
    load["ratio_to_import_dagster"] = (
        load["load_definitions_seconds"] / load["import_dagster_seconds"]
    )

    console.print(render_runs(results))
    console.print(render_steps(results[-1]))
    console.print(
        f"code location load: {load['load_definitions_seconds']:.2f} s "
        f"(goal < {GOAL_LOAD_SECONDS} s); bare import dagster: "
        f"{load['import_dagster_seconds']:.2f} s; ratio {load['ratio_to_import_dagster']:.2f}"
    )

    write_json(
        args.json,
        "end_to_end",
        {
            "goal_run_seconds": GOAL_RUN_SECONDS,
            "goal_peak_mib": GOAL_PEAK_MIB,
            "goal_load_seconds": GOAL_LOAD_SECONDS,
            "goal_ratio_to_bare": GOAL_RATIO_TO_BARE,
            "runs": results,
            "load": {key: round(value, 3) for key, value in load.items()},
        },
    )


if __name__ == "__main__":
    main()
