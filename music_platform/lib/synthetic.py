"""Seeded synthetic music data: the stand-in for the Last.fm and Spotify APIs when no keys are set.

Faker names the catalogue and the users (small tables); numpy draws everything else in bulk, so a
day of a million listens takes about a second. Listens follow per-user taste (a genre mix,
favourite artists and tracks), listening sessions, a diurnal curve and a long-tailed track
popularity, so a recommender has something real to learn. Every frame has exactly its contract's
columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from music_platform.lib.schemas import ARTISTS, LISTENS, TRACKS, USERS

if TYPE_CHECKING:
    from faker import Faker

    from music_platform.settings import SyntheticSettings

# Per genre: share of artists, share of solo acts (person names), then the means of the audio
# features (danceability, energy, acousticness, instrumentalness, speechiness, valence), loudness
# in dB, tempo in BPM, median track length in minutes, and the share of explicit tracks.
# fmt: off
_GENRE_TABLE: tuple[tuple[str, float, float, float, float, float, float, float, float, float,
                          float, float, float], ...] = (
    ("pop",           .140, .60, .64, .64, .22, .02, .07, .50,  -6.0, 118, 3.4, .15),
    ("dance pop",     .050, .60, .72, .74, .12, .03, .08, .58,  -5.5, 122, 3.3, .12),
    ("rock",          .080, .15, .50, .74, .15, .05, .05, .50,  -6.5, 124, 4.0, .05),
    ("indie rock",    .050, .20, .52, .66, .22, .10, .05, .45,  -7.5, 122, 3.8, .06),
    ("alternative",   .050, .20, .50, .68, .18, .06, .06, .42,  -7.0, 120, 3.9, .10),
    ("metal",         .040, .10, .42, .90, .03, .12, .09, .30,  -5.0, 128, 4.6, .12),
    ("punk",          .020, .10, .45, .90, .04, .04, .08, .50,  -5.0, 160, 2.7, .20),
    ("hip hop",       .090, .80, .74, .64, .15, .01, .25, .48,  -6.5,  98, 3.5, .70),
    ("trap",          .040, .85, .76, .60, .12, .02, .20, .38,  -6.5, 140, 3.0, .80),
    ("r&b",           .050, .75, .66, .55, .25, .02, .10, .48,  -7.5, 105, 3.6, .35),
    ("soul",          .020, .70, .58, .52, .40, .03, .06, .58,  -9.0, 108, 3.5, .03),
    ("funk",          .015, .35, .72, .68, .20, .10, .07, .72,  -8.0, 110, 4.2, .03),
    ("electronic",    .040, .40, .62, .72, .10, .45, .06, .38,  -7.0, 124, 4.8, .04),
    ("house",         .030, .50, .74, .78, .06, .45, .07, .50,  -7.0, 124, 5.5, .03),
    ("techno",        .025, .55, .70, .82, .04, .78, .07, .30,  -8.5, 130, 6.5, .01),
    ("drum and bass", .015, .45, .55, .88, .03, .40, .09, .35,  -5.0, 174, 4.8, .05),
    ("ambient",       .020, .45, .25, .20, .85, .85, .04, .12, -18.0,  95, 5.5, .00),
    ("jazz",          .030, .70, .55, .38, .75, .45, .06, .50, -12.0, 110, 5.0, .00),
    ("blues",         .015, .75, .52, .50, .50, .12, .05, .55,  -9.0, 110, 4.3, .00),
    ("classical",     .030, .90, .30, .15, .92, .85, .04, .25, -21.0, 100, 6.5, .00),
    ("country",       .050, .70, .58, .64, .30, .01, .04, .58,  -6.5, 120, 3.4, .04),
    ("folk",          .030, .55, .52, .38, .70, .08, .04, .44, -10.0, 115, 3.7, .01),
    ("reggae",        .015, .60, .74, .56, .18, .04, .12, .68,  -8.0, 100, 4.0, .05),
    ("latin",         .060, .70, .74, .72, .20, .01, .09, .64,  -5.5, 100, 3.4, .25),
    ("k-pop",         .030, .40, .66, .76, .15, .01, .07, .55,  -4.5, 120, 3.4, .05),
)
# fmt: on
GENRES: tuple[str, ...] = tuple(row[0] for row in _GENRE_TABLE)
_GENRE_NUMBERS = np.array([row[1:] for row in _GENRE_TABLE], dtype=np.float64)
_SHARE, _SOLO, _FEATURES, _LOUDNESS, _TEMPO, _MINUTES, _EXPLICIT = (
    _GENRE_NUMBERS[:, 0],
    _GENRE_NUMBERS[:, 1],
    _GENRE_NUMBERS[:, 2:8],
    _GENRE_NUMBERS[:, 8],
    _GENRE_NUMBERS[:, 9],
    _GENRE_NUMBERS[:, 10],
    _GENRE_NUMBERS[:, 11],
)
_FEATURE_NAMES = (
    "danceability",
    "energy",
    "acousticness",
    "instrumentalness",
    "speechiness",
    "valence",
)
# Beta concentration per feature: low for instrumentalness, whose real distribution is bimodal.
_FEATURE_CONCENTRATION = np.array([14.0, 12.0, 5.0, 2.5, 10.0, 8.0])

# An artist's second and third genres come from its first genre's neighbours.
_RELATED: dict[str, tuple[str, ...]] = {
    "pop": ("dance pop", "r&b", "k-pop", "electronic"),
    "dance pop": ("pop", "house", "electronic", "k-pop"),
    "rock": ("alternative", "indie rock", "metal", "punk", "blues"),
    "indie rock": ("alternative", "rock", "folk", "punk"),
    "alternative": ("indie rock", "rock", "electronic"),
    "metal": ("rock", "punk"),
    "punk": ("rock", "metal", "indie rock"),
    "hip hop": ("trap", "r&b", "funk"),
    "trap": ("hip hop", "r&b"),
    "r&b": ("soul", "hip hop", "pop"),
    "soul": ("r&b", "funk", "blues", "jazz"),
    "funk": ("soul", "jazz", "r&b"),
    "electronic": ("house", "techno", "ambient", "drum and bass"),
    "house": ("electronic", "techno", "dance pop"),
    "techno": ("electronic", "house"),
    "drum and bass": ("electronic", "techno"),
    "ambient": ("electronic", "classical"),
    "jazz": ("blues", "soul", "funk", "classical"),
    "blues": ("jazz", "rock", "soul"),
    "classical": ("ambient", "jazz"),
    "country": ("folk", "rock"),
    "folk": ("country", "indie rock", "blues"),
    "reggae": ("latin", "hip hop"),
    "latin": ("pop", "reggae", "dance pop"),
    "k-pop": ("pop", "dance pop", "r&b"),
}

# Where artists come from (share, Faker locale for their names); some genres have a home.
_ARTIST_COUNTRIES: dict[str, tuple[float, str]] = {
    "US": (0.36, "en_US"),
    "GB": (0.13, "en_GB"),
    "SE": (0.05, "sv_SE"),
    "DE": (0.05, "de_DE"),
    "CA": (0.05, "en_US"),
    "AU": (0.04, "en_GB"),
    "FR": (0.04, "fr_FR"),
    "JP": (0.03, "ja_JP"),
    "BR": (0.03, "pt_BR"),
    "NL": (0.03, "nl_NL"),
    "NO": (0.02, "sv_SE"),
    "IE": (0.02, "en_GB"),
    "IT": (0.02, "it_IT"),
    "ES": (0.02, "es_MX"),
    "MX": (0.02, "es_MX"),
    "KR": (0.02, "ko_KR"),
    "JM": (0.01, "en_US"),
    "CO": (0.01, "es_MX"),
    "PR": (0.01, "es_MX"),
    "AR": (0.01, "es_MX"),
}
_GENRE_HOMES: dict[str, tuple[float, dict[str, float]]] = {
    "k-pop": (0.9, {"KR": 1.0}),
    "latin": (0.85, {"MX": 0.3, "CO": 0.2, "ES": 0.2, "PR": 0.15, "AR": 0.15}),
    "reggae": (0.7, {"JM": 1.0}),
}

# Where listeners live (share, UTC offset in hours, standard time) - a streaming-service-like mix.
_USER_COUNTRIES: dict[str, tuple[float, float]] = {
    "US": (0.20, -6),
    "BR": (0.07, -3),
    "GB": (0.07, 0),
    "DE": (0.06, 1),
    "MX": (0.05, -6),
    "FR": (0.04, 1),
    "PL": (0.04, 1),
    "IN": (0.04, 5.5),
    "ES": (0.035, 1),
    "IT": (0.03, 1),
    "CA": (0.03, -5),
    "JP": (0.03, 9),
    "RU": (0.03, 3),
    "AU": (0.025, 10),
    "NL": (0.025, 1),
    "SE": (0.02, 1),
    "TR": (0.02, 3),
    "AR": (0.02, -3),
    "ID": (0.02, 7),
    "PH": (0.02, 8),
    "KR": (0.015, 9),
    "CL": (0.015, -4),
    "CO": (0.015, -5),
    "NO": (0.01, 1),
    "FI": (0.01, 2),
    "DK": (0.01, 1),
    "BE": (0.01, 1),
    "CZ": (0.01, 1),
    "UA": (0.01, 2),
    "ZA": (0.01, 2),
    "IE": (0.008, 0),
    "NZ": (0.007, 12),
}

# Share of listening per local hour: night trough, commute and lunch bumps, evening peak.
_DIURNAL = np.array(
    [30, 18, 10, 6, 5, 7, 16, 32, 45, 45, 44, 46, 50, 50, 47, 47, 50, 57, 64, 70, 72, 68, 57, 42],
    dtype=np.float64,
)
_WEEKEND_BOOST = 1.2
# How a listen's track is chosen. A session starts from the user's taste; each next track stays
# with the previous one's artist or is a fresh pick by the shares below.
(
    _PICK_SESSION_START,
    _PICK_SAME_ARTIST,
    _PICK_SESSION_GENRE,
    _PICK_FAVOURITE_ARTIST,
    _PICK_FAVOURITE_TRACK,
    _PICK_TASTE,
    _PICK_POPULAR,
) = range(7)
_STAY_WITH_ARTIST = 0.4
_FRESH_PICKS = {
    _PICK_SESSION_GENRE: 0.3,
    _PICK_FAVOURITE_ARTIST: 0.25,
    _PICK_FAVOURITE_TRACK: 0.2,
    _PICK_TASTE: 0.15,
    _PICK_POPULAR: 0.1,
}
_SESSION_START_PICKS = {_PICK_FAVOURITE_ARTIST: 0.4, _PICK_FAVOURITE_TRACK: 0.3, _PICK_TASTE: 0.3}
# Share of listens skipped, per pick: a favourite track rarely, a popularity pick often.
_SKIP_SHARE_BY_PICK = np.array([0.16, 0.24, 0.32, 0.2, 0.1, 0.34, 0.5])
_MEAN_SESSION_TRACKS = 6
_MAX_SESSION_TRACKS = 60

_CATALOGUE_YEAR = 2025  # releases and artist careers end here, so the catalogue ignores "today"
_SIGNUP_START = date(2008, 1, 1)
_SIGNUP_END = date(2025, 12, 31)
_DAY_US = 86_400_000_000
_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
# Both hex digits of every byte value, as one uint16 each: one gather renders a byte.
_HEX_PAIRS = (
    np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 15]], axis=1).view(np.uint16).ravel()
)
# 8-4-4-4-12: (first hex digit, digits) per group; group g lands g dashes further right.
_UUID_GROUPS = ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))
_MBID_SHARE = 0.6
_UINT64 = (1 << 64) - 1
_CACHE_FRIENDLY_ITEMS = 1 << 16  # a float64 array this long stays in a core's cache

# Independent random streams per purpose, so changing one never shifts another.
_CATALOGUE_STREAM, _USERS_STREAM, _TASTE_STREAM, _DAY_STREAM = 1, 2, 3, 4


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and seed of the synthetic world."""

    seed: int = 42
    users: int = 500
    artists: int = 400
    tracks: int = 4000
    events_per_day: int = 5000  # mean; the real count per day varies (weekday/weekend, noise)

    def __post_init__(self) -> None:
        if min(self.users, self.artists, self.events_per_day) < 1:
            raise ValueError("users, artists and events_per_day must be positive")
        if self.tracks < self.artists:
            raise ValueError("every artist needs a track: tracks must be >= artists")


