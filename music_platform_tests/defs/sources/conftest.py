"""The loopback API fakes as real servers, for the source assets' in-process runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from music_platform_tests.support import lastfm_fake, spotify_fake
from music_platform_tests.support.loopback import (
    LoopbackCertificates,
    LoopbackServer,
    make_certificates,
)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCertificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def lastfm_server(
    certificates: LoopbackCertificates,
) -> Iterator[tuple[lastfm_fake.FakeLastfm, LoopbackServer]]:
    fake = lastfm_fake.FakeLastfm()
    with LoopbackServer(fake, tls=certificates.server_context) as server:
        yield fake, server


@pytest.fixture
def spotify_server() -> Iterator[tuple[spotify_fake.FakeSpotify, LoopbackServer]]:
    fake = spotify_fake.FakeSpotify()
    with LoopbackServer(fake) as server:
        yield fake, server
