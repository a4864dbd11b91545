"""The loopback API fakes, shared with the source tests."""

from music_platform_tests.defs.sources.conftest import (  # noqa: F401
    certificates,
    lastfm_server,
    spotify_server,
)
