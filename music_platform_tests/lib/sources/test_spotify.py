"""Spotify through spotipy against the loopback fake."""

from __future__ import annotations

import polars as pl
import pytest

from music_platform.lib.source_errors import (
    CredentialsRejectedError,
    MalformedResponseError,
    RetryAfterTooLongError,
    SourceUnavailableError,
)
from music_platform.lib.sources.records import raw_item
from music_platform.lib.sources.spotify import (
    FEATURE_COLUMNS,
    SpotifyClient,
    SpotifyError,
    SpotifySettings,
    features_with_fallback,
    fetch_catalogue,
)
from music_platform_tests.support import spotify_fake
from music_platform_tests.support.spotify_fake import FakeSpotify, Fault


def _catalogue(fake: FakeSpotify, count: int) -> list[tuple[str, str]]:
    """`count` tracks by count // 2 artists, all with audio features; returns (artist, title)."""
    heard = []
    for n in range(count):
        artist_id, track_id = f"art{n // 2:019d}", f"trk{n:019d}"
        artist_name = f"Band Number {n // 2}"
        title = f"Tune {n}"
        fake.add(
            spotify_fake.track(track_id, title, [(artist_id, artist_name)]),
            spotify_fake.artist(artist_id, artist_name),
            features=spotify_fake.audio_features(track_id),
        )
        heard.append((artist_name, title))
    return heard


def _add_one(fake: FakeSpotify, track_id: str, title: str, artist: str) -> None:
    artist_id = "a" + track_id[1:]
    fake.add(
        spotify_fake.track(track_id, title, [(artist_id, artist)]),
        spotify_fake.artist(artist_id, artist),
        features=spotify_fake.audio_features(track_id),
    )


def test_resolve_matches_exactly_after_normalising_names(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient
) -> None:
    _add_one(fake_spotify, "t1", "Left and Right (Feat. Jung Kook of BTS)", "Charlie Puth")
    _add_one(fake_spotify, "t2", "Don't Stop Me Now - Remastered 2011", "Queen")
    _add_one(fake_spotify, "t3", "戦場のメリークリスマス", "坂本龍一")

    exact = [
        spotify_client.resolve("Charlie Puth", "Left and Right"),
        spotify_client.resolve("QUEEN", "Don’t Stop Me Now (2011 Remaster)"),  # noqa: RUF001
        spotify_client.resolve("坂本龍一", "戦場のメリークリスマス"),
    ]

    assert [(r.track_id, r.match, r.confidence) for r in exact] == [
        ("t1", "exact", 1.0),
        ("t2", "exact", 1.0),
        ("t3", "exact", 1.0),
    ]
    record = exact[0].as_record()
    assert record["_source"] == "spotify"
    assert record["_request"]["method"] == "search"
    assert record["candidate"]["id"] == "t1"


def test_resolve_scores_near_misses_and_refuses_poor_ones(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient
) -> None:
    _add_one(fake_spotify, "t1", "Dancing On My Own - Radio Edit", "Robyn")
    _add_one(fake_spotify, "t2", "Dancing Queen", "ABBA")

    near = spotify_client.resolve("Robyn", "Dancing On My Own")
    poor = spotify_client.resolve("ABBA", "Dancing In The Moonlight")
    missing = spotify_client.resolve("Nobody", "Nothing")

    assert (near.track_id, near.match) == ("t1", "fuzzy")
    assert 0.75 <= near.confidence < 1.0
    assert near.reason.startswith("fuzzy: title 0.")
    assert (poor.track_id, poor.match) == (None, "none")
    assert "< 0.75" in poor.reason
    assert (missing.track_id, missing.match, missing.reason) == (None, "none", "no search results")


