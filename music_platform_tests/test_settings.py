"""Environment resolution: one place decides the backends (resources/__init__.py), and bad
values say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from music_platform.resources import staging_resource, warehouse_resource
from music_platform.settings import Environment, SettingsError, get_settings
from music_platform_tests.support.platform_env import applied


@pytest.mark.parametrize(
    ("env", "staging", "warehouse", "dbt_target"),
    [
        ("local", "duckdb", "duckdb", "local"),
        ("dev", "postgres", "duckdb", "dev"),
        ("prod", "postgres", "snowflake", "prod"),
        (" DEV ", "postgres", "duckdb", "dev"),
    ],
)
def test_environment_picks_backends(
    env: str, staging: str, warehouse: str, dbt_target: str
) -> None:
    with applied({"MUSIC_PLATFORM_ENV": env}):
        settings = get_settings()
        assert staging_resource(settings).engine == staging
        assert warehouse_resource(settings).engine == warehouse
        assert settings.dbt_target == dbt_target


def test_default_is_local_under_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MUSIC_PLATFORM_ENV", raising=False)
    monkeypatch.delenv("MUSIC_PLATFORM_HOME", raising=False)
    with applied({}):
        settings = get_settings()
        assert settings.env is Environment.LOCAL
        assert settings.home_dir == tmp_path / ".music_platform"


def test_unknown_environment_names_the_setting() -> None:
    with applied({"MUSIC_PLATFORM_ENV": "staging"}), pytest.raises(SettingsError) as error:
        get_settings()
    assert "MUSIC_PLATFORM_ENV='staging'" in str(error.value)
    assert "local, dev, prod" in str(error.value)


def test_bad_number_names_the_setting() -> None:
    with applied({"SYNTHETIC_USERS": "many"}), pytest.raises(SettingsError) as error:
        _ = get_settings().synthetic
    assert str(error.value).startswith("SYNTHETIC_USERS:")


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MUSIC_PLATFORM_ENV", raising=False)
    monkeypatch.delenv("POSTGRES_DB", raising=False)
    (tmp_path / ".env").write_text("MUSIC_PLATFORM_ENV=dev\nPOSTGRES_DB=from_dotenv\n")
    with applied({}):
        assert get_settings().env is Environment.DEV
        assert get_settings().postgres.db == "from_dotenv"


def test_password_stays_out_of_descriptions() -> None:
    with applied({"POSTGRES_PASSWORD": "s3cret-value"}):
        postgres = get_settings().postgres
        assert "s3cret-value" not in postgres.describe()
        assert "s3cret-value" not in repr(postgres)
        assert "s3cret-value" in postgres.conninfo()
