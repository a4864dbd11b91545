"""The Kaggle tracks dataset through the `kaggle` package against the fake on localhost:7777."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from music_platform.lib.schemas import ARTISTS, TRACKS
from music_platform.lib.source_errors import (
    CredentialsRejectedError,
    DatasetVerificationError,
    WrongColumnsError,
)
from music_platform.lib.sources.identity import name_id
from music_platform.lib.sources.kaggle import (
    DATASET,
    MANIFEST_NAME,
    download_tracks_dataset,
    kaggle_to_artists,
    kaggle_to_tracks,
    read_tracks_csv,
    sha256_of,
    tracks_dataset,
)
from music_platform.lib.sources.retry import RetryPolicy
from music_platform_tests.support.kaggle_fake import (
    DOWNLOAD_PATH,
    KAGGLE_HEADER,
    USERNAME,
    FakeKaggle,
    tracks_csv,
    zipped,
)

# The real file's quirks: True/False and TRUE/FALSE, 2.43e-05 and 2.43e-5, one track under two
# genres, several artists joined by ';', CJK and accented names.
ROWS = [
    ("5SuOikwiRyPMVoIQDJUgSV", "Gen Hoshino", "Comedy", "Comedy", 73, 230666, "False",
     0.676, 0.461, 1, -6.746, 0, 0.143, 0.0322, "1.01e-06", 0.358, 0.715, 87.917, 4, "acoustic"),
    ("4qPNDBW1i3p13qLCt0Ki3A", "Ben Woodward", "Ghost (Acoustic)", "Ghost - Acoustic", 55,
     149610, "TRUE", 0.42, 0.166, 1, -17.235, 1, 0.0763, 0.924, "2.43e-5", 0.101, 0.267,
     77.489, 4, "acoustic"),
    ("5Odq8ohlgIbQKMZivbWkEo", "Charlie Puth;Jung Kook;BTS", "CHARLIE",
     "Left and Right (Feat. Jung Kook of BTS)", 75, 154486, "false", 0.881, 0.592, 2, -4.898, 1,
     0.0324, 0.619, "2.43e-05", 0.0901, 0.719, 101.058, 4, "dance"),
    ("5Odq8ohlgIbQKMZivbWkEo", "Charlie Puth;Jung Kook;BTS", "CHARLIE",
     "Left and Right (Feat. Jung Kook of BTS)", 75, 154486, "False", 0.881, 0.592, 2, -4.898, 1,
     0.0324, 0.619, "2.43e-05", 0.0901, 0.719, 101.058, 4, "k-pop"),
    ("1HNkqx9Ahdgi1Ixy2xkKkL", "坂本龍一", "戦場のメリークリスマス", "Merry Christmas Mr. Lawrence",
     60, 275000, "True", 0.3, 0.2, 8, -20.1, 1, 0.04, 0.99, "0.9", 0.1, 0.1, 100.0, 4, "piano"),
]  # fmt: skip


@pytest.fixture
def published(fake_kaggle: FakeKaggle) -> bytes:
    archive = zipped("dataset.csv", tracks_csv(ROWS))
    fake_kaggle.datasets[DATASET] = archive
    return archive


def test_download_verifies_records_the_sha_and_parses_the_quirks(
    fake_kaggle: FakeKaggle, published: bytes, tmp_path: Path
) -> None:
    dataset = download_tracks_dataset(tmp_path / "data")

    assert dataset.downloaded
    assert dataset.csv_path == tmp_path / "data" / "dataset.csv"
    manifest = json.loads((tmp_path / "data" / MANIFEST_NAME).read_text())
    assert (
        manifest["zip_sha256"]
        == dataset.sha256
        == sha256_of(tmp_path / "data" / "-spotify-tracks-dataset.zip")
    )
    # What kaggle 2.2.5 sends: one RPC POST, then a GET of the redirect target.
    rpc, blob = fake_kaggle.requests
    assert (rpc.method, rpc.path, rpc.user) == (
        "POST",
        DOWNLOAD_PATH,
        f"{USERNAME}:fake-kaggle-key",
    )
    assert rpc.body == {"ownerSlug": "maharshipandya", "datasetSlug": "-spotify-tracks-dataset"}
    assert (blob.method, blob.path) == ("GET", f"/blobs/{DATASET}.zip")

    tracks = read_tracks_csv(dataset.csv_path)
    assert tracks.height == 4
    by_id = {row["track_id"]: row for row in tracks.iter_rows(named=True)}
    assert by_id["5Odq8ohlgIbQKMZivbWkEo"]["genres"] == "dance;k-pop"
    assert [by_id[i]["explicit"] for i in ("5SuOikwiRyPMVoIQDJUgSV", "4qPNDBW1i3p13qLCt0Ki3A")] == [
        False,
        True,
    ]
    assert by_id["4qPNDBW1i3p13qLCt0Ki3A"]["instrumentalness"] == pytest.approx(2.43e-5)
    assert by_id["5Odq8ohlgIbQKMZivbWkEo"]["instrumentalness"] == pytest.approx(2.43e-5)
    assert by_id["1HNkqx9Ahdgi1Ixy2xkKkL"]["album_name"] == "戦場のメリークリスマス"


def test_a_second_call_reuses_the_verified_copy(
    fake_kaggle: FakeKaggle, published: bytes, tmp_path: Path
) -> None:
    first = download_tracks_dataset(tmp_path)
    second = download_tracks_dataset(tmp_path)
    assert (first.downloaded, second.downloaded) == (True, False)
    assert second.sha256 == first.sha256
    assert len(fake_kaggle.downloads()) == 1


def test_a_copy_changed_on_disk_is_fetched_again(
    fake_kaggle: FakeKaggle, published: bytes, tmp_path: Path
) -> None:
    first = download_tracks_dataset(tmp_path)
    first.csv_path.write_text("tampered")
    again = download_tracks_dataset(tmp_path)
    assert again.downloaded
    assert read_tracks_csv(again.csv_path).height == 4


def test_tracks_map_to_the_contracts(published: bytes, tmp_path: Path) -> None:
    tracks = read_tracks_csv(download_tracks_dataset(tmp_path).csv_path)

    contract_tracks = kaggle_to_tracks(tracks)
    artists = kaggle_to_artists(tracks)

    assert contract_tracks.schema == pl.Schema(TRACKS.columns)
    assert artists.schema == pl.Schema(ARTISTS.columns)
    row = contract_tracks.filter(pl.col("track_id") == "5Odq8ohlgIbQKMZivbWkEo").row(0, named=True)
    assert row["artist_id"] == name_id("Charlie Puth")
    assert row["genre"] == "dance;k-pop"
    assert sorted(artists.get_column("artist_name")) == sorted(
        ["Gen Hoshino", "Ben Woodward", "Charlie Puth", "Jung Kook", "BTS", "坂本龍一"]
    )
    bts = artists.filter(pl.col("artist_name") == "BTS").row(0, named=True)
    assert bts["artist_id"].startswith("name:")
    assert bts["genres"] == "dance;k-pop"


def test_a_pinned_sha256_that_differs_fails(published: bytes, tmp_path: Path) -> None:
    with pytest.raises(DatasetVerificationError, match="expected 0000"):
        download_tracks_dataset(tmp_path, expected_sha256="0" * 64)


def test_a_corrupt_zip_fails_verification(fake_kaggle: FakeKaggle, tmp_path: Path) -> None:
    archive = bytearray(zipped("dataset.csv", tracks_csv(ROWS * 20)))
    archive[60:90] = b"\0" * 30  # inside the compressed member: CRC check fails
    fake_kaggle.datasets[DATASET] = bytes(archive)
    with pytest.raises(DatasetVerificationError):
        download_tracks_dataset(tmp_path)
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_a_zip_whose_csv_lacks_columns_names_them(fake_kaggle: FakeKaggle, tmp_path: Path):
    header = [c for c in KAGGLE_HEADER if c not in ("tempo", "track_genre")]
    rows = [[v for c, v in zip(KAGGLE_HEADER[1:], r, strict=True) if c in header] for r in ROWS]
    fake_kaggle.datasets[DATASET] = zipped("dataset.csv", tracks_csv(rows, header))
    with pytest.raises(WrongColumnsError) as failure:
        download_tracks_dataset(tmp_path)
    assert failure.value.missing == ["tempo", "track_genre"]
    assert "dataset.csv" in str(failure.value)
    assert "expected track_id, artists" in str(failure.value)


def test_server_errors_are_retried(fake_kaggle: FakeKaggle, published: bytes, tmp_path: Path):
    fake_kaggle.fail_next(503)
    fast = RetryPolicy(initial_wait=0.001, max_wait=0.001)
    assert download_tracks_dataset(tmp_path, retry=fast).downloaded
    assert len(fake_kaggle.downloads()) == 2


def test_missing_credentials_are_reported(
    fake_kaggle: FakeKaggle, published: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    with pytest.raises(CredentialsRejectedError, match="KAGGLE_USERNAME"):
        download_tracks_dataset(tmp_path)
    assert fake_kaggle.requests == []


def test_kaggle_tracks_csv_points_at_a_local_copy(
    fake_kaggle: FakeKaggle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "local.csv"
    local.write_bytes(tracks_csv(ROWS))
    monkeypatch.setenv("KAGGLE_TRACKS_CSV", str(local))
    dataset = tracks_dataset(tmp_path / "data")
    assert (dataset.csv_path, dataset.downloaded) == (local, False)
    assert fake_kaggle.requests == []
