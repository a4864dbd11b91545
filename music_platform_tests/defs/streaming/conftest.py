"""The session brokers of the streaming tests."""

from music_platform_tests.lib.streaming.conftest import broker, noida, tansu  # noqa: F401
