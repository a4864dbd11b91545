"""Defective files built from the real shared files, one defect each, with the behaviour the
README's data quality table promises; and how a file is observed through the files path
(screening, then the landing's checks). Shared by the tests and bench/quality.py."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl

from music_platform.defs.sources import quality
from music_platform.defs.sources.files import LASTFM_1K_KEY, SONGS_PROFILE, TIDYTUESDAY_KEY
from music_platform.defs.sources.kaggle import PROFILE, TRACKS_KEY
from music_platform.lib.quality.files import ColumnsMismatchError, ScreenedFile
from music_platform.lib.sources.files import (
    SHARED_FILES,
    screen_lastfm_1k_scrobbles,
    screen_tidytuesday_songs,
)
from music_platform.lib.sources.kaggle import screen_tracks_csv
from music_platform.settings import get_settings

Rows = list[list[str]]


@dataclass(frozen=True)
class Source:
    name: str
    shared: Path
    read: Callable[[Path], tuple[pl.DataFrame, ScreenedFile]]
    key: dg.AssetKey
    profile: quality.CatalogueProfile | None


KAGGLE = Source("kaggle", SHARED_FILES["kaggle_tracks"], screen_tracks_csv, TRACKS_KEY, PROFILE)
TIDYTUESDAY = Source(
    "tidytuesday",
    SHARED_FILES["tidytuesday_songs"],
    screen_tidytuesday_songs,
    TIDYTUESDAY_KEY,
    SONGS_PROFILE,
)
SCROBBLES = Source(
    "lastfm_1k",
    SHARED_FILES["lastfm_1k_scrobbles"],
    screen_lastfm_1k_scrobbles,
    LASTFM_1K_KEY,
    None,
)


@dataclass(frozen=True)
class Defect:
    kind: str
    source: Source
    expected: str  # reject | dedupe | block | flag | accept + drift | accept
    build: Callable[[bytes], bytes]
    """The real file's bytes (decompressed) -> the defective file's bytes."""


# --- Building ------------------------------------------------------------------------------------


def _parse(data: bytes, separator: str) -> Rows:
    text = data.decode("utf-8")
    if separator == "\t":
        return [line.split("\t") for line in text.splitlines()]
    return list(csv.reader(io.StringIO(text)))


def _render(rows: Rows, separator: str) -> bytes:
    if separator == "\t":
        return ("\n".join("\t".join(row) for row in rows) + "\n").encode()
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def _csv(edit: Callable[[Rows], Rows]) -> Callable[[bytes], bytes]:
    return lambda data: _render(edit(_parse(data, ",")), ",")


def _tsv(edit: Callable[[Rows], Rows]) -> Callable[[bytes], bytes]:
    return lambda data: _render(edit(_parse(data, "\t")), "\t")


def _set(row: int, column: str, value: str) -> Callable[[Rows], Rows]:
    """Row `row` (1 = first data row) of a headed CSV gets `value` in `column`."""

    def edit(rows: Rows) -> Rows:
        rows[row][rows[0].index(column)] = value
        return rows

    return edit


def _set_field(row: int, field: int, value: str) -> Callable[[Rows], Rows]:
    def edit(rows: Rows) -> Rows:
        rows[row][field] = value
        return rows

    return edit


def _bytes_in_row(row: int, old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def build(data: bytes) -> bytes:
        lines = data.split(b"\n")
        assert old in lines[row], f"{old!r} not in line {row}"
        lines[row] = lines[row].replace(old, new, 1)
        return b"\n".join(lines)

    return build


def _first_value(data: bytes, row: int, column: str) -> bytes:
    rows = _parse(data, ",")
    return rows[row][rows[0].index(column)].encode()


def _unquoted_delimiter(data: bytes) -> bytes:
    lines = data.split(b"\n")
    name = _first_value(data, 20, "album_name")
    lines[20] = lines[20].replace(name, name + b", Deluxe", 1)
    return b"\n".join(lines)


def _truncated(data: bytes) -> bytes:
    return data.rstrip(b"\n")[:-40]


def _invalid_utf8(data: bytes) -> bytes:
    return _bytes_in_row(19, _first_value(data, 19, "track_name"), b"Caf\xe9 Song")(data)


def _columns(edit: Callable[[list[str]], list[str]], keep: Callable[[Rows], Rows] | None = None):
    def build(rows: Rows) -> Rows:
        rows[0] = edit(list(rows[0]))
        return keep(rows) if keep else rows

    return _csv(build)


def _drop_column(name: str) -> Callable[[Rows], Rows]:
    def edit(rows: Rows) -> Rows:
        index = rows[0].index(name)
        return [row[:index] + row[index + 1 :] for row in rows]

    return edit


def _added_column(rows: Rows) -> Rows:
    return [[*row, "label" if n == 0 else "Some Label"] for n, row in enumerate(rows)]


def _reordered(rows: Rows) -> Rows:
    return [list(reversed(row)) for row in rows]


def _copy_row(row: int, **changes: str) -> Callable[[Rows], Rows]:
    def edit(rows: Rows) -> Rows:
        copy = list(rows[row])
        for column, value in changes.items():
            copy[rows[0].index(column)] = value
        return [*rows, copy]

    return edit


def _each_row(column: str, value: Callable[[int, str], str]) -> Callable[[Rows], Rows]:
    def edit(rows: Rows) -> Rows:
        index = rows[0].index(column)
        for n, row in enumerate(rows[1:], start=1):
            row[index] = value(n, row[index])
        return rows

    return edit


def _legitimately_odd(rows: Rows) -> Rows:
    """Real-world oddities that must pass without a reject, a flag or a drift report."""
    header = rows[0]

    def put(row: int, **values: str) -> None:
        for column, value in values.items():
            rows[row][header.index(column)] = value

    put(30, artists="Björk", track_name="Jóga", explicit="True")
    put(31, artists="Sigur Rós", track_name="Hoppípolla", explicit="FALSE")
    put(32, artists="坂本龍一", track_name="戦場のメリークリスマス", instrumentalness="1.5e-3")
    put(33, artists="!!!", track_name="Me and Giuliani Down by the School Yard")
    put(34, artists="Charlie Puth;Jung Kook;BTS", acousticness="2.43E-5")
    put(35, duration_ms="500")  # a 0.5 s interlude
    put(36, duration_ms="5400000")  # a 90-minute live set
    return _copy_row(37, track_genre="j-pop")(rows)  # one track id under a second genre


def _blank_header(rows: Rows) -> Rows:
    return rows[:1]


def _first_rows(count: int) -> Callable[[Rows], Rows]:
    return lambda rows: rows[: count + 1]


def _repeated(times: int) -> Callable[[Rows], Rows]:
    """Every data row `times` times, each copy under its own track id (no exact copies)."""

    def edit(rows: Rows) -> Rows:
        key = rows[0].index("track_id")
        copies = [
            [*row[:key], f"{row[key]}-{n}", *row[key + 1 :]]
            for n in range(times)
            for row in rows[1:]
        ]
        return [rows[0], *copies]

    return edit


def _scale(column: str, factor: float) -> Callable[[int, str], str]:
    return lambda _, value: str(int(float(value) * factor))


DEFECTS: tuple[Defect, ...] = (
    Defect("bad type", KAGGLE, "reject", _csv(_set(10, "popularity", "high"))),
    Defect("popularity outside 0-100", KAGGLE, "reject", _csv(_set(11, "popularity", "150"))),
    Defect("audio feature out of range", KAGGLE, "reject", _csv(_set(12, "danceability", "1.7"))),
    Defect("zero duration", KAGGLE, "reject", _csv(_set(13, "duration_ms", "0"))),
    Defect("negative duration", KAGGLE, "reject", _csv(_set(14, "duration_ms", "-5000"))),
    Defect("absurd duration", KAGGLE, "reject", _csv(_set(15, "duration_ms", "90000000"))),
    Defect("null key", KAGGLE, "reject", _csv(_set(16, "track_id", ""))),
    Defect("mojibake", KAGGLE, "reject", _csv(_set(17, "artists", "BjÃ¶rk"))),
    Defect("control character", KAGGLE, "reject", _csv(_set(18, "track_name", "Song\x07"))),
    Defect("invalid UTF-8", KAGGLE, "reject", _invalid_utf8),
    Defect("unquoted delimiter", KAGGLE, "reject", _unquoted_delimiter),
    Defect("partial last row (truncated file)", KAGGLE, "reject", _truncated),
    Defect("exact copy of a row", KAGGLE, "dedupe", _csv(_copy_row(21))),
    Defect("missing required column", KAGGLE, "block", _csv(_drop_column("tempo"))),
    Defect(
        "columns under unknown names",
        KAGGLE,
        "block",
        _columns(lambda h: [{"track_id": "id", "tempo": "bpm"}.get(c, c) for c in h]),
    ),
    Defect("empty feed", KAGGLE, "block", _csv(_blank_header)),
    Defect(
        "reject rate above the threshold",
        KAGGLE,
        "block",
        _csv(_each_row("popularity", lambda n, value: "high" if n % 10 == 0 else value)),
    ),
    Defect("volume drop", KAGGLE, "block", _csv(_first_rows(100))),
    Defect("volume spike", KAGGLE, "block", _csv(_repeated(6))),
    Defect(
        "conflicting facts for a track id",
        KAGGLE,
        "flag",
        _csv(_copy_row(22, track_name="Another Title", track_genre="j-pop")),
    ),
    Defect(
        "category explosion",
        KAGGLE,
        "flag",
        _csv(_each_row("track_genre", lambda n, _: f"genre-{n}")),
    ),
    Defect(
        "distribution shift",
        KAGGLE,
        "flag",
        _csv(_each_row("duration_ms", _scale("duration_ms", 2))),
    ),
    Defect("added column", KAGGLE, "accept + drift", _csv(_added_column)),
    Defect("reordered columns", KAGGLE, "accept + drift", _csv(_reordered)),
    Defect("legitimately odd data", KAGGLE, "accept", _csv(_legitimately_odd)),
    Defect(
        "popularity outside 0-100",
        TIDYTUESDAY,
        "reject",
        _csv(_set(5, "track_popularity", "101")),
    ),
    Defect(
        "invalid UTF-8 (gzipped)",
        TIDYTUESDAY,
        "reject",
        _bytes_in_row(6, b"pop", b"p\xffop"),
    ),
    Defect(
        "timestamp without a zone",
        SCROBBLES,
        "reject",
        _tsv(_set_field(3, 1, "2009-05-04 13:00:00")),
    ),
    Defect(
        "timestamp in the future",
        SCROBBLES,
        "reject",
        _tsv(_set_field(4, 1, "2999-01-01T00:00:00Z")),
    ),
    Defect(
        "timestamp that is no real instant",
        SCROBBLES,
        "reject",
        _tsv(_set_field(5, 1, "2009-02-30T10:00:00Z")),
    ),
    Defect("exact copy of a scrobble", SCROBBLES, "dedupe", _tsv(lambda rows: [*rows, rows[7]])),
    Defect(
        "a listen at exactly midnight",
        SCROBBLES,
        "accept",
        _tsv(_set_field(8, 1, "2009-05-04T00:00:00Z")),
    ),
    Defect("missing field", SCROBBLES, "block", _tsv(lambda rows: [r[:5] for r in rows])),
)


def write_defective(defect: Defect, shared_data: Path, folder: Path) -> Path:
    """The defective file, beside its kind's name, compressed like the real one."""
    real = shared_data / defect.source.shared
    data = real.read_bytes()
    gzipped = real.suffix == ".gz"
    broken = defect.build(gzip.decompress(data) if gzipped else data)
    slug = "".join(c if c.isalnum() else "-" for c in f"{defect.source.name}-{defect.kind}")
    path = folder / (slug + "".join(real.suffixes))
    path.write_bytes(gzip.compress(broken, compresslevel=1) if gzipped else broken)
    return path