def config_from(sizes: SyntheticSettings) -> SyntheticConfig:
    """The world the settings ask for."""
    return SyntheticConfig(
        seed=sizes.seed,
        users=sizes.users,
        artists=sizes.artists,
        tracks=sizes.tracks,
        events_per_day=sizes.events_per_day,
    )


@dataclass(frozen=True)
class Catalogue:
    """Artists and their tracks, with the ARTISTS and TRACKS contract columns."""

    artists: pl.DataFrame
    tracks: pl.DataFrame


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


def _faker(locale: str, seed: int) -> Faker:
    # Imported on first use: Faker's locale tables slow every code location load otherwise.
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake


def _strings(chars: np.ndarray) -> pl.Series:
    """One fixed-width string per row of an (n, width) uint8 matrix of ASCII codes, zero-copy."""
    rows, width = chars.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    array = pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))
    return pl.Series(array)


def _base62_ids(rng: np.random.Generator, n: int) -> pl.Series:
    """Spotify-like ids: 22 base62 characters."""
    return _strings(_BASE62[rng.integers(0, 62, size=(n, 22))])


def _uuid_strings(high: np.ndarray, low: np.ndarray) -> pl.Series:
    """8-4-4-4-12 lowercase hex from two uint64 words per row."""
    octets = np.stack([high, low], axis=1).astype(">u8").view(np.uint8).reshape(len(high), 16)
    hex_chars = _HEX_PAIRS[octets].view(np.uint8).reshape(len(high), 32)
    chars = np.full((len(high), 36), ord("-"), dtype=np.uint8)
    for group, (first, width) in enumerate(_UUID_GROUPS):
        chars[:, first + group : first + group + width] = hex_chars[:, first : first + width]
    return _strings(chars)


