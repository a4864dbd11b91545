"""Shared fixtures: the real public data beside the checkout; the dbt manifest, prepared once."""

from __future__ import annotations

from pathlib import Path

import pytest

from music_platform.lib.dbt_project import prepare_manifest
from music_platform.settings import get_settings
from music_platform_tests.support.paths import SHARED_DATA


def pytest_configure(config: pytest.Config) -> None:
    """The definitions read the dbt manifest when they are imported, which test modules do as
    they are collected: parse the project first (a no-op when it is up to date), as
    `music-platform run` does."""
    prepare_manifest(get_settings())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout (CI lays it there); fails loudly if absent."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"expected the shared data folder at {SHARED_DATA}")
    return SHARED_DATA
