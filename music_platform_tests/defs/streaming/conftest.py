"""The session broker of the streaming tests."""

from music_platform_tests.lib.streaming.conftest import broker  # noqa: F401
