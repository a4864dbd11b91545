"""The one place that resolves the environment (local, dev, prod) and the settings behind it.

Everything reads `get_settings()`; nothing else looks at environment variables directly. Values
come from the process environment, then `.env` in the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


class SourceMode(StrEnum):
    """Which sources feed the platform: `auto` picks per source (live when its keys are set, a
    local file when one is given, synthetic otherwise); the others force one for every source."""

    AUTO = "auto"
    SYNTHETIC = "synthetic"
    FILES = "files"
    LIVE = "live"


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names it and says what to do."""


# What a reject limit can be set for (MUSIC_PLATFORM_MAX_REJECT_RATES): each listening
# provider and catalogue file, and `catalogue`, the staged catalogue reconciled from them.
REJECT_LIMIT_SOURCES = (
    "synthetic",
    "lastfm",
    "lastfm_1k",
    "events_file",
    "kaggle",
    "tidytuesday",
    "catalogue",
)


@dataclass(frozen=True)
class RejectLimit:
    """The share of a source's rows that may be rejected, and the setting that says so."""

    rate: float
    source: str
    setting: str
    """The setting the limit came from, as a user would set it."""

    def how_to_change(self) -> str:
        return (
            f"to accept more from {self.source}, set "
            f"MUSIC_PLATFORM_MAX_REJECT_RATES='{{\"{self.source}\": <share>}}'"
        )


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


