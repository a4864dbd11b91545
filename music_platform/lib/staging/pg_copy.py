"""PostgreSQL COPY in both directions, vectorised: no Python loop over rows.

In: polars columns become PostgreSQL's binary COPY format with numpy and Arrow kernels, then go
to the server in large buffers (`Copy.write`), with no per-row Python work (`write_row`).
Out: `COPY (SELECT ...) TO STDOUT (FORMAT CSV)` parsed by Arrow's CSV reader, from a session
set to ISO dates and UTC so that the text form of dates and timestamps is fixed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from psycopg import sql

BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_NULL_FIELD = pa.scalar((-1).to_bytes(4, "big", signed=True), pa.large_binary())
_EMPTY = pa.scalar(b"", pa.large_binary())

# PostgreSQL counts dates and timestamps from 2000-01-01, Arrow and polars from 1970-01-01.
_PG_EPOCH_DAYS = 10_957
_PG_EPOCH_MICROSECONDS = _PG_EPOCH_DAYS * 86_400 * 1_000_000

_CHUNK_ROWS = 100_000

READ_SESSION_SETTINGS = {"TimeZone": "UTC", "DateStyle": "ISO, YMD"}

_FIXED_WIDTH: dict[type[pl.DataType], str] = {
    pl.Int32: ">i4",
    pl.Int64: ">i8",
    pl.Float64: ">f8",
    pl.Boolean: ">u1",
    pl.Date: ">i4",
    pl.Datetime: ">i8",
}


def pg_type(dtype: pl.DataType) -> sql.SQL:
    """The PostgreSQL column type for a contract dtype."""
    names: dict[type[pl.DataType], str] = {
        pl.String: "text",
        pl.Int32: "integer",
        pl.Int64: "bigint",
        pl.Float64: "double precision",
        pl.Boolean: "boolean",
        pl.Date: "date",
        pl.Datetime: "timestamp with time zone",
    }
    return sql.SQL(names[dtype.base_type()])


def binary_copy_chunks(frame: pl.DataFrame, chunk_rows: int = _CHUNK_ROWS) -> Iterator[memoryview]:
    """The frame as PostgreSQL binary COPY data, header and trailer included, in buffers."""
    yield memoryview(BINARY_HEADER)
    for chunk in frame.iter_slices(chunk_rows):
        yield _encode_rows(chunk)
    yield memoryview(BINARY_TRAILER)


def _encode_rows(chunk: pl.DataFrame) -> memoryview:
    rows = chunk.height
    parts = [_fixed_binary(np.full(rows, chunk.width, dtype=">i2"), rows)]
    for column in chunk.iter_columns():
        parts.extend(_encode_field(column))
    # One pass over all fields: Arrow concatenates each row's pieces into a single buffer.
    joined = pc.binary_join_element_wise(*parts, _EMPTY)
    _, offsets, data = joined.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[joined.offset : joined.offset + rows + 1]
    return memoryview(data)[bounds[0] : bounds[-1]]


def _encode_field(column: pl.Series) -> list[pa.Array]:
    """One column as binary fields: a big-endian int32 length (-1 for null), then the value in
    network byte order. Text comes as two pieces (lengths, bytes) to avoid an extra copy."""
    rows = column.len()
    if column.dtype == pl.String():
        lengths = column.str.len_bytes().cast(pl.Int32).fill_null(-1).to_numpy().astype(">i4")
        text = column.fill_null("").to_arrow().cast(pa.large_binary())
        return [_fixed_binary(lengths, rows), text]
    width_type = _FIXED_WIDTH[column.dtype.base_type()]
    numbers = _as_numbers(column).to_numpy().astype(width_type)
    record = np.empty(rows, dtype=[("length", ">i4"), ("value", width_type)])
    record["length"] = numbers.dtype.itemsize
    record["value"] = numbers
    encoded = _fixed_binary(record, rows)
    if column.has_nulls():
        encoded = pc.if_else(column.is_null().to_arrow(), _NULL_FIELD, encoded)
    return [encoded]


def _as_numbers(column: pl.Series) -> pl.Series:
    """The column's values as plain numbers in PostgreSQL's units, nulls as 0 (masked later)."""
    if column.dtype == pl.Date():
        return column.cast(pl.Int32).fill_null(0) - _PG_EPOCH_DAYS
    if isinstance(column.dtype, pl.Datetime):
        micros = column.dt.cast_time_unit("us").dt.epoch("us")
        return micros.fill_null(0) - _PG_EPOCH_MICROSECONDS
    if column.dtype == pl.Boolean():
        return column.fill_null(False).cast(pl.UInt8)
    return column.fill_null(0)


def _fixed_binary(values: np.ndarray, rows: int) -> pa.Array:
    """Each row's bytes of a contiguous numpy array as one Arrow binary value, without copying."""
    width = values.nbytes // rows if rows else 1
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), rows, [None, pa.py_buffer(np.ascontiguousarray(values))]
    )
    return fixed.cast(pa.large_binary())


def arrow_from_csv(data: bytes, columns: Mapping[str, pl.DataType], schema: pa.Schema) -> pa.Table:
    """Parse `COPY ... TO STDOUT (FORMAT CSV)` output of a session in `READ_SESSION_SETTINGS`."""
    names = list(columns)
    if not data:
        return schema.empty_table()
    wire_types = {name: _wire_type(dtype) for name, dtype in columns.items()}
    table = pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=True),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=wire_types,
            true_values=["t"],
            false_values=["f"],
            # In PostgreSQL's CSV an unquoted empty field is NULL, a quoted one an empty string.
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    return pa.Table.from_arrays(
        [table.column(name).cast(schema.field(name).type) for name in names], schema=schema
    )


def _wire_type(dtype: pl.DataType) -> pa.DataType:
    if isinstance(dtype, pl.Datetime):
        return pa.timestamp(dtype.time_unit, "UTC")
    return {
        pl.Date: pa.date32(),
        pl.String: pa.string(),
        pl.Int32: pa.int32(),
        pl.Int64: pa.int64(),
        pl.Float64: pa.float64(),
        pl.Boolean: pa.bool_(),
    }[dtype.base_type()]
