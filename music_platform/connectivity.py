"""Fail fast, in one line, when a service the environment needs cannot be reached."""

from __future__ import annotations

import psycopg
from psycopg import sql

from music_platform.settings import Environment, Settings, SettingsError


def check_postgres(settings: Settings) -> None:
    """Connect to the server and create the platform's database on first use."""
    postgres = settings.postgres
    try:
        with psycopg.connect(postgres.conninfo("postgres"), autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [postgres.db]
            ).fetchone()
            if not exists:
                connection.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(postgres.db))
                )
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "unreachable"
        raise SettingsError(
            f"PostgreSQL at {postgres.describe()} is not reachable ({reason}); start it or set "
            "POSTGRES_HOST/POSTGRES_PORT/POSTGRES_USER/POSTGRES_DB (see .env.example)."
        ) from None


def check_services(settings: Settings) -> None:
    """Every service the current environment depends on answers."""
    if settings.env is not Environment.LOCAL:
        check_postgres(settings)
