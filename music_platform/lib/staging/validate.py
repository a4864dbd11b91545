"""Row-level validation of a raw frame against a table contract, vectorised in polars.

Every row either comes out typed in `valid` or lands in `rejects` with every reason it failed,
the original record kept as JSON (extra columns included). Schema drift is reported, not hidden.

Rules: each value must cast to its column's dtype; primary-key, partition and required columns
must not be null; text must not hold NUL; a partitioned row must fall in its partition;
values of `known_keys` columns must be known; text must be free of encoding damage (invalid
UTF-8, mojibake, control characters); track and artist facts must lie in their documented ranges
(`quality.ranges`); text timestamps must carry a zone; among rows passing all that, the first of
each primary key wins. Listens also need 0 <= ms_played <= MAX_MS_PLAYED (and at most
MAX_PLAY_TO_TRACK times their track, when durations are given) and listened_at inside the
partition's UTC day and not in the future; their listen_date, when absent, is listened_at's UTC
date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from music_platform.lib.quality.casting import cast_series, type_label, value_text
from music_platform.lib.quality.ranges import TRACK_RANGES, bound_text
from music_platform.lib.quality.text import text_defects
from music_platform.lib.schemas import ARTISTS, LISTENS, LOAD_METADATA_TYPES, TRACKS, TableContract

if TYPE_CHECKING:
    import polars as pl

MAX_MS_PLAYED = 3 * 60 * 60 * 1000
"""Longest believable single play: 3 hours. Full-length DJ mixes, concert recordings and
audiobook chapters stay under it; a longer one is a stuck player or a clock error."""

# Columns (besides the primary key and the partition column) a row cannot do without.
_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    LISTENS.name: ("user_id", "track_id", "listened_at"),
}

# Columns filled from others when a source leaves them out (see _derived_columns).
_DERIVED_COLUMNS: dict[str, tuple[str, ...]] = {
    LISTENS.name: ("listen_date",),
}

MAX_PLAY_TO_TRACK = 3
"""A play may run up to 3 times its track (replays, seeking back); beyond is a stuck player."""
FUTURE_SKEW = dt.timedelta(minutes=5)
"""Clock skew tolerated before a listen counts as in the future."""

_RANGES = {
    TRACKS.name: TRACK_RANGES,
    ARTISTS.name: {"popularity": (0, 100), "followers": (0, float("inf"))},
}
_TRACK_MS = "__track_duration_ms"
_TYPED_PREFIX = "__typed__"
_REASON_SEPARATOR = "; "


# Reject reasons for repeated primary keys start with this: dropped without alarm, counted apart.
DUPLICATE_REASON_PREFIX = "duplicate "


class SchemaDriftError(ValueError):
    """The frame lacks a primary-key column: no row could be identified, so nothing loads."""


@dataclass(frozen=True)
class SchemaDrift:
    """Columns the frame has beyond the contract (`added`) and contract columns it lacks."""

    added: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.missing)


@dataclass(frozen=True)
class ValidationResult:
    """Typed valid rows, rejected rows with their reasons, and the schema drift seen."""

    valid: pl.DataFrame
    rejects: pl.DataFrame
    drift: SchemaDrift
    reject_reasons: dict[str, int] = field(default_factory=dict)
    """Rows each rule rejected (a row failing two rules counts under both)."""


class _Rule(NamedTuple):
    label: str  # stable name for counting, e.g. "ms_played: negative"
    fails: pl.Expr  # true where the row breaks the rule
    message: pl.Expr  # the reason text, evaluated on failing rows only


def partition_day(contract: TableContract, partition_key: str | None) -> dt.date | None:
    """The date a partition key names, for contracts partitioned by a Date column."""
    if partition_key is None:
        return None
    if contract.partition_column is None:
        raise ValueError(f"{contract.name} is not partitioned; got partition key {partition_key!r}")
    try:
        return dt.date.fromisoformat(partition_key)
    except ValueError:
        raise ValueError(
            f"partition key {partition_key!r} of {contract.name} is not a date (YYYY-MM-DD)"
        ) from None


def schema_drift(contract: TableContract, frame: pl.DataFrame) -> SchemaDrift:
    """Compare the frame's columns with the contract; raise if a primary-key column is missing."""
    expected = set(contract.columns)
    missing = [name for name in contract.columns if name not in frame.columns]
    missing_keys = [name for name in contract.primary_key if name in missing]
    if missing_keys:
        raise SchemaDriftError(
            f"{contract.name}: the frame has no primary-key column {', '.join(missing_keys)} "
            f"(it has: {', '.join(frame.columns) or 'no columns'})"
        )
    # Load metadata columns are the store's to set, so a frame carrying them has not drifted.
    added = [
        name for name in frame.columns if name not in expected and name not in LOAD_METADATA_TYPES
    ]
    return SchemaDrift(added=added, missing=missing)


