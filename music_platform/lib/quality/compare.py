"""A load against the previous one: volume, categories, numeric distributions, and conflicting
facts within a load. Each returns a `Finding` the asset turns into a check; all vectorised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

VOLUME_TOLERANCE = 5.0
"""A load may hold up to this many times fewer or more rows than the previous one."""
CATEGORY_GROWTH = 3.0
"""A category column may gain up to this many times its previous distinct values..."""
CATEGORY_SLACK = 20
"""...plus this many, so a small catalogue adding a handful of genres raises no alarm."""
SHIFT_LIMIT = 0.5
"""Largest move of a column's median, in units of its previous interquartile range."""


@dataclass(frozen=True)
class Finding:
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def volume(
    rows: int, previous: int | None, *, what: str, tolerance: float = VOLUME_TOLERANCE
) -> Finding:
    """Blocking: an empty load, or one far smaller or larger than the previous."""
    metadata = {"rows": rows, "previous_rows": previous, "tolerance": tolerance}
    if rows == 0:
        return Finding(
            False, f"{what} is empty: check that the feed delivered data, then rerun", metadata
        )
    if not previous:
        return Finding(True, f"{rows} rows; no previous load to compare with", metadata)
    ratio = rows / previous
    if ratio < 1 / tolerance or ratio > tolerance:
        change = "dropped" if ratio < 1 else "spiked"
        return Finding(
            False,
            f"{what} {change} to {rows} rows from {previous} (x{ratio:.2f}, tolerance "
            f"x{tolerance:g}): check the feed for a partial or repeated delivery; the previous "
            "load is kept",
            metadata,
        )
    return Finding(True, f"{rows} rows against {previous} before (x{ratio:.2f})", metadata)


def _categories(frame: pl.DataFrame, column: str, separator: str | None) -> int:
    values = frame.get_column(column).drop_nulls()
    if separator is not None:
        values = values.str.split(separator).explode()
    return values.n_unique()


def category_explosion(
    frame: pl.DataFrame, previous: pl.DataFrame | None, column: str, *, separator: str | None = ";"
) -> Finding:
    """Warning: a category column with many times its usual distinct values."""
    now = _categories(frame, column, separator)
    if previous is None or column not in previous.columns:
        return Finding(
            True, f"{column}: {now} distinct values; nothing to compare with", {"distinct": now}
        )
    before = _categories(previous, column, separator)
    limit = before * CATEGORY_GROWTH + CATEGORY_SLACK
    metadata = {"distinct": now, "previous_distinct": before, "limit": limit}
    if now > limit:
        return Finding(
            False,
            f"{column}: {now} distinct values against {before} before (limit {limit:g}): a "
            "free-text or misaligned column? check the source's values",
            metadata,
        )
    return Finding(True, f"{column}: {now} distinct values against {before} before", metadata)


def distribution_shift(
    frame: pl.DataFrame, previous: pl.DataFrame | None, columns: Sequence[str]
) -> Finding:
    """Warning: a numeric column whose median moved by more than SHIFT_LIMIT previous IQRs."""
    columns = [
        c for c in columns if c in frame.columns and previous is not None and c in previous.columns
    ]
    if previous is None or not columns or frame.is_empty() or previous.is_empty():
        return Finding(True, "nothing to compare with", {})

    def stats(source: pl.DataFrame) -> dict[str, tuple[float | None, float | None]]:
        import polars as pl

        row = source.select(
            *[pl.col(c).cast(pl.Float64).median().alias(f"{c}|m") for c in columns],
            *[
                (
                    pl.col(c).cast(pl.Float64).quantile(0.75)
                    - pl.col(c).cast(pl.Float64).quantile(0.25)
                ).alias(f"{c}|iqr")
                for c in columns
            ],
        ).row(0, named=True)
        return {c: (row[f"{c}|m"], row[f"{c}|iqr"]) for c in columns}

    now, before = stats(frame), stats(previous)
    shifted = {}
    for column in columns:
        (median, _), (old_median, iqr) = now[column], before[column]
        if median is None or old_median is None or not iqr:
            continue
        moved = abs(median - old_median) / iqr
        if moved > SHIFT_LIMIT:
            shifted[column] = f"median {old_median:g} -> {median:g} ({moved:.1f} IQR)"
    if shifted:
        listed = "; ".join(f"{c}: {text}" for c, text in shifted.items())
        return Finding(
            False, f"distribution shifted: {listed}; check units and scaling", {"shifted": shifted}
        )
    return Finding(True, f"{len(columns)} numeric columns within {SHIFT_LIMIT} IQR of before", {})


def conflicting_facts(frame: pl.DataFrame, key: str, columns: Sequence[str]) -> Finding:
    """Warning: one key with different values of a fact (same track id, another name)."""
    import polars as pl

    columns = [c for c in columns if c in frame.columns]
    if not columns or frame.is_empty():
        return Finding(True, "no facts to compare", {"conflicting_keys": 0})
    per_key = frame.group_by(key).agg(pl.col(c).n_unique().alias(c) for c in columns)
    conflicting = per_key.filter(pl.any_horizontal(pl.col(c) > 1 for c in columns))
    if conflicting.is_empty():
        return Finding(
            True, f"every {key} states one value of {', '.join(columns)}", {"conflicting_keys": 0}
        )
    examples = conflicting.get_column(key).head(3).to_list()
    which = [c for c in columns if conflicting.get_column(c).max() > 1]
    return Finding(
        False,
        f"{conflicting.height} {key} value(s) carry conflicting {', '.join(which)} (e.g. "
        f"{', '.join(map(str, examples))}); the first row of each is kept",
        {"conflicting_keys": conflicting.height, "examples": examples},
    )
