"""Screening a delimited file row by row, before anything lands: one vectorised pass in polars.

A file is read as text (lossy UTF-8, so one bad byte costs one row, not the file), every value
cast to its format's type, and each row either passes typed or is rejected with every reason,
each naming the column and the value (or the line, for a row that cannot be split):

- structure: more fields than the header (an unquoted delimiter inside a value), the partial
  last row of a truncated file;
- encoding: invalid UTF-8, mojibake, control characters (`quality.text`);
- types: a value that does not cast (a timestamp that is no real instant among them);
- required values, documented ranges, timestamps without a time zone or in the future.

Exact copies of a row are dropped and counted. Columns are matched by name: missing required
columns raise `ColumnsMismatchError` naming the missing and the unknown ones (a mapping is never
guessed); an added column or a new order is accepted and reported as drift.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from music_platform.lib.quality.casting import cast_series, type_label, value_text
from music_platform.lib.quality.ranges import bound_text
from music_platform.lib.quality.text import SUSPECT_CHARACTERS, TextDefect, text_defects
from music_platform.lib.schemas import ColumnType, polars_schema
from music_platform.lib.source_errors import WrongColumnsError

if TYPE_CHECKING:
    import polars as pl

_EXTRA = "__extra_fields"
_LINE = "__line"
_STRUCTURAL_RULES = ("unquoted delimiter", "partial last row")
FUTURE_SKEW = dt.timedelta(minutes=5)
"""Clock skew tolerated before a timestamp counts as in the future."""


class ColumnsMismatchError(WrongColumnsError):
    """Required columns are missing: the message names them and the unknown columns the file
    has instead, and says what to do (a mapping is never guessed)."""

    def __init__(
        self,
        path: Path,
        missing: list[str],
        unknown: list[str],
        expected: list[str],
        found: list[str],
    ):
        self.unknown = unknown
        super().__init__(path, missing, expected, found)
        unknown_text = f"; unknown {', '.join(unknown)}" if unknown else ""
        self.args = (
            f"{self.args[0]}{unknown_text}. Give the file the expected columns (no mapping is "
            "guessed) and load it again; the previous landing stays until then",
        )


@dataclass(frozen=True)
class FileFormat:
    """What a delimited file must look like."""

    name: str
    column_types: dict[str, ColumnType]
    """Every documented column (all required), in documented order, with the type its text
    must cast to."""
    key: tuple[str, ...]
    required: tuple[str, ...] = ()
    """Columns whose every row must hold a value (the key's columns always must)."""
    separator: str = ","
    has_header: bool = True
    quote_char: str | None = '"'
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    """Inclusive documented ranges; a value outside is rejected."""
    zoned_timestamps: tuple[str, ...] = ()
    """Text timestamp columns that must carry a zone (Z or an offset) and lie in the past."""
    ignored_columns: tuple[str, ...] = ("",)
    """Header names accepted without a drift report (the unnamed index of pandas exports)."""

    @cached_property
    def columns(self) -> dict[str, pl.DataType]:
        """`column_types` in polars types, built the first time a file is screened."""
        return polars_schema(self.column_types)


@dataclass(frozen=True)
class ScreenedFile:
    rows: pl.DataFrame
    """The rows that passed, typed, in the format's column order (added columns dropped)."""
    rejects: pl.DataFrame
    """line, record_key, reason, record (the row's fields as JSON)."""
    reject_reasons: dict[str, int]
    deduplicated: int
    drift: list[dict[str, str]]
    """{"column", "change"} with change "added" or "reordered"."""

    @property
    def rejected(self) -> int:
        return self.rejects.height


class _Rule(NamedTuple):
    label: str
    fails: pl.Expr
    message: pl.Expr


_EDGE = 1 << 16  # bytes read from each end of a plain file for its header and last row


def _contents(path: Path) -> tuple[Path | bytes, bytes, bytes]:
    """What polars reads (the path itself for a plain file, which it maps; the decompressed
    bytes for .gz), and the file's first and last bytes."""
    if path.suffix == ".gz":
        data = gzip.decompress(path.read_bytes())
        return data, data[:_EDGE], data[-_EDGE:]
    with path.open("rb") as handle:
        head = handle.read(_EDGE)
        size = handle.seek(0, 2)
        handle.seek(max(size - _EDGE, 0))
        return path, head, handle.read()


def _split(line: bytes, file_format: FileFormat) -> list[str]:
    text = line.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    if file_format.quote_char is None:
        return text.split(file_format.separator)
    return next(
        csv.reader([text], delimiter=file_format.separator, quotechar=file_format.quote_char), []
    )


def _header(path: Path, head: bytes, file_format: FileFormat) -> tuple[list[str], list[dict]]:
    """The file's column names (matched by name) and the drift they show."""
    expected = list(file_format.columns)
    if not file_format.has_header:
        return expected, []
    end = head.find(b"\n")
    header = _split(head if end < 0 else head[:end], file_format)
    known = [name for name in header if name not in file_format.ignored_columns]
    missing = [name for name in expected if name not in known]
    unknown = [name for name in known if name not in file_format.columns]
    if missing:  # every documented column is required: without one it is another format
        raise ColumnsMismatchError(path, missing, unknown, expected, [h for h in header if h])
    drift = [{"column": name, "change": "added"} for name in unknown]
    present = [name for name in known if name in file_format.columns]
    if present != [name for name in expected if name in present]:
        drift.append({"column": ", ".join(present), "change": "reordered"})
    return header, drift


def _names(header: list[str]) -> list[str]:
    """Unique frame column names for the header (blank names become placeholders)."""
    return [name or f"__unnamed_{i}" for i, name in enumerate(header)]


def _truncated_last_row(tail: bytes, fields: int, file_format: FileFormat) -> bool:
    """A file that ends without a newline inside a row with too few fields was cut short."""
    if not tail or tail.endswith(b"\n"):
        return False
    return len(_split(tail.rsplit(b"\n", 1)[-1], file_format)) < fields


def _read(
    data: Path | bytes, file_format: FileFormat, schema: dict[str, pl.DataType], *, lossy: bool
) -> pl.DataFrame:
    import polars as pl

    return pl.read_csv(
        data,
        has_header=False,
        skip_rows=1 if file_format.has_header else 0,
        separator=file_format.separator,
        quote_char=file_format.quote_char,
        schema={**schema, _EXTRA: pl.String()},
        missing_columns="insert",
        truncate_ragged_lines=True,  # the extra column catches what would be cut off
        encoding="utf8-lossy" if lossy else "utf8",
        row_index_name=_LINE,
        row_index_offset=2 if file_format.has_header else 1,
        raise_if_empty=False,
    )


def screen_file(
    path: Path, file_format: FileFormat, *, now: dt.datetime | None = None
) -> ScreenedFile:
    """Read and screen `path` (plain or .gz) against `file_format`.

    The clean file is the common case: numbers and booleans (true/false in any case) are parsed
    by the reader itself, as a bare load would, and only a file where that fails (a bad number,
    a yes/no boolean, invalid UTF-8) is read again as text so that each bad value costs its row
    alone.
    """
    import polars as pl

    path = Path(path)
    data, head, tail = _contents(path)
    header, drift = _header(path, head, file_format)
    names = _names(header)
    parsed = {
        name: dtype
        for name, dtype in file_format.columns.items()
        if (dtype.is_numeric() or dtype == pl.Boolean()) and name in header
    }
    text = dict.fromkeys(names, pl.String())
    try:
        raw = _read(data, file_format, {**text, **parsed}, lossy=False)
    except pl.exceptions.PolarsError:
        raw = _read(data, file_format, text, lossy=True)
    truncated = _truncated_last_row(tail, len(header), file_format)
    return screen_frame(
        raw.rename(dict(zip(names, header, strict=True)), strict=False),
        file_format,
        truncated_last=truncated,
        drift=drift,
        now=now,
    )


def screen_frame(
    raw: pl.DataFrame,
    file_format: FileFormat,
    *,
    truncated_last: bool = False,
    drift: list[dict[str, str]] | None = None,
    now: dt.datetime | None = None,
) -> ScreenedFile:
    """Screen rows already split into columns, as text or already typed (`__line` and
    `__extra_fields` optional)."""
    import polars as pl

    if _LINE not in raw.columns:
        raw = raw.with_row_index(_LINE, offset=1)
    if _EXTRA not in raw.columns:
        raw = raw.with_columns(pl.lit(None, pl.String).alias(_EXTRA))
    present = [name for name in file_format.columns if name in raw.columns]
    typed = [
        cast_series(raw[name], dtype).alias(_typed(name))
        for name, dtype in file_format.columns.items()
        if name in present and raw.schema[name] != dtype
    ]
    work = raw.hstack(typed)
    rules = _rules(
        work, raw.schema, file_format, present, truncated_last, now or dt.datetime.now(dt.UTC)
    )

    # Counting first writes no column; masks are then built for the rules that failed somewhere
    # alone, so a clean file costs one pass over its rules.
    counts = work.select(r.fails.fill_null(False).sum().alias(r.label) for r in rules)
    reasons = {label: n for label, n in counts.row(0, named=True).items() if n} if rules else {}
    failing = [r for r in rules if r.label in reasons]
    masks = [f"__fails_{i}" for i in range(len(failing))]
    if failing:
        work = work.with_columns(
            r.fails.fill_null(False).alias(m) for r, m in zip(failing, masks, strict=True)
        )
    rejected = pl.any_horizontal(masks) if masks else pl.lit(False)

    valid = work.filter(~rejected) if reasons else work
    record_columns = [name for name in raw.columns if name not in (_LINE, _EXTRA)]
    before = valid.height
    # A copy is exact whatever its row number says (Kaggle's export numbers every row in its
    # unnamed index column, copies too).
    compared = [name for name in record_columns if name not in file_format.ignored_columns]
    # Distinct row hashes prove there is no exact copy, the usual case, far cheaper than unique.
    hashes = valid.select(compared).hash_rows()
    if hashes.n_unique() != before:
        valid = valid.unique(compared, keep="first", maintain_order=True)
    deduplicated = before - valid.height
    rows = valid.select(
        [
            (pl.col(_typed(name)) if _typed(name) in work.columns else pl.col(name)).alias(name)
            if name in present
            else pl.lit(None, dtype).alias(name)
            for name, dtype in file_format.columns.items()
        ]
    )
    key_columns = [k for k in file_format.key if k in raw.columns]
    rejects = work.filter(rejected).select(
        pl.col(_LINE).cast(pl.Int64).alias("line"),
        pl.concat_str(
            [value_text(pl.col(k), raw.schema[k]).fill_null("") for k in key_columns],
            separator="|",
        ).alias("record_key")
        if key_columns
        else pl.lit("").alias("record_key"),
        _reason(failing, masks).alias("reason"),
        pl.struct([*record_columns, _LINE]).struct.json_encode().alias("record"),
    )
    return ScreenedFile(
        rows=rows,
        rejects=rejects,
        reject_reasons=reasons,
        deduplicated=deduplicated,
        drift=list(drift or []),
    )


def _reason(rules: list[_Rule], masks: list[str]) -> pl.Expr:
    """Every failed rule's message; a row that cannot be split says only that, since its
    values sit under the wrong columns and each would fail for no reason of its own."""
    import polars as pl

    if not rules:  # no rule failed: no reject row to explain
        return pl.lit(None, pl.String)
    every = pl.concat_str(
        [pl.when(m).then(r.message) for r, m in zip(rules, masks, strict=True)],
        separator="; ",
        ignore_nulls=True,
    )
    structural = [(r, m) for r, m in zip(rules, masks, strict=True) if r.label in _STRUCTURAL_RULES]
    for rule, mask in structural:
        every = pl.when(mask).then(rule.message).otherwise(every)
    return every


def _typed(name: str) -> str:
    return f"__typed__{name}"


def _preview(column: str, schema: Mapping[str, pl.DataType]) -> pl.Expr:
    import polars as pl

    return value_text(pl.col(column), schema[column])


def _encoding_defects(column: pl.Series) -> list[TextDefect]:
    """The encoding rules that fail somewhere in a text column, judged on the rows that hold a
    character one of them starts from (one multi-pattern pass), so that clean non-ASCII text
    never pays for the regexes; none at all when every byte is printable ASCII (a byte scan)."""
    import numpy as np

    data = column.to_arrow().buffers()[2]
    if data is None or data.size == 0:
        return []
    values = np.frombuffer(data, dtype=np.uint8)
    if values.min() >= 0x20 and values.max() < 0x7F:
        return []
    suspects = column.filter(column.str.contains_any(SUSPECT_CHARACTERS)).to_frame()
    if suspects.is_empty():
        return []
    defects = text_defects(column.name)
    fired = suspects.select(d.fails.any().alias(str(i)) for i, d in enumerate(defects)).row(0)
    return [defect for defect, hit in zip(defects, fired, strict=True) if hit]


def _rules(
    work: pl.DataFrame,
    raw_schema: Mapping[str, pl.DataType],
    file_format: FileFormat,
    present: list[str],
    truncated_last: bool,
    now: dt.datetime,
) -> list[_Rule]:
    import polars as pl

    schema = work.schema

    def typed(name: str) -> pl.Expr:
        import polars as pl

        return pl.col(_typed(name)) if _typed(name) in schema else pl.col(name)

    rules = []
    if work[_EXTRA].null_count() < work.height:
        rules.append(
            _Rule(
                "unquoted delimiter",
                pl.col(_EXTRA).is_not_null(),
                pl.concat_str(
                    pl.lit("line "),
                    pl.col(_LINE).cast(pl.String),
                    pl.lit(
                        f": more fields than the {len(file_format.columns)}-column header (an "
                        f"unquoted {file_format.separator!r} in a value?), extra value '"
                    ),
                    _preview(_EXTRA, schema),
                    pl.lit("'"),
                ),
            )
        )
    if truncated_last and work.height:
        last = work[_LINE].max()
        rules.append(
            _Rule(
                "partial last row",
                pl.col(_LINE) == last,
                pl.lit(f"line {last}: partial last row (the file ends mid-row: truncated?)"),
            )
        )
    for name, dtype in file_format.columns.items():
        if name not in present:
            continue
        source = raw_schema[name]
        if source == pl.String():
            for defect in _encoding_defects(work[name]):
                rules.append(_Rule(f"{name}: {defect.label}", defect.fails, defect.message))
        if source == pl.String() and dtype != pl.String():
            kind = "a real instant" if isinstance(dtype, pl.Datetime) else type_label(dtype)
            text = pl.col(name)
            rules.append(
                _Rule(
                    f"{name}: not {type_label(dtype)}",
                    text.is_not_null() & (text.str.strip_chars() != "") & typed(name).is_null(),
                    pl.concat_str(
                        pl.lit(f"{name}: '"), _preview(name, schema), pl.lit(f"' is not {kind}")
                    ),
                )
            )
    for name in dict.fromkeys([*file_format.key, *file_format.required]):
        if name in present:
            missing = pl.col(name).is_null()
            if raw_schema[name] == pl.String():
                missing = missing | (pl.col(name).str.strip_chars() == "")
            rules.append(_Rule(f"{name}: null", missing, pl.lit(f"{name} is null")))
    for name, (low, high) in file_format.ranges.items():
        if name not in present:
            continue
        outside = pl.lit(False)
        if low is not None:
            outside = outside | (typed(name) < low)
        if high is not None:
            outside = outside | (typed(name) > high)
        rules.append(
            _Rule(
                f"{name}: out of range",
                outside,
                pl.concat_str(
                    pl.lit(f"{name} "),
                    _preview(name, schema),
                    pl.lit(f" is outside [{bound_text(low)}, {bound_text(high)}]"),
                ),
            )
        )
    for name in file_format.zoned_timestamps:
        if name not in present:
            continue
        zoned = pl.col(name).str.strip_chars().str.contains(r"(Z|[+-]\d{2}:?\d{2})$")
        rules.append(
            _Rule(
                f"{name}: no time zone",
                typed(name).is_not_null() & ~zoned,
                pl.concat_str(
                    pl.lit(f"{name}: '"),
                    _preview(name, schema),
                    pl.lit("' has no time zone (add Z or an offset)"),
                ),
            )
        )
        rules.append(
            _Rule(
                f"{name}: in the future",
                typed(name) > now + FUTURE_SKEW,
                pl.concat_str(
                    pl.lit(f"{name}: '"),
                    _preview(name, schema),
                    pl.lit(f"' is in the future (now {now:%Y-%m-%dT%H:%M}Z)"),
                ),
            )
        )
    return rules


def merge_screens(screens: Sequence[ScreenedFile]) -> ScreenedFile | None:
    """Several files of one source screened as one (None for none)."""
    import polars as pl

    if not screens:
        return None
    if len(screens) == 1:
        return screens[0]
    reasons: dict[str, int] = {}
    for screened in screens:
        for label, count in screened.reject_reasons.items():
            reasons[label] = reasons.get(label, 0) + count
    return ScreenedFile(
        rows=pl.concat([s.rows for s in screens]),
        rejects=pl.concat([s.rejects for s in screens]),
        reject_reasons=reasons,
        deduplicated=sum(s.deduplicated for s in screens),
        drift=[change for s in screens for change in s.drift],
    )


def quality_table_name(file_format: FileFormat) -> str:
    """The `table_name` a file's rejects carry in the rejects table: `file:<format>`."""
    return f"file:{file_format.name}"