def validate(
    contract: TableContract,
    frame: pl.DataFrame,
    *,
    partition_key: str | None = None,
    known_keys: Mapping[str, pl.Series] | None = None,
    track_durations: pl.DataFrame | None = None,
    now: dt.datetime | None = None,
) -> ValidationResult:
    """Split `frame` into typed valid rows and rejects, following the contract's rules.

    `known_keys` maps a column to the values it may take (for example the staged track ids);
    a value outside them rejects the row. `track_durations` (track_id, duration_ms) lets a
    listen longer than MAX_PLAY_TO_TRACK times its track be rejected.
    """
    import polars as pl

    drift = schema_drift(contract, frame)
    day = partition_day(contract, partition_key)
    known_keys = dict(known_keys or {})
    unknown_columns = set(known_keys) - set(contract.columns)
    if unknown_columns:
        raise ValueError(f"known_keys names columns not in {contract.name}: {unknown_columns}")

    work = frame.hstack(_typed_columns(contract, frame)).with_columns(_derived_columns(contract))
    byte_ranges = _text_byte_ranges(contract, work)
    rules = [
        *_cast_rules(contract, frame),
        *_required_rules(contract, frame),
        *_partition_rules(contract, day),
        *_known_key_rules(contract, known_keys),
        *_text_rules(byte_ranges),
        *_encoding_rules(byte_ranges),
        *_range_rules(contract),
        *_zone_rules(contract, frame),
    ]
    if contract.name == LISTENS.name:
        rules.extend(_listens_rules(day, now or dt.datetime.now(dt.UTC)))
        if track_durations is not None:
            work = work.join(
                track_durations.select(
                    pl.col("track_id").alias(_typed("track_id")),
                    pl.col("duration_ms").cast(pl.Int64).alias(_TRACK_MS),
                ).unique(_typed("track_id")),
                on=_typed("track_id"),
                how="left",
                maintain_order="left",
            )
            rules.append(_play_length_rule())
    rules.append(_duplicate_rule(contract, work, rules))

    # Masks are cheap booleans over every row; reason texts are built for failing rows only.
    masks = [f"__fails_{i}" for i in range(len(rules))]
    work = work.with_columns(
        rule.fails.fill_null(False).alias(mask) for rule, mask in zip(rules, masks, strict=True)
    )
    counts = work.select(
        pl.col(mask).sum().alias(rule.label) for rule, mask in zip(rules, masks, strict=True)
    )
    reject_reasons = {label: count for label, count in counts.row(0, named=True).items() if count}

    rejected = pl.any_horizontal(masks) if masks else pl.lit(False)
    valid = work.filter(~rejected).select(
        pl.col(_typed(name)).alias(name) for name in contract.columns
    )
    rejects = work.filter(rejected).select(
        pl.lit(contract.name).alias("table_name"),
        pl.lit(partition_key or "").alias("partition_key"),
        pl.concat_str(
            [value_text(pl.col(key), frame.schema[key]) for key in contract.primary_key],
            separator="|",
        ).alias("record_key"),
        pl.concat_str(
            [pl.when(mask).then(rule.message) for rule, mask in zip(rules, masks, strict=True)],
            separator=_REASON_SEPARATOR,
            ignore_nulls=True,
        ).alias("reason"),
        _record_json(frame).alias("record"),
    )
    return ValidationResult(
        valid=valid, rejects=rejects, drift=drift, reject_reasons=reject_reasons
    )


def _typed(name: str) -> str:
    return f"{_TYPED_PREFIX}{name}"


def _typed_columns(contract: TableContract, frame: pl.DataFrame) -> list[pl.Series]:
    import polars as pl

    columns = []
    for name, dtype in contract.columns.items():
        if name in frame.columns:
            typed = cast_series(frame[name], dtype)
        else:
            typed = pl.repeat(None, frame.height, dtype=dtype, eager=True)
        columns.append(typed.alias(_typed(name)))
    return columns


def _derived_columns(contract: TableContract) -> list[pl.Expr]:
    import polars as pl

    if contract.name != LISTENS.name:
        return []
    # A listen's day is the UTC date it was heard; sources that omit it need not say it.
    listen_date = pl.col(_typed("listen_date")).fill_null(pl.col(_typed("listened_at")).dt.date())
    return [listen_date.alias(_typed("listen_date"))]


