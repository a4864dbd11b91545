"""Documented ranges of track facts (Spotify's Web API reference for the audio features),
shared by the file screens and staging so every path rejects the same values."""

from __future__ import annotations

MAX_TRACK_MS = 6 * 60 * 60 * 1000
"""Longest believable track: 6 hours. A 90-minute live set or a 0.5 s interlude is real; a
duration beyond this (or zero, or negative) is a unit or parsing error."""

Range = tuple[float | None, float | None]

TRACK_RANGES: dict[str, Range] = {
    "duration_ms": (1, MAX_TRACK_MS),
    "popularity": (0, 100),
    "danceability": (0, 1),
    "energy": (0, 1),
    "speechiness": (0, 1),
    "acousticness": (0, 1),
    "instrumentalness": (0, 1),
    "liveness": (0, 1),
    "valence": (0, 1),
    "key": (-1, 11),  # pitch class, -1 when none was detected
    "mode": (0, 1),
    # Documented as typically -60..0 dB; mastered tracks reach a few dB above 0 in the real data.
    "loudness": (-60, 5),
    "tempo": (0, 300),
    # Documented 3..7; the Kaggle dataset uses 0 and 1 for "unknown".
    "time_signature": (0, 7),
}


def bound_text(value: float | None) -> str:
    """A range bound as a reject reason shows it: 21600000, not 2.16e+07."""
    if value is None or value in (float("inf"), float("-inf")):
        return "unbounded"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
