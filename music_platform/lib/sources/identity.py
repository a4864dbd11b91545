"""Cross-source identity: name normalisation, derived ids and track matching across sources."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

from music_platform.lib.schemas import ColumnType, polars_schema

if TYPE_CHECKING:
    import polars as pl

# "(feat. X)", "[ft. X]", "(with X)" anywhere, and a bare " feat. X" tail.
_FEAT_BRACKETED = re.compile(r"\s*[(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s[^)\]]*[)\]]")
_FEAT_TAIL = re.compile(r"\s+(?:feat\.?|ft\.?|featuring)\s.*$")
# "(2011 Remaster)", "[Remastered]" anywhere, and a " - Remastered 2009" tail.
_REMASTER_BRACKETED = re.compile(r"\s*[(\[][^)\]]*remaster[^)\]]*[)\]]")
_REMASTER_TAIL = re.compile(r"\s+-\s+[^-]*remaster[^-]*$")
_APOSTROPHES = str.maketrans("", "", "'`\u2018\u2019\u00b4")
_SPACES = re.compile(r"\s+")


def _strip_punctuation(text: str) -> str:
    # Unicode punctuation and symbols become spaces; letters and marks (accents, CJK) stay.
    text = text.replace("&", " and ").translate(_APOSTROPHES)
    cleaned = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text)
    return _SPACES.sub(" ", cleaned).strip()


def normalise_artist(name: str | None) -> str:
    """NFKC, casefold, drop a "feat." part, '&' as 'and', punctuation out, spaces collapsed."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _FEAT_TAIL.sub("", _FEAT_BRACKETED.sub("", text))
    return _strip_punctuation(text)


def normalise_title(title: str | None) -> str:
    """As `normalise_artist`, also dropping remaster annotations."""
    if not title:
        return ""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = _FEAT_TAIL.sub("", _FEAT_BRACKETED.sub("", text))
    text = _REMASTER_TAIL.sub("", _REMASTER_BRACKETED.sub("", text))
    return _strip_punctuation(text)


def name_id(*names: str | None) -> str | None:
    """A stable id for file sources without ids: `name:` + 16 hex of sha256 of the normalised
    names ('|'-joined). One name gives an artist id, (artist, title) a track id."""
    keys = [normalise_artist(names[0]), *(normalise_title(n) for n in names[1:])]
    if not keys[0]:
        return None
    return "name:" + hashlib.sha256("|".join(keys).encode()).hexdigest()[:16]


def _named(*names: str | None) -> str:
    """`name_id` of the names, or, for names that normalise to nothing (an artist called
    "!!!"), a hash of the names as written."""
    derived = name_id(*names)
    if derived:
        return derived
    text = "|".join((name or "").casefold() for name in names)
    return "name:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def heard_key(artist: str | None, title: str | None) -> str:
    """The identity of a heard (artist, title), as the file sources' name-derived track ids."""
    return _named(artist, title)


def artist_key(artist: str | None) -> str:
    """The name-derived id of an artist, as the file sources' artist ids."""
    return _named(artist)


def heard_keys(frame: pl.DataFrame) -> pl.Series:
    """`heard_key` of each row's (artist_name, track_name), each distinct pair computed once."""
    import polars as pl

    pairs = frame.select("artist_name", "track_name")
    keys = {pair: heard_key(*pair) for pair in pairs.unique().iter_rows()}
    return pl.Series("heard_key", [keys[pair] for pair in pairs.iter_rows()], dtype=pl.String)


def similarity(a: str, b: str) -> float:
    """0..1 similarity of two already-normalised strings."""
    if a == b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def normalised(
    column: str, how: Callable[[str | None], str | None]
) -> Callable[[pl.DataFrame], pl.Series]:
    """Apply a normaliser to a column, computing each distinct value once."""

    def apply(frame: pl.DataFrame) -> pl.Series:
        import polars as pl

        values = frame.get_column(column).cast(pl.String)
        distinct = values.unique().drop_nulls().to_list()
        mapping = {value: how(value) for value in distinct}
        return values.replace_strict(mapping, default=None, return_dtype=pl.String)

    return apply


@dataclass(frozen=True)
class CrossSourceMatch:
    """Matched pairs (left_row, right_row, matched_by, durations), the share of left rows
    matched, and the pairs whose durations disagree by more than the tolerance."""

    pairs: pl.DataFrame
    match_rate: float
    disagreements: pl.DataFrame


_OPTIONAL_KEYS = {
    "track_mbid": ColumnType.STRING,
    "spotify_track_id": ColumnType.STRING,
    "duration_ms": ColumnType.INT64,
}


def _prepare(frame: pl.DataFrame, row_column: str) -> pl.DataFrame:
    import polars as pl

    for name, dtype in polars_schema(_OPTIONAL_KEYS).items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return frame.with_row_index(row_column).with_columns(
        normalised("artist_name", normalise_artist)(frame).alias("_artist_key"),
        normalised("track_name", normalise_title)(frame).alias("_title_key"),
        pl.col("track_mbid").cast(pl.String),
        pl.col("spotify_track_id").cast(pl.String),
        pl.col("duration_ms").cast(pl.Int64),
    )


def match_tracks(
    left: pl.DataFrame, right: pl.DataFrame, *, duration_tolerance_ms: int = 5_000
) -> CrossSourceMatch:
    """Match each left track to a right one: by MBID when both have one, then Spotify id, then
    normalised (artist, title). Both frames need `artist_name` and `track_name`; `track_mbid`,
    `spotify_track_id` and `duration_ms` are used when present."""
    import polars as pl

    lhs = _prepare(left, "left_row")
    rhs = _prepare(right, "right_row")
    stages = (
        ("mbid", ["track_mbid"]),
        ("spotify_id", ["spotify_track_id"]),
        ("name", ["_artist_key", "_title_key"]),
    )
    found: list[pl.DataFrame] = []
    unmatched = lhs
    for matched_by, keys in stages:
        usable = [(pl.col(k).is_not_null() & (pl.col(k) != "")) for k in keys]
        candidates = rhs.filter(*usable).unique(subset=keys, keep="first", maintain_order=True)
        pairs = unmatched.filter(*usable).join(candidates, on=keys, how="inner", suffix="_right")
        found.append(
            pairs.select(
                "left_row",
                "right_row",
                pl.lit(matched_by).alias("matched_by"),
                pl.col("artist_name"),
                pl.col("track_name"),
                pl.col("artist_name_right"),
                pl.col("track_name_right"),
                pl.col("duration_ms").alias("duration_ms_left"),
                pl.col("duration_ms_right"),
            )
        )
        unmatched = unmatched.join(pairs.select("left_row"), on="left_row", how="anti")
    pairs = pl.concat(found).sort("left_row")
    pairs = pairs.with_columns(
        (pl.col("duration_ms_left") - pl.col("duration_ms_right")).abs().alias("duration_diff_ms")
    )
    disagreements = pairs.filter(pl.col("duration_diff_ms") > duration_tolerance_ms)
    match_rate = pairs.height / lhs.height if lhs.height else 0.0
    return CrossSourceMatch(pairs=pairs, match_rate=match_rate, disagreements=disagreements)