def _cast_rules(contract: TableContract, frame: pl.DataFrame) -> list[_Rule]:
    import polars as pl

    rules = []
    for name, dtype in contract.columns.items():
        source = frame.schema.get(name)
        if source is None or source == dtype:
            continue
        raw = pl.col(name)
        message = pl.concat_str(
            pl.lit(f"{name}: '"), value_text(raw, source), pl.lit(f"' is not {type_label(dtype)}")
        )
        fails = raw.is_not_null() & pl.col(_typed(name)).is_null()
        rules.append(_Rule(f"{name}: not {type_label(dtype)}", fails, message))
    return rules


def _required_rules(contract: TableContract, frame: pl.DataFrame) -> list[_Rule]:
    import polars as pl

    required = [
        *contract.primary_key,
        *([contract.partition_column] if contract.partition_column else []),
        *_REQUIRED_COLUMNS.get(contract.name, ()),
    ]
    rules = []
    for name in dict.fromkeys(required):
        if name in _DERIVED_COLUMNS.get(contract.name, ()):
            continue  # null only when its source is, and that one is reported
        fails = pl.col(_typed(name)).is_null()
        if name in frame.columns:
            # A value that failed its cast is reported by the cast rule, not as a null.
            fails = fails & pl.col(name).is_null()
        rules.append(_Rule(f"{name}: null", fails, pl.lit(f"{name} is null")))
    return rules


def _partition_rules(contract: TableContract, day: dt.date | None) -> list[_Rule]:
    import polars as pl

    if day is None or contract.partition_column is None:
        return []
    name = contract.partition_column
    value = pl.col(_typed(name))
    message = pl.concat_str(
        pl.lit(f"{name} "), value.cast(pl.String), pl.lit(f" is outside partition {day}")
    )
    return [_Rule(f"{name}: outside partition", value != day, message)]


def _known_key_rules(contract: TableContract, known_keys: dict[str, pl.Series]) -> list[_Rule]:
    import polars as pl

    rules = []
    for name, keys in known_keys.items():
        allowed = keys.cast(contract.columns[name], strict=False).drop_nulls().unique().implode()
        value = pl.col(_typed(name))
        message = pl.concat_str(pl.lit(f"unknown {name} '"), value.cast(pl.String), pl.lit("'"))
        rules.append(_Rule(f"{name}: unknown", ~value.is_in(allowed), message))
    return rules


