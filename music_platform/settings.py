"""The one place that resolves the environment (local, dev, prod) and the settings behind it.

Everything reads `get_settings()`; nothing else looks at environment variables directly. Values
come from the process environment, then `.env` in the working directory.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class Environment(StrEnum):
    LOCAL = "local"
    DEV = "dev"
    PROD = "prod"


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names it and says what to do."""


class PostgresSettings(BaseSettings):
    """PostgreSQL for staging (dev, prod) and Dagster's storage (dev, prod)."""

    model_config = SettingsConfigDict(env_prefix="POSTGRES_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: SecretStr = SecretStr("")
    db: str = "music_platform"
    staging_schema: str = "staging"

    def conninfo(self, dbname: str | None = None) -> str:
        """A libpq connection string; keep it out of logs since it may hold the password."""
        parts = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": dbname or self.db,
            "connect_timeout": "5",
        }
        if self.password.get_secret_value():
            parts["password"] = self.password.get_secret_value()
        return " ".join(f"{key}='{value}'" for key, value in parts.items())

    def describe(self) -> str:
        """Where we connect, without secrets: for error messages and metadata."""
        return f"{self.user}@{self.host}:{self.port}/{self.db}"


class SnowflakeSettings(BaseSettings):
    """Snowflake for the prod warehouse; host/port/protocol point it at fakesnow in tests."""

    model_config = SettingsConfigDict(env_prefix="SNOWFLAKE_", env_file=".env", extra="ignore")

    account: str = ""
    user: str = ""
    password: SecretStr = SecretStr("")
    database: str = "MUSIC_PLATFORM"
    warehouse: str = "COMPUTE_WH"
    role: str = ""
    schema_: str = Field("ANALYTICS", alias="SNOWFLAKE_SCHEMA")
    host: str = ""
    port: int = 443
    protocol: str = "https"


class SyntheticSettings(BaseSettings):
    """Size and seed of the synthetic source that stands in when no API keys are set."""

    model_config = SettingsConfigDict(env_prefix="SYNTHETIC_", env_file=".env", extra="ignore")

    seed: int = 42
    users: int = Field(500, ge=1)
    artists: int = Field(400, ge=1)
    tracks: int = Field(4000, ge=1)
    events_per_day: int = Field(5000, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUSIC_PLATFORM_", env_file=".env", extra="ignore")

    env: Environment = Environment.LOCAL
    home: Path = Path(".music_platform")
    # First day of the shared daily partitions (Last.fm history reaches back to 2005).
    partitions_start: str = "2024-01-01"
    # Share of a partition's rows that may be rejected before its blocking check fails.
    max_reject_rate: float = Field(0.01, ge=0, le=1)

    @field_validator("env", mode="before")
    @classmethod
    def _normalise_env(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def raw_dir(self) -> Path:
        return self.home_dir / "raw"

    @property
    def external_dir(self) -> Path:
        """Files dropped here are picked up by the file sensor."""
        return self.home_dir / "external"

    @property
    def models_dir(self) -> Path:
        return self.home_dir / "models"

    @property
    def warehouse_path(self) -> Path:
        return self.home_dir / "warehouse.duckdb"

    @property
    def staging_path(self) -> Path:
        return self.home_dir / "staging.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home_dir / "dagster"

    @property
    def staging_backend(self) -> str:
        return "duckdb" if self.env is Environment.LOCAL else "postgres"

    @property
    def warehouse_backend(self) -> str:
        return "snowflake" if self.env is Environment.PROD else "duckdb"

    @property
    def dbt_target(self) -> str:
        return self.warehouse_backend

    @property
    def postgres(self) -> PostgresSettings:
        return _postgres_settings()

    @property
    def snowflake(self) -> SnowflakeSettings:
        return _snowflake_settings()

    @property
    def synthetic(self) -> SyntheticSettings:
        return _synthetic_settings()

    def ensure_home(self) -> Path:
        """Create the data directory, or say plainly why it cannot be used."""
        home = self.home_dir
        try:
            for folder in (home, self.raw_dir, self.external_dir, self.models_dir):
                folder.mkdir(parents=True, exist_ok=True)
            probe = home / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise SettingsError(
                f"MUSIC_PLATFORM_HOME={home} is not writable ({error.strerror}); "
                "point MUSIC_PLATFORM_HOME at a folder you can write to."
            ) from error
        return home


def _describe_validation_error(error: ValidationError, prefix: str) -> str:
    first = error.errors()[0]
    name = prefix + "_".join(str(part) for part in first["loc"]).upper()
    return f"{name}: {first['msg']}"


@cache
def _postgres_settings() -> PostgresSettings:
    return _load(PostgresSettings, "POSTGRES_")


@cache
def _snowflake_settings() -> SnowflakeSettings:
    return _load(SnowflakeSettings, "SNOWFLAKE_")


@cache
def _synthetic_settings() -> SyntheticSettings:
    return _load(SyntheticSettings, "SYNTHETIC_")


def _load(settings_class: type[SettingsT], prefix: str) -> SettingsT:
    try:
        return settings_class()
    except ValidationError as error:
        raise SettingsError(_describe_validation_error(error, prefix)) from None


@cache
def get_settings() -> Settings:
    """The resolved settings; raises SettingsError with a one-line, actionable message."""
    raw_env = os.environ.get("MUSIC_PLATFORM_ENV")
    if raw_env is not None and raw_env.strip().lower() not in {e.value for e in Environment}:
        choices = ", ".join(e.value for e in Environment)
        raise SettingsError(
            f"MUSIC_PLATFORM_ENV={raw_env!r} is not an environment; use one of: {choices}."
        )
    return _load(Settings, "MUSIC_PLATFORM_")


def clear_settings_cache() -> None:
    """Forget resolved settings (tests change the environment between cases)."""
    for cached in (get_settings, _postgres_settings, _snowflake_settings, _synthetic_settings):
        cached.cache_clear()
