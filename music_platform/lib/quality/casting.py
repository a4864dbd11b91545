"""Per-row casts from whatever a raw source delivered to a contract dtype.

Each cast returns null where a non-null value does not convert, so the caller can tell a bad
value (non-null in, null out) from a missing one, row by row, without leaving polars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

# Timestamps arrive as ISO 8601 text; with an offset (or Z) they are converted to UTC. Without
# one they parse as UTC here, and validation rejects them (no zone, no known instant).
_TIMESTAMP_FORMATS = tuple(
    f"%Y-%m-%d{separator}{time}{offset}"
    for time in ("%H:%M:%S%.f", "%H:%M")
    for offset in ("%#z", "")
    for separator in ("T", " ")
)

_TRUE_WORDS = ("true", "t", "yes", "y", "1")
_FALSE_WORDS = ("false", "f", "no", "n", "0")
_BOOLEAN_WORDS = {**dict.fromkeys(_TRUE_WORDS, True), **dict.fromkeys(_FALSE_WORDS, False)}

_VALUE_PREVIEW_CHARS = 80


def type_label(dtype: pl.DataType) -> str:
    """Short dtype name for reject reasons: 'Int32', 'Date', 'Datetime'."""
    return dtype.base_type().__name__


def value_text(column: pl.Expr, source: pl.DataType) -> pl.Expr:
    """The raw value as text, cut short, for a reject reason."""
    import polars as pl

    text = column if source == pl.String() else column.cast(pl.String, strict=False)
    return text.str.slice(0, _VALUE_PREVIEW_CHARS)


def cast_series(series: pl.Series, target: pl.DataType) -> pl.Series:
    """`series` cast to `target`; null where a value does not convert."""
    import polars as pl

    if series.dtype == pl.String() and isinstance(target, pl.Datetime):
        parsed = _iso_timestamps_fast(series, target)
        return parsed if parsed is not None else _iso_timestamps(series, target)
    return (
        series.to_frame()
        .select(_cast_expression(pl.col(series.name), series.dtype, target))
        .to_series()
    )


def _iso_timestamps_fast(series: pl.Series, target: pl.Datetime) -> pl.Series | None:
    """Arrow's ISO 8601 parser, several times faster than the per-format route, for the common
    case of a column that is clean throughout; None when any value needs the careful route."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    values = series.to_arrow().cast(pa.string())
    shortest = pc.min(pc.utf8_length(values)).as_py()
    if shortest is not None and shortest < len("YYYY-MM-DDTHH:MM"):
        return None  # a bare date is no timestamp; let the careful route reject it
    arrow_type = pa.timestamp(target.time_unit, "UTC")
    try:
        parsed = pc.cast(values, arrow_type)
    except pa.ArrowInvalid:
        try:  # all without an offset: UTC by convention
            parsed = pc.cast(values, pa.timestamp(target.time_unit)).cast(arrow_type)
        except pa.ArrowInvalid:
            return None
    return pl.Series(series.name, parsed, dtype=pl.Datetime(target.time_unit, "UTC"))


def _iso_timestamps(series: pl.Series, target: pl.Datetime) -> pl.Series:
    """Each format in turn, tried only on the values no earlier format could read."""
    import polars as pl

    text = series.str.strip_chars()
    parsed = pl.repeat(None, series.len(), dtype=pl.Datetime(target.time_unit, "UTC"), eager=True)
    pending = text.is_not_null()
    for timestamp_format in _TIMESTAMP_FORMATS:
        rows = pending.arg_true()
        if rows.is_empty():
            break
        attempt = text.gather(rows).str.to_datetime(
            timestamp_format, time_unit=target.time_unit, time_zone="UTC", strict=False
        )
        read = attempt.is_not_null()
        parsed = parsed.scatter(rows.filter(read), attempt.filter(read))
        pending = pending.scatter(rows.filter(read), False)
    return parsed.alias(series.name)


def _cast_expression(column: pl.Expr, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    """`column` (of dtype `source`) cast to `target`; null where a value does not convert."""
    import polars as pl

    if source == target:
        return column
    if target == pl.String():
        return _to_string(column, source)
    if target.is_integer():
        return _to_integer(column, source, target)
    if target.is_float():
        return _to_float(column, source, target)
    if target == pl.Boolean():
        return _to_boolean(column, source)
    if target == pl.Date():
        return _to_date(column, source)
    if isinstance(target, pl.Datetime):
        return _to_utc_datetime(column, source, target)
    return column.cast(target, strict=False)


def _to_string(column: pl.Expr, source: pl.DataType) -> pl.Expr:
    import polars as pl

    if isinstance(source, pl.List):
        # Multi-valued text (an artist's genres) is stored ';'-joined, as the contract says.
        return column.list.eval(pl.element().cast(pl.String)).list.join(";")
    if isinstance(source, pl.Struct):
        return column.struct.json_encode()
    return column.cast(pl.String, strict=False)


def _to_integer(column: pl.Expr, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    import polars as pl

    if source == pl.String():
        return column.str.strip_chars().cast(target, strict=False)
    if source.is_float():
        # 1.0 is an integer; 1.5 is not, and truncating it would invent data.
        whole = column.is_finite() & (column == column.floor())
        return pl.when(whole).then(column.cast(target, strict=False))
    return column.cast(target, strict=False)


def _to_float(column: pl.Expr, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    import polars as pl

    if source == pl.String():
        return column.str.strip_chars().cast(target, strict=False)
    return column.cast(target, strict=False)


def _to_boolean(column: pl.Expr, source: pl.DataType) -> pl.Expr:
    import polars as pl

    if source == pl.String():
        word = column.str.strip_chars().str.to_lowercase()
        return word.replace_strict(_BOOLEAN_WORDS, default=None, return_dtype=pl.Boolean)
    if source.is_numeric():
        return pl.when(column == 1).then(True).when(column == 0).then(False)
    return column.cast(pl.Boolean, strict=False)


def _to_date(column: pl.Expr, source: pl.DataType) -> pl.Expr:
    import polars as pl

    if source == pl.String():
        # Release dates come as '2019', '2019-05' or '2019-05-03' (Spotify's
        # release_date_precision): the coarser ones mean the first day of that year or month.
        text = (
            column.str.strip_chars()
            .str.replace(r"^(\d{4})$", "${1}-01-01")
            .str.replace(r"^(\d{4}-\d{1,2})$", "${1}-01")
        )
        return text.str.to_date("%Y-%m-%d", strict=False)
    if isinstance(source, pl.Datetime):
        if source.time_zone is not None:
            column = column.dt.convert_time_zone("UTC")
        return column.dt.date()
    return column.cast(pl.Date, strict=False)


def _to_utc_datetime(column: pl.Expr, source: pl.DataType, target: pl.Datetime) -> pl.Expr:
    import polars as pl

    unit = target.time_unit
    if isinstance(source, pl.Datetime):
        if source.time_zone is None:
            return column.cast(pl.Datetime(unit)).dt.replace_time_zone("UTC")
        return column.dt.convert_time_zone("UTC").cast(pl.Datetime(unit, "UTC"))
    if source == pl.Date():
        return column.cast(pl.Datetime(unit)).dt.replace_time_zone("UTC")
    # Bare numbers are refused: seconds, milliseconds or microseconds since the epoch cannot be
    # told apart, so the raw layer must say which.
    return pl.lit(None, dtype=pl.Datetime(unit, "UTC"))
