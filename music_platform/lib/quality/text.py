"""Encoding damage in text columns, as polars expressions: cheap where a column is clean.

- invalid UTF-8: files are decoded lossily, so an invalid byte becomes U+FFFD and the row is
  rejected naming the column, instead of the whole file failing to read;
- mojibake: UTF-8 read as Latin-1/cp1252 ("BjÃ¶rk", "donâ€™t"): a lead byte's Latin-1 letter
  (Ã, Â, â€) followed by what was a continuation byte; real names (Björk, Sigur Rós, 坂本龍一,
  "SÃO PAULO") never have that pair;
- control characters other than tab, newline and carriage return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import polars as pl

REPLACEMENT_CHARACTER = "\ufffd"
_CONTINUATION = "\u0080-\u00bf"  # Latin-1 letters standing for UTF-8 continuation bytes
_CP1252_CONTINUATION = (
    "\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u02c6\u02dc\u2013-\u203a\u20ac\u2122"
)
MOJIBAKE_PATTERN = (
    f"[\u00c2-\u00c3][{_CONTINUATION}{_CP1252_CONTINUATION}]"
    f"|\u00e2[\u0080-\u00bf\u20ac][{_CONTINUATION}{_CP1252_CONTINUATION}]"
)
CONTROL_PATTERN = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CONTROL_BUT_NUL = "[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]"

SUSPECT_CHARACTERS = [
    REPLACEMENT_CHARACTER,
    "\u00c2",
    "\u00c3",
    "\u00e2",  # the Latin-1 letters every mojibake pair starts with
    *(chr(code) for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)),
]
"""Characters without which no rule can fire: one multi-pattern pass (Aho-Corasick) over a
column finds whether it needs the rules at all."""

_PREVIEW = 80


class TextDefect(NamedTuple):
    label: str  # "invalid UTF-8", "mojibake", "control character"
    fails: pl.Expr
    message: pl.Expr


def _quoted(column: str) -> pl.Expr:
    import polars as pl

    return pl.concat_str(pl.lit("'"), pl.col(column).str.slice(0, _PREVIEW), pl.lit("'"))


def text_defects(
    column: str, *, source_column: str | None = None, nul: bool = True
) -> list[TextDefect]:
    """The encoding rules for one text column; `source_column` names it in reasons when the
    expression reads a renamed copy; `nul=False` leaves NUL to a rule of the caller's."""
    import polars as pl

    named = source_column or column
    value = pl.col(column)
    control = CONTROL_PATTERN if nul else _CONTROL_BUT_NUL
    return [
        TextDefect(
            "invalid UTF-8",
            value.str.contains(REPLACEMENT_CHARACTER, literal=True),
            pl.concat_str(pl.lit(f"{named}: invalid UTF-8 in "), _quoted(column)),
        ),
        TextDefect(
            "mojibake",
            value.str.contains(MOJIBAKE_PATTERN),
            pl.concat_str(
                pl.lit(f"{named}: mojibake (UTF-8 read as Latin-1) in "), _quoted(column)
            ),
        ),
        TextDefect(
            "control character",
            value.str.contains(control),
            pl.concat_str(
                pl.lit(f"{named}: control character in "),
                pl.col(column).str.replace_all(CONTROL_PATTERN, "?").str.slice(0, _PREVIEW),
            ),
        ),
    ]