# --- Observing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    behaviour: str
    rejected: int
    deduplicated: int
    drift: list[dict[str, str]]
    messages: list[str]
    """Failed checks' descriptions, then reject reasons."""
    screened: ScreenedFile | None


def observe(source: Source, path: Path, previous: pl.DataFrame | None) -> Observed:
    """Screen `path` and evaluate the landing's checks against `previous` (the last landing)."""
    try:
        landed, screened = source.read(path)
    except ColumnsMismatchError as error:
        return Observed("block", 0, 0, [], [str(error)], None)
    screening = quality.evaluate(
        source.key,
        screened,
        landed,
        previous=previous,
        what=f"the {source.name} file",
        reject_limit=get_settings().reject_limit(source.name),
        rejects_table=f"file:{source.name}",
        profile=source.profile,
        screened_rows=screened.rows,
    )
    failed = [check for check in screening.checks if not check.passed]
    messages = [c.description or "" for c in failed] + screened.rejects["reason"].to_list()
    if screening.blocked:
        behaviour = "block"
    elif screened.rejected:
        behaviour = "reject"
    elif screened.deduplicated:
        behaviour = "dedupe"
    elif failed:
        behaviour = "flag"
    elif screened.drift:
        behaviour = "accept + drift"
    else:
        behaviour = "accept"
    return Observed(
        behaviour, screened.rejected, screened.deduplicated, screened.drift, messages, screened
    )
