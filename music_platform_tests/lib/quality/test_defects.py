"""Every defect of the README's data quality table, built from the real shared files, gets its
chosen behaviour through the files path; legitimately odd data passes without an alarm."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from music_platform_tests.support.defects import (
    DEFECTS,
    KAGGLE,
    SCROBBLES,
    Defect,
    observe,
    write_defective,
)

# What the message must name: the column and the value (or the line), or what to fix.
EVIDENCE = {
    "bad type": "popularity: 'high' is not Int32",
    "popularity outside 0-100": "popularity 1",  # 150 (Kaggle) or 101 (TidyTuesday)
    "audio feature out of range": "danceability 1.7 is outside [0, 1]",
    "zero duration": "duration_ms 0 is outside [1, 21600000]",
    "negative duration": "duration_ms -5000 is outside",
    "absurd duration": "duration_ms 90000000 is outside",
    "null key": "track_id is null",
    "mojibake": "artists: mojibake (UTF-8 read as Latin-1) in 'BjÃ¶rk'",
    "control character": "track_name: control character in Song?",
    "invalid UTF-8": "track_name: invalid UTF-8 in 'Caf\ufffd Song'",
    "unquoted delimiter": "line 21: more fields than the 20-column header",
    "partial last row (truncated file)": "line 2025: partial last row",
    "missing required column": "missing tempo",
    "columns under unknown names": "missing track_id, tempo",
    "empty feed": "is empty",
    "reject rate above the threshold": (
        "202 of 2024 rows rejected (9.98%, over the limit of 1.00%, "
        "MUSIC_PLATFORM_MAX_REJECT_RATE=0.01); commonest: popularity: not Int32 (202); "
        "rejected rows in the staging rejects table (staging.rejects, table_name 'file:kaggle'); "
        "fix them at the source and load again, or to accept more from kaggle, set "
        """MUSIC_PLATFORM_MAX_REJECT_RATES='{"kaggle": <share>}'"""
    ),
    "volume drop": "dropped to 100 rows from 2024",
    "volume spike": "spiked to 12144 rows from 2024",
    "conflicting facts for a track id": "conflicting track_name",
    "category explosion": "genres: 2024 distinct values against 75 before",
    "distribution shift": "duration_ms: median",
    "invalid UTF-8 (gzipped)": "playlist_genre: invalid UTF-8 in 'p\ufffdop'",
    "timestamp without a zone": "listened_at: '2009-05-04 13:00:00' has no time zone",
    "timestamp in the future": "listened_at: '2999-01-01T00:00:00Z' is in the future",
    "timestamp that is no real instant": "'2009-02-30T10:00:00Z' is not a real instant",
    "missing field": "found 5 tab-separated fields",
}


@pytest.fixture(scope="module")
def previous_landings(shared_data: Path) -> dict[str, pl.DataFrame]:
    """Each real file as it lands: what a defective delivery is compared with."""
    sources = {defect.source.name: defect.source for defect in DEFECTS}
    return {name: source.read(shared_data / source.shared)[0] for name, source in sources.items()}


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: f"{d.source.name}: {d.kind}")
def test_each_defect_gets_its_behaviour(
    defect: Defect, shared_data: Path, tmp_path: Path, previous_landings: dict
) -> None:
    path = write_defective(defect, shared_data, tmp_path)

    observed = observe(defect.source, path, previous_landings[defect.source.name])

    assert observed.behaviour == defect.expected, observed.messages
    if defect.expected == "reject":
        assert observed.rejected == 1
        assert observed.screened is not None and observed.screened.rejects["record"][0]
    if defect.expected == "dedupe":
        assert (observed.rejected, observed.deduplicated) == (0, 1)
    if defect.kind in EVIDENCE:
        assert any(EVIDENCE[defect.kind] in message for message in observed.messages), (
            observed.messages
        )


def test_unknown_columns_are_named_beside_the_missing_ones(
    shared_data: Path, tmp_path: Path
) -> None:
    (renamed,) = [d for d in DEFECTS if d.kind == "columns under unknown names"]
    observed = observe(KAGGLE, write_defective(renamed, shared_data, tmp_path), None)
    (message,) = observed.messages
    assert "missing track_id, tempo" in message
    assert "unknown id, bpm" in message
    assert "no mapping is guessed" in message


def test_added_and_reordered_columns_are_reported_as_drift(
    shared_data: Path, tmp_path: Path, previous_landings: dict
) -> None:
    added, reordered = (
        next(d for d in DEFECTS if d.kind == kind) for kind in ("added column", "reordered columns")
    )
    with_label = observe(KAGGLE, write_defective(added, shared_data, tmp_path), None)
    assert with_label.drift == [{"column": "label", "change": "added"}]
    assert "label" not in with_label.screened.rows.columns
    turned = observe(KAGGLE, write_defective(reordered, shared_data, tmp_path), None)
    assert [change["change"] for change in turned.drift] == ["reordered"]
    # The same rows, typed the same, whatever the order of the columns.
    assert turned.screened.rows.equals(with_label.screened.rows)


def test_legitimately_odd_data_lands_as_written(shared_data: Path, tmp_path: Path) -> None:
    (odd,) = [d for d in DEFECTS if d.kind == "legitimately odd data"]
    tracks, screened = KAGGLE.read(write_defective(odd, shared_data, tmp_path))

    assert screened.rejected == 0 and screened.deduplicated == 0
    artists = set(tracks["artists"])
    assert {"Björk", "Sigur Rós", "坂本龍一", "!!!", "Charlie Puth;Jung Kook;BTS"} <= artists
    assert {500, 5_400_000} <= set(tracks["duration_ms"])
    assert tracks.filter(pl.col("artists") == "Björk")["explicit"].to_list() == [True]
    assert tracks.filter(pl.col("artists") == "坂本龍一")["instrumentalness"].to_list() == [0.0015]
    assert tracks.filter(pl.col("genres").str.contains(";j-pop")).height == 1


def test_a_listen_at_exactly_midnight_belongs_to_its_day(shared_data: Path, tmp_path: Path) -> None:
    (midnight,) = [d for d in DEFECTS if d.kind == "a listen at exactly midnight"]
    scrobbles, screened = SCROBBLES.read(write_defective(midnight, shared_data, tmp_path))
    assert screened.rejected == 0
    at = scrobbles.filter(pl.col("listened_at").dt.strftime("%H:%M:%S") == "00:00:00")
    assert at["listened_at"].dt.date().to_list()[0].isoformat() == "2009-05-04"