def _text_byte_ranges(contract: TableContract, work: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """The lowest and highest byte in each typed text column holding any: one pass over its
    bytes, shared by the NUL and encoding rules, lets a column that cannot fail them skip
    their per-row searches."""
    import numpy as np
    import polars as pl

    ranges = {}
    for name, dtype in contract.columns.items():
        if dtype != pl.String():
            continue
        data = work[_typed(name)].to_arrow().buffers()[2]
        if data is not None and data.size > 0:
            values = np.frombuffer(data, dtype=np.uint8)
            ranges[name] = (int(values.min()), int(values.max()))
    return ranges


def _text_rules(byte_ranges: Mapping[str, tuple[int, int]]) -> list[_Rule]:
    """PostgreSQL text cannot hold NUL; refusing it in both stores keeps them alike."""
    import polars as pl

    rules = []
    for name, (lowest, _) in byte_ranges.items():
        if lowest == 0:
            fails = pl.col(_typed(name)).str.contains("\x00", literal=True)
            rules.append(_Rule(f"{name}: NUL", fails, pl.lit(f"{name} contains a NUL character")))
    return rules


def _encoding_rules(byte_ranges: Mapping[str, tuple[int, int]]) -> list[_Rule]:
    """Invalid UTF-8, mojibake and control characters, for columns with any byte outside
    printable ASCII (ids and most names are: they skip the regexes)."""

    rules = []
    for name, (lowest, highest) in byte_ranges.items():
        if lowest >= 0x20 and highest < 0x7F:
            continue
        for defect in text_defects(_typed(name), source_column=name, nul=False):
            rules.append(_Rule(f"{name}: {defect.label}", defect.fails, defect.message))
    return rules


def _range_rules(contract: TableContract) -> list[_Rule]:
    import polars as pl

    rules = []
    for name, (low, high) in _RANGES.get(contract.name, {}).items():
        value = pl.col(_typed(name))
        message = pl.concat_str(
            pl.lit(f"{name} "),
            value.cast(pl.String),
            pl.lit(f" is outside [{bound_text(low)}, {bound_text(high)}]"),
        )
        rules.append(_Rule(f"{name}: out of range", (value < low) | (value > high), message))
    return rules


def _zone_rules(contract: TableContract, frame: pl.DataFrame) -> list[_Rule]:
    """Text timestamps must say their zone: a bare local time is no known instant."""
    import polars as pl

    rules = []
    for name, dtype in contract.columns.items():
        if not isinstance(dtype, pl.Datetime) or frame.schema.get(name) != pl.String():
            continue
        zoned = pl.col(name).str.strip_chars().str.contains(r"(Z|[+-]\d{2}:?\d{2})$")
        message = pl.concat_str(
            pl.lit(f"{name}: '"),
            value_text(pl.col(name), pl.String()),
            pl.lit("' has no time zone (add Z or an offset)"),
        )
        fails = pl.col(_typed(name)).is_not_null() & ~zoned
        rules.append(_Rule(f"{name}: no time zone", fails, message))
    return rules


def _play_length_rule() -> _Rule:
    import polars as pl

    ms_played = pl.col(_typed("ms_played"))
    limit = pl.col(_TRACK_MS) * MAX_PLAY_TO_TRACK
    message = pl.concat_str(
        pl.lit("ms_played "),
        ms_played.cast(pl.String),
        pl.lit(f" is over {MAX_PLAY_TO_TRACK} times the track's duration_ms "),
        pl.col(_TRACK_MS).cast(pl.String),
    )
    return _Rule("ms_played: longer than its track", ms_played > limit, message)


def _listens_rules(day: dt.date | None, now: dt.datetime) -> list[_Rule]:
    import polars as pl

    ms_played = pl.col(_typed("ms_played"))
    ms_text = ms_played.cast(pl.String)
    listened_at = pl.col(_typed("listened_at"))
    rules = [
        _Rule(
            "listened_at: in the future",
            listened_at > now + FUTURE_SKEW,
            pl.concat_str(
                pl.lit("listened_at "),
                listened_at.dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ"),
                pl.lit(f" is in the future (now {now:%Y-%m-%dT%H:%M}Z)"),
            ),
        ),
        _Rule(
            "ms_played: negative",
            ms_played < 0,
            pl.concat_str(pl.lit("ms_played "), ms_text, pl.lit(" is negative")),
        ),
        _Rule(
            "ms_played: too long",
            ms_played > MAX_MS_PLAYED,
            pl.concat_str(
                pl.lit("ms_played "),
                ms_text,
                pl.lit(f" exceeds {MAX_MS_PLAYED} ({MAX_MS_PLAYED // 3_600_000} hours)"),
            ),
        ),
    ]
    if day is not None:
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        end = start + dt.timedelta(days=1)
        listened_at = pl.col(_typed("listened_at"))
        message = pl.concat_str(
            pl.lit("listened_at "),
            listened_at.dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ"),
            pl.lit(f" is outside partition {day}"),
        )
        outside = (listened_at < start) | (listened_at >= end)
        rules.append(_Rule("listened_at: outside partition", outside, message))
    return rules


def _duplicate_rule(contract: TableContract, work: pl.DataFrame, rules: list[_Rule]) -> _Rule:
    """Among rows that pass every other rule, the first of each primary key wins."""
    import polars as pl

    label = f"{DUPLICATE_REASON_PREFIX}{', '.join(contract.primary_key)}"
    keys = [pl.col(_typed(name)) for name in contract.primary_key]
    key = keys[0] if len(keys) == 1 else pl.struct(keys)
    # Exact duplicate marking costs a hash table of the keys themselves; distinct 64-bit hashes
    # prove there is nothing to mark, which is the usual case, at a fraction of the cost.
    hashes = work.select(key.hash().filter(pl.all_horizontal(k.is_not_null() for k in keys)))
    if hashes.to_series().n_unique() == hashes.height:
        return _Rule(label, pl.lit(False), pl.lit(label))
    passes = ~pl.any_horizontal(rule.fails.fill_null(False) for rule in rules)
    repeated = passes & ~pl.when(passes).then(key).is_first_distinct()
    return _Rule(label, repeated, pl.lit(label))


def _record_json(frame: pl.DataFrame) -> pl.Expr:
    import polars as pl

    if not frame.columns:
        return pl.lit("{}")
    return pl.struct(frame.columns).struct.json_encode()