def test_catalogue_is_fetched_in_batches_of_50_and_100(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient
) -> None:
    heard = _catalogue(fake_spotify, 120)

    catalogue = fetch_catalogue(spotify_client, heard)

    assert all(r.match == "exact" for r in catalogue.resolutions)
    assert [len(r.ids) for r in fake_spotify.seen("tracks")] == [50, 50, 20]
    assert [len(r.ids) for r in fake_spotify.seen("artists")] == [50, 10]
    assert [len(r.ids) for r in fake_spotify.seen("audio-features")] == [100, 20]
    assert [t["id"] for t in catalogue.tracks] == [f"trk{n:019d}" for n in range(120)]
    assert len(catalogue.artists) == 60
    assert catalogue.audio_features.status == "ok"
    assert len(catalogue.audio_features.records) == 120
    first = catalogue.tracks[0]
    assert raw_item(first) == fake_spotify.tracks[first["id"]]
    assert first["_request"]["method"] == "tracks"
    assert len(first["_request"]["params"]["ids"].split(",")) == 50


def test_unknown_ids_are_left_out(fake_spotify: FakeSpotify, spotify_client: SpotifyClient):
    _catalogue(fake_spotify, 2)
    tracks = spotify_client.tracks([f"trk{0:019d}", "trk9999999999999999999"])
    assert [t["id"] for t in tracks] == [f"trk{0:019d}"]


@pytest.mark.parametrize(
    ("header", "value", "expected_wait"),
    [("Retry-After", "3", 3.0), ("retry-after", "7", 7.0), ("Retry-After", "0", 0.0)],
)
def test_429_waits_as_long_as_retry_after_says(
    fake_spotify: FakeSpotify,
    spotify_client: SpotifyClient,
    sleeps: list,
    header: str,
    value: str,
    expected_wait: float,
) -> None:
    _catalogue(fake_spotify, 3)
    fake_spotify.fail("tracks", Fault(429, [(header, value)]))

    tracks = spotify_client.tracks([f"trk{n:019d}" for n in range(3)])

    assert len(tracks) == 3
    assert sleeps == [expected_wait]
    assert len(fake_spotify.seen("tracks")) == 2  # spotipy did not retry on its own


def test_429_without_retry_after_backs_off(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient, sleeps: list
) -> None:
    _catalogue(fake_spotify, 1)
    fake_spotify.fail("tracks", Fault(429, body=b""), Fault(429, body=b"{}"))
    assert len(spotify_client.tracks([f"trk{0:019d}"])) == 1
    assert sleeps == [0.5, 1.0]


def test_an_absurd_retry_after_fails_clearly_instead_of_sleeping(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient, sleeps: list
) -> None:
    _catalogue(fake_spotify, 1)
    fake_spotify.fail("tracks", Fault(429, [("Retry-After", "99999")]))

    with pytest.raises(RetryAfterTooLongError) as failure:
        spotify_client.tracks([f"trk{0:019d}"])

    assert failure.value.wait == 99999
    assert "99999" in str(failure.value)
    assert "60 s cap" in str(failure.value)
    assert sleeps == []


def test_429_past_the_budget_is_unavailable(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient, sleeps: list
) -> None:
    _catalogue(fake_spotify, 1)
    fake_spotify.fail("tracks", *[Fault(429, [("Retry-After", "1")])] * 5)
    with pytest.raises(SourceUnavailableError, match="4 attempts"):
        spotify_client.tracks([f"trk{0:019d}"])
    assert sleeps == [1.0, 1.0, 1.0]


def test_5xx_is_retried(fake_spotify: FakeSpotify, spotify_client: SpotifyClient, sleeps: list):
    _catalogue(fake_spotify, 1)
    fake_spotify.fail("artists", Fault(503), Fault(500))
    assert len(spotify_client.artists([f"art{0:019d}"])) == 1
    assert sleeps == [0.5, 1.0]


def test_401_refreshes_the_token_once_and_repeats(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient
) -> None:
    _catalogue(fake_spotify, 2)
    assert len(spotify_client.tracks([f"trk{0:019d}"])) == 1
    fake_spotify.expire_tokens()

    assert len(spotify_client.tracks([f"trk{1:019d}"])) == 1

    assert fake_spotify.tokens_issued == ["fake-token-1", "fake-token-2"]
    assert [r.token for r in fake_spotify.seen("tracks")] == [
        "fake-token-1",
        "fake-token-1",
        "fake-token-2",
    ]