def _maybe_mbids(rng: np.random.Generator, n: int) -> pl.Series:
    """MusicBrainz-like uuid4 ids for about 60% of rows, null for the rest."""
    words = rng.integers(0, np.iinfo(np.uint64).max, size=(n, 2), dtype=np.uint64, endpoint=True)
    # uuid4: version nibble 4, variant bits 10.
    words[:, 0] = (words[:, 0] & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)
    words[:, 1] = (words[:, 1] & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)
    ids = _uuid_strings(words[:, 0], words[:, 1])
    return pl.select(pl.when(pl.Series(rng.random(n) < _MBID_SHARE)).then(ids)).to_series()


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection on uint64, so distinct inputs give distinct outputs."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _event_ids(seed: int, day: date, n: int) -> pl.Series:
    """Deterministic uuid-shaped ids, unique across all days of one seed (a bijective hash)."""
    seed_key = _mix64(np.array([seed & _UINT64], dtype=np.uint64))[0]
    keys = (np.uint64(day.toordinal()) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    high = _mix64(keys ^ seed_key)
    return _uuid_strings(high, _mix64(high ^ np.uint64(0x9E3779B97F4A7C15)))


def _draw_in_segments(
    cumulative: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Per row, an index in [lo, hi) drawn proportionally to the weights behind `cumulative`.

    `cumulative` is the running sum of the weights with a leading 0 (length = items + 1), so one
    searchsorted draws from many different weighted segments at once.
    """
    start, end = cumulative[lo], cumulative[hi]
    targets = start + rng.random(len(lo)) * (end - start)
    if len(cumulative) < _CACHE_FRIENDLY_ITEMS or bool(np.all(lo[1:] >= lo[:-1])):
        picked = np.searchsorted(cumulative, targets, "right") - 1
    else:
        # Random queries into a big array: sorting them first makes searchsorted cache-friendly
        # (about 5x faster on million-item arrays, sort included).
        by_target = np.argsort(targets)
        picked = np.empty(len(lo), dtype=np.int64)
        picked[by_target] = np.searchsorted(cumulative, targets[by_target], "right") - 1
    return np.clip(picked, lo, hi - 1)


def _running_sum(weights: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(weights, dtype=np.float64)])


# --- catalogue --------------------------------------------------------------------------------


def _weighted_keys(table: dict[str, float]) -> tuple[list[str], np.ndarray]:
    keys = list(table)
    weights = np.array([table[key] for key in keys], dtype=np.float64)
    return keys, weights / weights.sum()


def _artist_genres(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[str]]:
    """Primary genre codes and the ';'-joined genre lists (1-3 genres, primary first)."""
    primary = rng.choice(len(GENRES), size=n, p=_SHARE / _SHARE.sum())
    extra_counts = rng.choice(3, size=n, p=[0.35, 0.40, 0.25])
    lists = []
    for code, extra in zip(primary.tolist(), extra_counts.tolist(), strict=True):
        related = _RELATED[GENRES[code]]
        picked = rng.choice(len(related), size=min(extra, len(related)), replace=False)
        lists.append(";".join([GENRES[code], *(related[i] for i in picked)]))
    return primary, lists


def _artist_countries(rng: np.random.Generator, primary: np.ndarray) -> np.ndarray:
    countries, weights = _weighted_keys({k: v[0] for k, v in _ARTIST_COUNTRIES.items()})
    chosen = np.array(countries, dtype=object)[rng.choice(len(countries), len(primary), p=weights)]
    for genre, (home_share, homes) in _GENRE_HOMES.items():
        at_home = (primary == GENRES.index(genre)) & (rng.random(len(primary)) < home_share)
        home_codes, home_weights = _weighted_keys(homes)
        picks = rng.choice(len(home_codes), int(at_home.sum()), p=home_weights)
        chosen[at_home] = np.array(home_codes, dtype=object)[picks]
    return chosen


@dataclass(frozen=True)
class _Words:
    """Word pools drawn once from Faker; names are numpy combinations of them."""

    nouns: np.ndarray
    plurals: np.ndarray
    adjectives: np.ndarray
    verbs: np.ndarray

    @classmethod
    def from_faker(cls, fake: Faker) -> _Words:
        nouns = fake.words(nb=600, part_of_speech="noun", unique=True)
        return cls(
            nouns=np.array(nouns, dtype=object),
            plurals=np.array([_plural(noun) for noun in nouns], dtype=object),
            adjectives=np.array(
                fake.words(nb=300, part_of_speech="adjective", unique=True), dtype=object
            ),
            verbs=np.array(fake.words(nb=300, part_of_speech="verb", unique=True), dtype=object),
        )


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _pick(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    return pool[rng.integers(0, len(pool), n)]


def _person_names(rng: np.random.Generator, seed: int, countries: np.ndarray) -> np.ndarray:
    """Person names in the artist's country's locale (romanised for Japan, no space for Korea)."""
    names = np.empty(len(countries), dtype=object)
    locales = np.array([_ARTIST_COUNTRIES[c][1] for c in countries], dtype=object)
    for locale in sorted(set(locales.tolist())):
        rows = np.flatnonzero(locales == locale)
        fake = _faker(locale, seed)
        pool = min(150, 2 * len(rows) + 10)
        if locale == "ja_JP":
            firsts = [fake.first_romanized_name() for _ in range(pool)]
            lasts = [fake.last_romanized_name() for _ in range(pool)]
        else:
            firsts = [fake.first_name() for _ in range(pool)]
            lasts = [fake.last_name() for _ in range(pool)]
        first = _pick(rng, np.array(firsts, dtype=object), len(rows))
        last = _pick(rng, np.array(lasts, dtype=object), len(rows))
        names[rows] = last + first if locale == "ko_KR" else first + " " + last
    return names


def _band_names(rng: np.random.Generator, words: _Words, n: int) -> np.ndarray:
    adjective, noun, plural = (
        _pick(rng, words.adjectives, n),
        _pick(rng, words.nouns, n),
        _pick(rng, words.plurals, n),
    )
    patterns = [
        "the " + adjective + " " + plural,
        "the " + plural,
        adjective + " " + noun,
        plural + " of " + _pick(rng, words.nouns, n),
    ]
    choice = rng.choice(len(patterns), n, p=[0.35, 0.15, 0.3, 0.2])
    titled = pl.Series(np.choose(choice, patterns), dtype=pl.String).str.to_titlecase()
    return titled.to_numpy().astype(object)


def _artist_names(
    rng: np.random.Generator, seed: int, words: _Words, primary: np.ndarray, countries: np.ndarray
) -> np.ndarray:
    """Unique names: person names for solo acts (a genre-dependent share), band names otherwise."""
    names = np.empty(len(primary), dtype=object)
    named = np.zeros(len(primary), dtype=bool)
    taken: set[str] = set()
    attempt = 0
    while (missing := np.flatnonzero(~named)).size:
        # Re-draw only the rows whose name was already taken; a few rounds suffice.
        candidates = _band_names(rng, words, len(missing))
        solo = rng.random(len(missing)) < _SOLO[primary[missing]]
        if solo.any():
            candidates[solo] = _person_names(rng, seed + attempt, countries[missing][solo])
        for row, candidate in zip(missing.tolist(), candidates.tolist(), strict=True):
            if candidate not in taken:
                taken.add(candidate)
                names[row], named[row] = candidate, True
        attempt += 1
    return names


def _title_names(rng: np.random.Generator, words: _Words, n: int) -> pl.Series:
    """Song and album titles such as "Quiet Window", "Leave Tonight", "Letters Of Winter"."""
    objects = np.array(["Me", "You", "It", "Away", "Again", "Tonight", "Forever"], dtype=object)
    patterns = [
        _pick(rng, words.nouns, n),
        _pick(rng, words.adjectives, n) + " " + _pick(rng, words.nouns, n),
        "the " + _pick(rng, words.nouns, n),
        _pick(rng, words.verbs, n) + " " + _pick(rng, objects, n),
        _pick(rng, words.plurals, n) + " of " + _pick(rng, words.nouns, n),
    ]
    choice = rng.choice(len(patterns), n, p=[0.25, 0.3, 0.1, 0.2, 0.15])
    return pl.Series(np.choose(choice, patterns), dtype=pl.String).str.to_titlecase()


def _weight_to_popularity(weights: np.ndarray, median_popularity: float) -> np.ndarray:
    """Spotify-like 0-100 popularity: 20 points per tenfold weight (generate_listens inverts it)."""
    points = median_popularity + 20 * np.log10(weights / np.median(weights))
    return np.clip(np.round(points), 0, 100).astype(np.int32)


def generate_catalogue(config: SyntheticConfig) -> Catalogue:
    """Artists (unique Faker names, 1-3 genres) and their albums and tracks, seeded by config."""
    rng = _rng(config.seed, _CATALOGUE_STREAM)
    fake = _faker("en_US", config.seed)
    words = _Words.from_faker(fake)
    n_artists, n_tracks = config.artists, config.tracks

    primary, genre_lists = _artist_genres(rng, n_artists)
    countries = _artist_countries(rng, primary)
    names = _artist_names(rng, config.seed, words, primary, countries)
    fame = rng.lognormal(0.0, 1.3, n_artists)

    # Every artist gets a track; famous artists get more of the rest.
    share = np.sqrt(fame) * rng.lognormal(0.0, 0.5, n_artists)
    per_artist = 1 + rng.multinomial(n_tracks - n_artists, share / share.sum())
    artist = np.repeat(np.arange(n_artists), per_artist)
    first_track = np.concatenate([[0], np.cumsum(per_artist)[:-1]])

    # Albums: a career that starts some years before the catalogue year, albums spread over it.
    albums_per_artist = np.minimum(1 + rng.poisson(per_artist / 9), per_artist)
    first_album = np.concatenate([[0], np.cumsum(albums_per_artist)[:-1]])
    n_albums = int(albums_per_artist.sum())
    album_artist = np.repeat(np.arange(n_artists), albums_per_artist)
    career_start = np.maximum(_CATALOGUE_YEAR - rng.gamma(2.0, 7.0, n_artists), 1955).astype(int)
    album_year = career_start[album_artist] + (
        rng.random(n_albums) * (_CATALOGUE_YEAR + 1 - career_start[album_artist])
    ).astype(int)
    year_start = (album_year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    album_date = year_start + rng.integers(0, 365, n_albums).astype("timedelta64[D]")
    track_album = first_album[artist] + rng.integers(0, albums_per_artist[artist])
    track_year = album_year[track_album]

    # Long tail: artist fame x a Zipf curve over the artist's tracks x recency x noise.
    rank = np.empty(n_tracks, dtype=np.int64)
    order = np.lexsort((rng.random(n_tracks), artist))
    rank[order] = np.arange(n_tracks) - first_track[artist[order]]
    recency = 0.4 + 0.6 * np.exp(-(_CATALOGUE_YEAR - track_year) / 10)
    weight = fame[artist] / (rank + 1) * recency * rng.lognormal(0.0, 0.5, n_tracks)

    # A track's genre is its artist's first genre, sometimes one of the others.
    artist_genre_codes = [[GENRES.index(g) for g in gl.split(";")] for gl in genre_lists]
    n_genres = np.array([len(codes) for codes in artist_genre_codes])
    padded = np.array([(codes * 3)[:3] for codes in artist_genre_codes])
    secondary = (n_genres[artist] > 1) & (rng.random(n_tracks) < 0.25)
    slot = np.where(secondary, 1 + rng.integers(0, np.maximum(n_genres[artist] - 1, 1)), 0)
    genre = padded[artist, slot]

    artist_weight = np.bincount(artist, weights=weight, minlength=n_artists)
    relative_fame = np.log10(artist_weight / np.median(artist_weight))
    followers = np.round(10 ** (3.8 + 1.3 * relative_fame + rng.normal(0, 0.25, n_artists)))
    artists = pl.DataFrame(
        {
            "artist_id": _base62_ids(rng, n_artists),
            "artist_name": pl.Series(names, dtype=pl.String),
            "artist_mbid": _maybe_mbids(rng, n_artists),
            "country": pl.Series(countries, dtype=pl.String),
            "genres": genre_lists,
            "popularity": _weight_to_popularity(artist_weight, 40),
            "followers": followers.astype(np.int64),
        },
        schema=ARTISTS.columns,
    )
    album_ids = _base62_ids(rng, n_albums)
    tracks = pl.DataFrame(
        {
            "track_id": _base62_ids(rng, n_tracks),
            "track_name": _title_names(rng, words, n_tracks),
            "track_mbid": _maybe_mbids(rng, n_tracks),
            "artist_id": artists["artist_id"].gather(artist),
            "album_id": album_ids.gather(track_album),
            "album_name": _title_names(rng, words, n_albums).gather(track_album),
            "release_date": album_date[track_album],
            "duration_ms": _durations(rng, genre),
            "explicit": rng.random(n_tracks) < _EXPLICIT[genre],
            "popularity": _weight_to_popularity(weight, 35),
            "genre": pl.Series(np.array(GENRES, dtype=object)[genre], dtype=pl.String),
            **_audio_features(rng, genre, artist, n_artists),
        },
        schema=TRACKS.columns,
    )
    return Catalogue(artists=artists, tracks=tracks)


def _durations(rng: np.random.Generator, genre: np.ndarray) -> np.ndarray:
    """Lognormal around the genre's median length (3.5 minutes overall), 45 s to 20 min."""
    median_ms = _MINUTES[genre] * 60_000
    return np.clip(rng.lognormal(np.log(median_ms), 0.28), 45_000, 1_200_000).astype(np.int32)


def _audio_features(
    rng: np.random.Generator, genre: np.ndarray, artist: np.ndarray, n_artists: int
) -> dict[str, np.ndarray]:
    """Spotify audio features in their real ranges, centred on the genre with an artist style."""
    n = len(genre)
    artist_style = rng.normal(0.0, 0.06, (n_artists, len(_FEATURE_NAMES)))
    means = np.clip(_FEATURES[genre] + artist_style[artist], 0.02, 0.98)
    values = rng.beta(means * _FEATURE_CONCENTRATION, (1 - means) * _FEATURE_CONCENTRATION)
    features = {name: np.round(values[:, i], 4) for i, name in enumerate(_FEATURE_NAMES)}
    energy_shift = values[:, 1] - _FEATURES[genre, 1]
    loudness = _LOUDNESS[genre] + 8 * energy_shift + rng.normal(0.0, 2.0, n)
    key = np.where(rng.random(n) < 0.01, -1, rng.integers(0, 12, n))
    return {
        **features,
        "key": key.astype(np.int32),
        "loudness": np.round(np.clip(loudness, -60.0, 0.0), 3),
        "mode": (rng.random(n) < 0.62).astype(np.int32),
        "liveness": np.round(rng.beta(0.18 * 6, 0.82 * 6, n), 4),
        "tempo": np.round(np.clip(rng.normal(_TEMPO[genre], 12.0), 50.0, 220.0), 3),
        "time_signature": rng.choice([3, 4, 5, 6, 7], n, p=[0.07, 0.9, 0.02, 0.007, 0.003]).astype(
            np.int32
        ),
    }


# --- users ------------------------------------------------------------------------------------


def generate_users(config: SyntheticConfig, *, as_of: date) -> pl.DataFrame:
    """Users with Faker usernames, a realistic country mix, signups before `as_of`, birth years.

    A user's signup date does not move with `as_of` once `as_of` is past 2025, so daily snapshots
    of the same config agree; for an earlier `as_of` the dates fold back into the window before it.
    """
    rng = _rng(config.seed, _USERS_STREAM)
    n = config.users
    countries, weights = _weighted_keys({k: v[0] for k, v in _USER_COUNTRIES.items()})
    fake = _faker("en_US", config.seed)
    pool = np.array([fake.user_name() for _ in range(min(n, 1000))], dtype=object)
    digits = rng.integers(1, 10_000, n).astype(str).astype(object)
    usernames = np.where(rng.random(n) < 0.5, _pick(rng, pool, n) + digits, _pick(rng, pool, n))

    window_start = min(_SIGNUP_START, date.fromordinal(as_of.toordinal() - 3650))
    window_days = (_SIGNUP_END - window_start).days
    span = max((as_of - window_start).days, 1)
    # Skewed towards recent signups: the service keeps growing.
    offset = (window_days * rng.beta(2.2, 1.2, n)).astype(np.int64) % span
    signup = np.datetime64(window_start, "D") + offset.astype("timedelta64[D]")
    signup_year = signup.astype("datetime64[Y]").astype(np.int64) + 1970
    age = np.clip(16 + rng.gamma(2.0, 6.0, n), 13, 85).astype(np.int64)
    birth_year = np.minimum(_CATALOGUE_YEAR - age, signup_year - 13)

    return (
        pl.DataFrame(
            {
                "user_id": pl.int_range(1, n + 1, eager=True).cast(pl.String).str.zfill(6),
                "username": pl.Series(usernames, dtype=pl.String),
                "country": pl.Series(np.array(countries)[rng.choice(len(countries), n, p=weights)]),
                "signup_date": signup,
                "birth_year": birth_year.astype(np.int32),
            }
        )
        .with_columns(
            user_id="u" + pl.col("user_id"),
            # Faker usernames have no '_', so this suffix makes the few duplicates unique.
            username=pl.when(pl.int_range(pl.len()).over("username") > 0)
            .then(pl.format("{}_{}", "username", pl.int_range(pl.len()).over("username")))
            .otherwise("username"),
        )
        .cast(USERS.columns)
    )


# --- listens ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Groups:
    """Items grouped (by artist, genre, user, ...) for weighted draws within many groups at once."""

    order: np.ndarray  # item indices sorted by group
    cumulative: np.ndarray  # running sum of the item weights in that order, leading 0
    bounds: np.ndarray  # group g occupies order[bounds[g]:bounds[g + 1]]

    @classmethod
    def build(cls, group: np.ndarray, weight: np.ndarray, n_groups: int) -> _Groups:
        order = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
        return cls(order=order, cumulative=_running_sum(weight[order]), bounds=bounds)

    def draw(self, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        picked = _draw_in_segments(
            self.cumulative, self.bounds[groups], self.bounds[groups + 1], rng
        )
        return self.order[picked]


@dataclass(frozen=True)
class _ListeningModel:
    """Catalogue indexes and per-user taste; depends only on the seed, catalogue and users."""

    track_ids: pl.Series
    user_ids: pl.Series
    duration_ms: np.ndarray
    track_artist: np.ndarray
    track_genre: np.ndarray
    popular: _Groups  # all tracks as one group, by popularity
    by_artist: _Groups
    by_genre: _Groups
    user_activity: _Groups  # all users as one group, by how much they listen
    user_genres: _Groups  # items are (user, genre) pairs, grouped by user
    favourite_artists: _Groups  # items are favourite-artist slots, grouped by user
    favourite_artist: np.ndarray  # the artist in each slot
    favourite_tracks: _Groups  # items are favourite-track slots, grouped by user
    favourite_track: np.ndarray  # the track in each slot
    utc_offset_us: np.ndarray

    def pick(self, pick: int, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Tracks for these users by one of the user-level picks."""
        if pick == _PICK_FAVOURITE_ARTIST:
            artists = self.favourite_artist[self.favourite_artists.draw(users, rng)]
            return self.by_artist.draw(artists, rng)
        if pick == _PICK_FAVOURITE_TRACK:
            return self.favourite_track[self.favourite_tracks.draw(users, rng)]
        if pick == _PICK_TASTE:
            n_genres = len(self.by_genre.bounds) - 1
            return self.by_genre.draw(self.user_genres.draw(users, rng) % n_genres, rng)
        return self.popular.draw(np.zeros(len(users), dtype=np.int64), rng)


def _by_user(per_user: np.ndarray) -> np.ndarray:
    """The user of each slot when user u has per_user[u] consecutive slots."""
    return np.repeat(np.arange(len(per_user)), per_user)


def _listening_model(seed: int, catalogue: Catalogue, users: pl.DataFrame) -> _ListeningModel:
    rng = _rng(seed, _TASTE_STREAM)
    tracks = catalogue.tracks.select(
        "track_id",
        artist=pl.col("artist_id").rank("dense") - 1,
        genre=pl.col("genre").fill_null("unknown").rank("dense") - 1,
        popularity=pl.col("popularity").fill_null(0),
        duration_ms=pl.col("duration_ms").fill_null(210_000),
    )
    artist = tracks["artist"].to_numpy().astype(np.int64)
    genre = tracks["genre"].to_numpy().astype(np.int64)
    n_artists, n_genres, n_users = int(artist.max()) + 1, int(genre.max()) + 1, users.height
    weight = 10.0 ** (tracks["popularity"].to_numpy() / 20)  # inverse of _weight_to_popularity
    by_genre = _Groups.build(genre, weight, n_genres)
    by_artist = _Groups.build(artist, weight, n_artists)

    # Taste: a sparse Dirichlet mix over genres (most users love two or three), centred on the
    # genres' global shares; 5-25 favourite artists drawn from it, less bound to popularity; and
    # 10-40 favourite tracks on heavy rotation, mostly by those artists.
    genre_share = np.bincount(genre, weights=weight, minlength=n_genres) / weight.sum()
    mix = rng.dirichlet(3.0 * genre_share + 1e-3, n_users)
    user_genres = _Groups.build(_by_user(np.full(n_users, n_genres)), mix.ravel(), n_users)
    artist_slot_user = _by_user(5 + rng.poisson(10, n_users))
    slot_genre = user_genres.draw(artist_slot_user, rng) % n_genres
    favourite_artist = artist[_Groups.build(genre, weight**0.6, n_genres).draw(slot_genre, rng)]
    favourite_artists = _Groups.build(
        artist_slot_user, rng.gamma(0.7, 1.0, len(artist_slot_user)), n_users
    )
    track_slot_user = _by_user(10 + rng.poisson(15, n_users))
    favourite_track = by_artist.draw(
        favourite_artist[favourite_artists.draw(track_slot_user, rng)], rng
    )
    favourite_tracks = _Groups.build(
        track_slot_user, rng.gamma(0.6, 1.0, len(track_slot_user)), n_users
    )

    offsets = {country: float(hours) for country, (_, hours) in _USER_COUNTRIES.items()}
    utc_offset_hours = users["country"].replace_strict(
        offsets, default=0.0, return_dtype=pl.Float64
    )
    return _ListeningModel(
        track_ids=tracks["track_id"],
        user_ids=users["user_id"],
        duration_ms=tracks["duration_ms"].to_numpy().astype(np.int64),
        track_artist=artist,
        track_genre=genre,
        popular=_Groups.build(np.zeros(len(weight), dtype=np.int64), weight, 1),
        by_artist=by_artist,
        by_genre=by_genre,
        user_activity=_Groups.build(
            np.zeros(n_users, dtype=np.int64), rng.lognormal(0.0, 0.8, n_users), 1
        ),
        user_genres=user_genres,
        favourite_artists=favourite_artists,
        favourite_artist=favourite_artist,
        favourite_tracks=favourite_tracks,
        favourite_track=favourite_track,
        utc_offset_us=(utc_offset_hours.to_numpy() * 3_600_000_000).astype(np.int64),
    )


def _events_on(day: date, mean: int, rng: np.random.Generator) -> int:
    """Weekends are ~20% busier than weekdays; the week averages `mean`, with a little noise."""
    week_mean = (5 + 2 * _WEEKEND_BOOST) / 7
    factor = (_WEEKEND_BOOST if day.weekday() >= 5 else 1.0) / week_mean
    return max(1, round(mean * factor * rng.lognormal(0.0, 0.05)))


def _draw_picks(shares: dict[int, float], n: int, rng: np.random.Generator) -> np.ndarray:
    codes = np.array(list(shares))
    return codes[rng.choice(len(codes), n, p=list(shares.values()))]


def _session_starts(
    session_user: np.ndarray,
    session_length_us: np.ndarray,
    utc_offset_us: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Microseconds after midnight UTC at which each session starts.

    A session starts at a local time drawn from the diurnal curve; a user's sessions that would
    overlap are pushed back to back, and every session ends before midnight UTC.
    """
    n = len(session_user)
    hour = rng.choice(24, n, p=_DIURNAL / _DIURNAL.sum()) + rng.random(n)
    start = ((hour * 3_600_000_000).astype(np.int64) - utc_offset_us[session_user]) % _DAY_US
    start = np.minimum(start, np.maximum(_DAY_US - 1 - session_length_us, 0))
    # Back to back within a user: start'_k = max(start_k, start'_(k-1) + length_(k-1)), that is
    # a running maximum of start_k - before_k, plus before_k (the user's listening before k).
    order = np.lexsort((start, session_user))
    user, length = session_user[order], session_length_us[order]
    first_of_user = np.concatenate([[True], user[1:] != user[:-1]])
    before = np.cumsum(length) - length
    before -= before[np.flatnonzero(first_of_user)][np.cumsum(first_of_user) - 1]
    slack = start[order] - before
    # Lift each user's values above the previous user's so one running maximum serves all users.
    lift = (np.cumsum(first_of_user) - 1) * (int(slack.max() - slack.min()) + 1)
    pushed = np.empty(n, dtype=np.int64)
    pushed[order] = np.maximum.accumulate(slack + lift) - lift + before
    # A user with more listening than fits in the day keeps the overlap instead.
    return np.where(pushed + session_length_us < _DAY_US, pushed, start)


def generate_listens(
    config: SyntheticConfig, day: date, catalogue: Catalogue, users: pl.DataFrame
) -> pl.DataFrame:
    """One UTC day of listens (LISTENS columns), ordered by time.

    Users listen in sessions: the first track comes from their favourites or genre mix, later
    ones often stay with the same artist or genre. The day's randomness comes from the seed and
    the day alone, so days can be generated in any order or in parallel.
    """
    model = _listening_model(config.seed, catalogue, users)
    rng = _rng(config.seed, _DAY_STREAM, day.toordinal())
    n = _events_on(day, config.events_per_day, rng)

    # Sessions: geometric lengths; n of them always cover n events, then cut at n.
    lengths = np.minimum(rng.geometric(1 / _MEAN_SESSION_TRACKS, n), _MAX_SESSION_TRACKS)
    n_sessions = int(np.searchsorted(np.cumsum(lengths), n)) + 1
    lengths = lengths[:n_sessions]
    lengths[-1] -= lengths.sum() - n
    session = np.repeat(np.arange(n_sessions), lengths)
    session_first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    session_user = model.user_activity.draw(np.zeros(n_sessions, dtype=np.int64), rng)
    user = session_user[session]

    anchor = np.empty(n_sessions, dtype=np.int64)
    anchor_pick = _draw_picks(_SESSION_START_PICKS, n_sessions, rng)
    for code in _SESSION_START_PICKS:
        rows = np.flatnonzero(anchor_pick == code)
        anchor[rows] = model.pick(code, session_user[rows], rng)

    # A session is a chain of runs: a fresh pick, then tracks by that pick's artist.
    fresh = rng.random(n) >= _STAY_WITH_ARTIST
    fresh[session_first] = True
    pick = np.where(fresh, _draw_picks(_FRESH_PICKS, n, rng), _PICK_SAME_ARTIST)
    pick[session_first] = _PICK_SESSION_START
    track = np.empty(n, dtype=np.int64)
    track[session_first] = anchor
    in_session_genre = np.flatnonzero(pick == _PICK_SESSION_GENRE)
    session_genre = model.track_genre[anchor[session[in_session_genre]]]
    track[in_session_genre] = model.by_genre.draw(session_genre, rng)
    for code in _FRESH_PICKS.keys() - {_PICK_SESSION_GENRE}:
        rows = np.flatnonzero(pick == code)
        track[rows] = model.pick(code, user[rows], rng)
    run_start = np.flatnonzero(fresh)[np.cumsum(fresh) - 1]
    staying = np.flatnonzero(~fresh)
    track[staying] = model.by_artist.draw(model.track_artist[track[run_start[staying]]], rng)

    # Skips end a track early; everything else plays to the end.
    duration = model.duration_ms[track]
    skipped = rng.random(n) < _SKIP_SHARE_BY_PICK[pick]
    early = np.clip((duration * rng.beta(0.9, 2.2, n)).astype(np.int64), 1, duration - 1)
    played = np.where(skipped, early, duration)

    # Each track starts when the previous one stopped, after a short pause.
    step = played * 1000 + rng.exponential(2_000_000, n).astype(np.int64)
    since_session_start = np.cumsum(step) - step
    since_session_start -= since_session_start[session_first][session]
    session_length = np.add.reduceat(step, session_first)
    start = _session_starts(session_user, session_length, model.utc_offset_us, rng)
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    listened = midnight + np.minimum(start[session] + since_session_start, _DAY_US - 1)

    by_time = np.argsort(listened, kind="stable")
    return pl.DataFrame(
        {
            "event_id": _event_ids(config.seed, day, n),
            "user_id": model.user_ids.gather(user[by_time]),
            "track_id": model.track_ids.gather(track[by_time]),
            "listened_at": pl.Series(listened[by_time]).cast(pl.Datetime("us", "UTC")),
            "ms_played": played[by_time],
            "listen_date": pl.repeat(day, n, eager=True),
        }
    ).cast(LISTENS.columns)
