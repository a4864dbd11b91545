"""Shared fixtures: the real public data beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from music_platform_tests.support.paths import SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout (CI lays it there); fails loudly if absent."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"expected the shared data folder at {SHARED_DATA}")
    return SHARED_DATA