def test_a_second_401_after_refreshing_is_a_credentials_error(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient
) -> None:
    _catalogue(fake_spotify, 1)
    fake_spotify.fail("tracks", Fault(401), Fault(401))
    with pytest.raises(CredentialsRejectedError, match="freshly issued token"):
        spotify_client.tracks([f"trk{0:019d}"])
    assert len(fake_spotify.tokens_issued) == 2


def test_bad_client_credentials_are_reported(
    spotify_settings: SpotifySettings, fake_spotify: FakeSpotify, tmp_path
) -> None:
    settings = SpotifySettings(
        client_id="wrong",
        client_secret="also-wrong",
        api_base=spotify_settings.api_base,
        auth_url=spotify_settings.auth_url,
    )
    client = SpotifyClient(settings, dump_dir=tmp_path)
    with pytest.raises(CredentialsRejectedError, match="SPOTIFY_CLIENT_ID") as failure:
        client.tracks(["abc"])
    assert "also-wrong" not in str(failure.value)


def test_audio_features_403_is_unavailable_and_the_caller_falls_back_to_kaggle(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient
) -> None:
    _catalogue(fake_spotify, 2)
    fake_spotify.audio_features_forbidden = True
    ids = [f"trk{0:019d}", f"trk{1:019d}"]

    features = spotify_client.audio_features(ids)

    assert (features.status, features.records) == ("unavailable", [])
    assert "403" in features.reason
    kaggle_ints_and_tempo = {"tempo": [99.5], "key": [5], "mode": [0], "time_signature": [3]}
    kaggle = pl.DataFrame({"track_id": [ids[0]], **kaggle_ints_and_tempo}).with_columns(
        [pl.lit(0.5).alias(c) for c in FEATURE_COLUMNS if c not in kaggle_ints_and_tempo]
    )
    filled = features_with_fallback(ids, features, kaggle)
    assert filled.get_column("features_source").to_list() == ["kaggle", None]
    assert filled.get_column("tempo").to_list() == [99.5, None]
    assert filled.schema["key"] == pl.Int32


def test_spotify_features_win_over_kaggle(fake_spotify: FakeSpotify, spotify_client):
    _catalogue(fake_spotify, 1)
    ids = [f"trk{0:019d}"]
    kaggle = pl.DataFrame({"track_id": ids, "tempo": [1.0]}).with_columns(
        [pl.lit(0.0).alias(c) for c in FEATURE_COLUMNS if c != "tempo"]
    )
    filled = features_with_fallback(ids, spotify_client.audio_features(ids), kaggle)
    assert filled.row(0, named=True)["features_source"] == "spotify"
    assert filled.row(0, named=True)["tempo"] == 120.0


def test_other_403s_are_errors(fake_spotify: FakeSpotify, spotify_client: SpotifyClient):
    fake_spotify.fail("tracks", Fault(403))
    with pytest.raises(SpotifyError, match="HTTP 403"):
        spotify_client.tracks(["abc"])


def test_a_body_that_is_not_json_fails_and_is_kept(
    fake_spotify: FakeSpotify, spotify_client: SpotifyClient, tmp_path
) -> None:
    fake_spotify.fail("tracks", Fault(200, body=b'{"tracks": [{"id": "abc", "na'))
    with pytest.raises(MalformedResponseError) as failure:
        spotify_client.tracks(["abc"])
    assert failure.value.body_path.parent == tmp_path / "bodies"
    assert failure.value.body_path.read_bytes() == b'{"tracks": [{"id": "abc", "na'


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "id-1")
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "secret-2")
    monkeypatch.setenv("SPOTIFY_API_BASE", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("SPOTIFY_AUTH_URL", "http://127.0.0.1:9/api/token")
    settings = SpotifySettings.from_env()
    assert (settings.api_base, settings.auth_url) == (
        "http://127.0.0.1:9/v1/",
        "http://127.0.0.1:9/api/token",
    )
    assert "secret-2" not in repr(settings)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET")
    with pytest.raises(CredentialsRejectedError):
        SpotifySettings.from_env()
