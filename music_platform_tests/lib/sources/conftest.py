"""Loopback fakes started as real servers, and the real clients pointed at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from music_platform.lib.sources.lastfm import LastfmClient, LastfmSettings
from music_platform.lib.sources.ratelimit import TokenBucket
from music_platform.lib.sources.retry import RetryPolicy
from music_platform.lib.sources.spotify import SpotifyClient, SpotifySettings
from music_platform_tests.support import kaggle_fake, lastfm_fake, spotify_fake
from music_platform_tests.support.loopback import (
    LoopbackCertificates,
    LoopbackServer,
    make_certificates,
)


class RecordedSleeps(list):
    """A `sleep` that records the waits it was asked for instead of spending them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def fast_retry(sleeps: RecordedSleeps) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=4, initial_wait=0.5, max_wait=2.0, budget_seconds=30.0, sleep=sleeps
    )


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCertificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def lastfm_fake_server(
    certificates: LoopbackCertificates,
) -> Iterator[tuple[lastfm_fake.FakeLastfm, LoopbackServer]]:
    fake = lastfm_fake.FakeLastfm()
    with LoopbackServer(fake, tls=certificates.server_context) as server:
        yield fake, server


@pytest.fixture
def fake_lastfm(lastfm_fake_server: tuple) -> lastfm_fake.FakeLastfm:
    return lastfm_fake_server[0]


@pytest.fixture
def lastfm_settings(
    lastfm_fake_server: tuple, certificates: LoopbackCertificates
) -> LastfmSettings:
    server = lastfm_fake_server[1]
    return LastfmSettings(
        api_key=lastfm_fake.API_KEY,
        api_secret=lastfm_fake.API_SECRET,
        api_root=f"{server.url}/2.0/",
        ca_file=certificates.ca_file,
        page_size=200,
    )


@pytest.fixture
def lastfm_client(
    lastfm_settings: LastfmSettings, fast_retry: RetryPolicy, tmp_path: Path
) -> LastfmClient:
    return LastfmClient(
        lastfm_settings,
        dump_dir=tmp_path / "bodies",
        retry=fast_retry,
        limiter=TokenBucket.unlimited(),
    )


@pytest.fixture
def spotify_fake_server() -> Iterator[tuple[spotify_fake.FakeSpotify, LoopbackServer]]:
    fake = spotify_fake.FakeSpotify()
    with LoopbackServer(fake) as server:
        yield fake, server


@pytest.fixture
def fake_spotify(spotify_fake_server: tuple) -> spotify_fake.FakeSpotify:
    return spotify_fake_server[0]


@pytest.fixture
def spotify_settings(spotify_fake_server: tuple) -> SpotifySettings:
    server = spotify_fake_server[1]
    return SpotifySettings(
        client_id=spotify_fake.CLIENT_ID,
        client_secret=spotify_fake.CLIENT_SECRET,
        api_base=f"{server.url}/v1/",
        auth_url=f"{server.url}/api/token",
    )


@pytest.fixture
def spotify_client(
    spotify_settings: SpotifySettings, fast_retry: RetryPolicy, tmp_path: Path
) -> SpotifyClient:
    return SpotifyClient(
        spotify_settings,
        dump_dir=tmp_path / "bodies",
        retry=fast_retry,
        limiter=TokenBucket.unlimited(),
    )


@pytest.fixture
def fake_kaggle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[kaggle_fake.FakeKaggle]:
    """The Kaggle fake on localhost:7777 with the environment that sends kaggle there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no ~/.kaggle credentials from the real home
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setenv("KAGGLE_USERNAME", kaggle_fake.USERNAME)
    monkeypatch.setenv("KAGGLE_KEY", kaggle_fake.KEY)
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    monkeypatch.delenv("KAGGLE_TRACKS_CSV", raising=False)
    fake = kaggle_fake.FakeKaggle()
    with kaggle_fake.serve_on_kaggle_port(fake):
        yield fake
