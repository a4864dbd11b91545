"""Data quality on the files path: what each defect gets, and what validation costs.

1. Every defective file of the README's data quality table (built from the real shared files by
   `music_platform_tests/support/defects.py`) is screened and its landing checks evaluated
   against the real file's landing: defect kind, expected and observed behaviour.
2. The cost of validation: screening a clean file (`lib.quality.files.screen_file`: split, cast,
   structure, encoding, ranges, timestamps, exact copies) against an unvalidated load of the
   same file in the same run (`polars.read_csv` with the same column types), best of N each,
   the two taking turns; as a ratio of wall time and of CPU time (steadier on a shared machine).

    uv run python bench/quality.py [--kaggle-rows N] [--repeats N] [--json PATH]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib.quality.files import FileFormat, screen_file
from music_platform.lib.sources.files import SCROBBLES_FORMAT, SHARED_FILES, SONGS_FORMAT
from music_platform.lib.sources.kaggle import TRACKS_FORMAT
from music_platform_tests.support.defects import DEFECTS, observe, write_defective
from music_platform_tests.support.paths import SHARED_DATA


def best_of_interleaved(repeats: int, *runs: Callable[[], Any]) -> list[tuple[float, float]]:
    """Each run's best wall time and best CPU time (every thread of the process), the runs
    taking turns so that a busy moment of the machine weighs on all of them alike. CPU time
    moves less than wall time when other jobs share the cores."""
    wall = [float("inf")] * len(runs)
    cpu = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            run()
            wall[i] = min(wall[i], time.perf_counter() - started)
            cpu[i] = min(cpu[i], time.process_time() - started_cpu)
    return list(zip(wall, cpu, strict=True))


def defect_table(work: Path) -> list[dict[str, Any]]:
    previous = {}
    rows = []
    for defect in DEFECTS:
        source = defect.source
        if source.name not in previous:
            previous[source.name] = source.read(SHARED_DATA / source.shared)[0]
        observed = observe(
            source, write_defective(defect, SHARED_DATA, work), previous[source.name]
        )
        rows.append(
            {
                "source": source.name,
                "defect": defect.kind,
                "expected": defect.expected,
                "observed": observed.behaviour,
                "rejected": observed.rejected,
                "deduplicated": observed.deduplicated,
                "message": (observed.messages or [""])[0],
            }
        )
    return rows


def bare_load(path: Path, file_format: FileFormat) -> pl.DataFrame:
    """What an unvalidated load does: parse with the column types, nothing checked."""
    if file_format.has_header:
        return pl.read_csv(
            path,
            separator=file_format.separator,
            quote_char=file_format.quote_char,
            columns=list(file_format.columns),
            schema_overrides={
                name: dtype for name, dtype in file_format.columns.items() if dtype.is_numeric()
            },
        )
    frame = pl.read_csv(
        path,
        separator=file_format.separator,
        has_header=False,
        quote_char=file_format.quote_char,
        new_columns=list(file_format.columns),
        schema_overrides=dict.fromkeys(file_format.columns, pl.String()),
    )
    return frame.with_columns(
        pl.col(name).str.to_datetime(time_zone="UTC", strict=False)
        for name, dtype in file_format.columns.items()
        if isinstance(dtype, pl.Datetime)
    )


def larger_kaggle(rows: int, work: Path) -> Path:
    """The Kaggle sample repeated to `rows` rows, each copy with its own track ids."""
    sample = pl.read_csv(SHARED_DATA / SHARED_FILES["kaggle_tracks"], infer_schema=False)
    copies = -(-rows // sample.height)
    frames = [sample.with_columns(pl.col("track_id") + f"-{n}") for n in range(copies)]
    path = work / "kaggle-large.csv"
    pl.concat(frames).head(rows).write_csv(path)
    return path


def cost_table(kaggle_rows: int, repeats: int, work: Path) -> list[dict[str, Any]]:
    songs_plain = work / "spotify_songs.csv"
    songs_plain.write_bytes(
        gzip.decompress((SHARED_DATA / SHARED_FILES["tidytuesday_songs"]).read_bytes())
    )
    files = [
        ("Kaggle CSV", larger_kaggle(kaggle_rows, work), TRACKS_FORMAT),
        ("TidyTuesday CSV", songs_plain, SONGS_FORMAT),
        ("TidyTuesday CSV.gz", SHARED_DATA / SHARED_FILES["tidytuesday_songs"], SONGS_FORMAT),
        ("Last.fm 1K TSV", SHARED_DATA / SHARED_FILES["lastfm_1k_scrobbles"], SCROBBLES_FORMAT),
    ]
    rows = []
    for name, path, file_format in files:
        screened = screen_file(path, file_format)  # warm both paths once
        assert screened.rejected == 0, (
            f"{name}: the clean file was rejected from: {screened.reject_reasons}"
        )
        bare_load(path, file_format)
        (bare, bare_cpu), (validated, validated_cpu) = best_of_interleaved(
            repeats,
            partial(bare_load, path, file_format),
            partial(screen_file, path, file_format),
        )
        rows.append(
            {
                "file": name,
                "rows": screened.rows.height,
                "bare_seconds": bare,
                "validated_seconds": validated,
                "ratio": validated / bare,
                "bare_cpu_seconds": bare_cpu,
                "validated_cpu_seconds": validated_cpu,
                "cpu_ratio": validated_cpu / bare_cpu,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kaggle-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    console = Console()
    if not console.is_terminal:  # piped to a file: room for the messages
        console = Console(width=160)

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        defects = defect_table(work)
        costs = cost_table(args.kaggle_rows, args.repeats, work)

    table = Table(title="Defective files through the files path")
    for column in ("source", "defect", "expected", "observed", "", "message"):
        table.add_column(column, overflow="fold")
    for row in defects:
        ok = "ok" if row["observed"] == row["expected"] else "MISMATCH"
        table.add_row(
            row["source"], row["defect"], row["expected"], row["observed"], ok, row["message"][:90]
        )
    console.print(table)

    cost = Table(title=f"Validation cost (best of {args.repeats}, same run)")
    for column in ("file", "rows", "bare load s", "validated s", "ratio", "CPU ratio"):
        cost.add_column(column, justify="right" if column != "file" else "left")
    for row in costs:
        cost.add_row(
            row["file"],
            f"{row['rows']:,}",
            f"{row['bare_seconds']:.4f}",
            f"{row['validated_seconds']:.4f}",
            f"{row['ratio']:.2f}x",
            f"{row['cpu_ratio']:.2f}x",
        )
    console.print(cost)
    matched = sum(row["observed"] == row["expected"] for row in defects)
    console.print(f"{matched} of {len(defects)} defects got their expected behaviour")

    write_json(
        args.json,
        "quality",
        {
            "defects": defects,
            "defects_matched": matched,
            "defects_total": len(defects),
            "validation_cost": costs,
        },
    )
    if matched != len(defects):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