class KafkaSettings(BaseSettings):
    """The Kafka broker that carries listening events (`music-platform stream ...`)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", env_file=".env", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "listen-events"
    dead_letter_topic: str = "listen-events.dead-letter"
    consumer_group: str = "music-platform-staging"
    # Partitions of the events topic when `stream produce` creates it.
    topic_partitions: int = Field(3, ge=1)
    # A consumer batch is written when it holds this many events or is this old.
    batch_max_events: int = Field(20_000, ge=1)
    batch_max_seconds: float = Field(1.0, gt=0)
    # How long the broker waits for a silent consumer before it hands its partitions on. 6 s is
    # Apache Kafka's smallest by default (group.min.session.timeout.ms); Tansu holds a new
    # group's first join for about half of it (1 to 3 s), so a shorter one starts sooner there.
    session_timeout_ms: int = Field(6000, ge=500)
    # A streamed day is handed to staging/staged_listens this long after it ends (late events
    # arriving later re-run the day).
    day_close_grace_seconds: float = Field(600.0, ge=0)


class SourceSettings(BaseSettings):
    """Credentials and local files of the real sources, under the names each API documents.

    Empty means unset. API roots left empty use each client's public endpoint.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    lastfm_api_key: SecretStr = SecretStr("")
    lastfm_api_secret: SecretStr = SecretStr("")
    lastfm_api_root: str = ""
    lastfm_ca_file: Path | None = None
    # Whose scrobbles to fetch: Last.fm user names, comma-separated.
    lastfm_users: str = ""
    lastfm_requests_per_second: float = Field(5.0, gt=0)
    # A Last.fm 1K-format scrobbles TSV (userid, timestamp, artist mbid, artist, track mbid, track).
    lastfm_scrobbles_file: Path | None = None
    # Listening events as JSON lines in the streaming event schema (lib/events.py).
    listen_events_file: Path | None = None
    spotify_client_id: str = ""
    spotify_client_secret: SecretStr = SecretStr("")
    spotify_api_base: str = ""
    spotify_auth_url: str = ""
    spotify_market: str = ""
    spotify_requests_per_second: float = Field(3.0, gt=0)
    # Search matches scoring below this are treated as "not on Spotify".
    spotify_min_confidence: float = Field(0.75, ge=0, le=1)
    kaggle_username: str = ""
    kaggle_key: SecretStr = SecretStr("")
    kaggle_api_token: SecretStr = SecretStr("")
    kaggle_config_dir: Path | None = None
    kaggle_dataset: str = "maharshipandya/-spotify-tracks-dataset"
    # Pin the downloaded zip's sha256; empty trusts the first verified download.
    kaggle_dataset_sha256: str = ""
    kaggle_tracks_csv: Path | None = None
    tidytuesday_songs_csv: Path | None = None

    @field_validator(
        "lastfm_ca_file",
        "lastfm_scrobbles_file",
        "listen_events_file",
        "kaggle_config_dir",
        "kaggle_tracks_csv",
        "tidytuesday_songs_csv",
        mode="before",
    )
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def users(self) -> list[str]:
        return [name.strip() for name in self.lastfm_users.split(",") if name.strip()]

    @property
    def has_lastfm_key(self) -> bool:
        return bool(self.lastfm_api_key.get_secret_value())

    @property
    def has_spotify_keys(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret.get_secret_value())

    @property
    def has_kaggle_credentials(self) -> bool:
        """Credentials in the environment or .env, or a kaggle.json where the kaggle package
        looks for one."""
        if self.kaggle_api_token.get_secret_value():
            return True
        if self.kaggle_username and self.kaggle_key.get_secret_value():
            return True
        config_dir = self.kaggle_config_dir or Path.home() / ".kaggle"
        return (config_dir / "kaggle.json").is_file()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUSIC_PLATFORM_", env_file=".env", extra="ignore")

    env: Environment = Environment.LOCAL
    home: Path = Path(".music_platform")
    # DuckDB memory for dbt's builds (it may take 80% of RAM otherwise); past it, it spills to
    # disk. Keeps a 10M-event run under 2 GiB in all; raise it on a bigger machine.
    dbt_duckdb_memory_limit: str = "768MB"
    # The team that owns every asset, shown in the UI (Dagster's `team:` or an email address).
    owner: str = "team:data-platform"
    # Share of a partition's rows that may be rejected before its blocking check fails.
    max_reject_rate: float = Field(0.01, ge=0, le=1)
    # Per-source overrides of it, as JSON: '{"kaggle": 0.05, "events_file": 0.02}' (keys in
    # REJECT_LIMIT_SOURCES).
    max_reject_rates: dict[str, float] = Field(default_factory=dict)
    # Days of listening the recommender trains on, ending at the newest listen.
    recommender_training_days: int = Field(90, ge=1)
    # Relative NDCG@10 drop against the promoted model that still allows promotion.
    recommender_tolerance: float = Field(0.1, ge=0, le=1)
    # Which sources feed the platform; see SourceMode and defs/sources/selection.py.
    source: SourceMode = SourceMode.AUTO
    # Share of heard tracks a catalogue source (Spotify, Kaggle, TidyTuesday) must recognise.
    min_match_rate: float = Field(0.5, ge=0, le=1)
    # Catalogue and Last.fm durations further apart than this are flagged as disagreeing.
    duration_tolerance_seconds: float = Field(5.0, ge=0)
    # Each API call: attempts and backoff before the source counts as unavailable.
    api_retry_attempts: int = Field(5, ge=1)
    api_retry_initial_wait_seconds: float = Field(1.0, ge=0)
    api_retry_budget_seconds: float = Field(120.0, gt=0)
    # A partition whose source stayed unavailable is retried this often, this much later.
    source_retries: int = Field(1, ge=0)
    source_retry_delay_seconds: float = Field(120.0, ge=0)
    # The agent's model: any OpenAI-compatible chat-completions endpoint (OpenAI, a hosted
    # compatible one, llama.cpp or Ollama). Empty model means none: `ask` routes by rules.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_seconds: float = Field(60.0, gt=0)
    # Limits the agent's tools enforce whatever the model asks.
    agent_max_rounds: int = Field(6, ge=1, le=20)
    agent_sql_row_limit: int = Field(200, ge=1, le=10_000)
    agent_sql_timeout_seconds: float = Field(10.0, gt=0)
    # Who "me" is in a question ("recommend something for me"), unless the request names one.
    agent_user_id: str = ""
    # Requests the HTTP service works on at once; past it, others get 503 at once (load shed).
    serve_max_concurrency: int = Field(16, ge=1, le=32)

    @field_validator("env", "source", mode="before")
    @classmethod
    def _normalise_env(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("source", mode="before")
    @classmethod
    def _empty_source_is_auto(cls, value: object) -> object:
        return SourceMode.AUTO if value == "" else value

    @field_validator("max_reject_rates")
    @classmethod
    def _known_reject_sources(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(REJECT_LIMIT_SOURCES))
        if unknown:
            raise ValueError(
                f"unknown source {', '.join(unknown)}; use {', '.join(REJECT_LIMIT_SOURCES)}"
            )
        outside = sorted(name for name, rate in value.items() if not 0 <= rate <= 1)
        if outside:
            raise ValueError(f"{', '.join(outside)}: a share must be between 0 and 1")
        return value

    def reject_limit(self, source: str) -> RejectLimit:
        """The reject limit of `source` (a REJECT_LIMIT_SOURCES name): its override, if set,
        else MUSIC_PLATFORM_MAX_REJECT_RATE."""
        if source in self.max_reject_rates:
            rate = self.max_reject_rates[source]
            return RejectLimit(rate, source, f'MUSIC_PLATFORM_MAX_REJECT_RATES["{source}"]={rate}')
        rate = self.max_reject_rate
        return RejectLimit(rate, source, f"MUSIC_PLATFORM_MAX_REJECT_RATE={rate}")

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
    def reconciled_dir(self) -> Path:
        """The cross-source identity and the catalogue composed from every source."""
        return self.home_dir / "reconciled"

    @property
    def kaggle_dir(self) -> Path:
        """The downloaded Kaggle dataset, kept with its verified sha256 manifest."""
        return self.home_dir / "kaggle"

    @property
    def bodies_dir(self) -> Path:
        """API response bodies that failed to parse, kept for inspection."""
        return self.home_dir / "bodies"

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
    def agent_trace_path(self) -> Path:
        """Every agent tool call, one JSON object a line (see lib/agent/tracing.py)."""
        return self.home_dir / "agent" / "tool_calls.jsonl"

    @property
    def agent_spans_path(self) -> Path:
        """Each question as one OpenTelemetry trace (GenAI conventions), one span a line."""
        return self.home_dir / "agent" / "traces.jsonl"

    @property
    def dagster_home(self) -> Path:
        return self.home_dir / "dagster"

    @property
    def dbt_target(self) -> str:
        """The dbt profile's target: named by environment, as in dbt_project/profiles.yml."""
        return self.env.value

    @property
    def postgres(self) -> PostgresSettings:
        return _postgres_settings()

    @property
    def snowflake(self) -> SnowflakeSettings:
        return _snowflake_settings()

    @property
    def synthetic(self) -> SyntheticSettings:
        return _synthetic_settings()

    @property
    def sources(self) -> SourceSettings:
        return _source_settings()

    @property
    def kafka(self) -> KafkaSettings:
        return _kafka_settings()

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


@cache
def _source_settings() -> SourceSettings:
    return _load(SourceSettings, "")


@cache
def _kafka_settings() -> KafkaSettings:
    return _load(KafkaSettings, "KAFKA_")


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
    for cached in (
        get_settings,
        _postgres_settings,
        _snowflake_settings,
        _synthetic_settings,
        _source_settings,
        _kafka_settings,
    ):
        cached.cache_clear()
