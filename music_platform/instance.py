"""The Dagster instance's home for the current environment, without importing Dagster: the
`dev` command prepares it and then starts `dagster dev`, which imports Dagster itself."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from music_platform.settings import Environment, Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_INSTANCE_CONFIG = REPO_ROOT / "dagster.yaml"
SERVER_INSTANCE_CONFIG = REPO_ROOT / "deploy" / "dagster.yaml"


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME for this environment: SQLite under the data directory in `local`
    (dagster.yaml), PostgreSQL storage in `dev` and `prod` (deploy/dagster.yaml)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if settings.env is Environment.LOCAL:
        if not config.exists():
            shutil.copyfile(LOCAL_INSTANCE_CONFIG, config)
    else:
        shutil.copyfile(SERVER_INSTANCE_CONFIG, config)
        # dagster.yaml reads its connection from these; derive any not set from the settings.
        postgres = settings.postgres
        for name, value in (
            ("POSTGRES_HOST", postgres.host),
            ("POSTGRES_PORT", str(postgres.port)),
            ("POSTGRES_USER", postgres.user),
            ("POSTGRES_PASSWORD", postgres.password.get_secret_value()),
            ("DAGSTER_POSTGRES_DB", postgres.db),
        ):
            os.environ.setdefault(name, value)
    return home
