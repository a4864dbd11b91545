"""The warehouse resource and dbt's environment per platform environment (no server needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from music_platform.lib.dbt_project import DBT_PROJECT_DIR, dbt_environment
from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse
from music_platform.lib.warehouse.snowflake_warehouse import (
    SnowflakeWarehouse,
    connection_args,
    quote_identifier,
)
from music_platform.resources import warehouse_resource
from music_platform.settings import SnowflakeSettings, get_settings
from music_platform_tests.support.platform_env import applied

SNOWFLAKE_ENV = {
    "SNOWFLAKE_ACCOUNT": "acme-eu1",
    "SNOWFLAKE_USER": "loader",
    "SNOWFLAKE_PASSWORD": "s3cret-value",
    "SNOWFLAKE_DATABASE": "music",
    "SNOWFLAKE_ROLE": "",
    "SNOWFLAKE_HOST": "",
}


def _prod(home: Path) -> dict[str, str]:
    return {"MUSIC_PLATFORM_ENV": "prod", "MUSIC_PLATFORM_HOME": str(home), **SNOWFLAKE_ENV}


def test_prod_passes_snowflake_settings_to_dbt(tmp_path: Path) -> None:
    with applied(_prod(tmp_path)):
        environment = dbt_environment(get_settings())
    assert environment["SNOWFLAKE_ACCOUNT"] == "acme-eu1"
    assert environment["SNOWFLAKE_PASSWORD"] == "s3cret-value"
    assert environment["SNOWFLAKE_DATABASE"] == "music"
    assert environment["SNOWFLAKE_SCHEMA"] == "ANALYTICS"
    assert environment["SNOWFLAKE_PORT"] == "443"
    assert environment["SNOWFLAKE_PROTOCOL"] == "https"


def test_local_and_dev_give_dbt_no_snowflake_settings(tmp_path: Path) -> None:
    for env in ("local", "dev"):
        with applied({"MUSIC_PLATFORM_ENV": env, "MUSIC_PLATFORM_HOME": str(tmp_path)}):
            environment = dbt_environment(get_settings())
        assert not [name for name in environment if name.startswith("SNOWFLAKE_")]
        assert environment["MUSIC_PLATFORM_WAREHOUSE_PATH"] == str(tmp_path / "warehouse.duckdb")


def test_the_snowflake_credentials_stay_out_of_the_resource_config(tmp_path: Path) -> None:
    with applied(_prod(tmp_path)):
        resource = warehouse_resource(get_settings())
    client = resource.client()
    assert isinstance(client, SnowflakeWarehouse)
    assert client.settings.password.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(resource)
    with applied({"MUSIC_PLATFORM_ENV": "local", "MUSIC_PLATFORM_HOME": str(tmp_path)}):
        assert isinstance(warehouse_resource(get_settings()).client(), DuckDBWarehouse)


def test_connection_args_point_at_fakesnow_only_when_a_host_is_set() -> None:
    cloud = connection_args(SnowflakeSettings(account="acme", user="u", password="p"))
    assert "host" not in cloud
    assert "role" not in cloud
    local = connection_args(
        SnowflakeSettings(
            account="fakesnow", user="u", password="p", host="127.0.0.1", port=1, protocol="http"
        )
    )
    assert (local["host"], local["port"], local["protocol"]) == ("127.0.0.1", 1, "http")
    assert local["paramstyle"] == "qmark"


def test_identifiers_are_quoted_as_snowflake_resolves_unquoted_names() -> None:
    assert quote_identifier("listens") == '"LISTENS"'
    assert quote_identifier('odd"name') == '"ODD""NAME"'
    assert SnowflakeWarehouse(SnowflakeSettings(database="music")).table_name("listens") == (
        '"MUSIC"."LANDING"."LISTENS"'
    )


def test_dbt_runs_duckdb_within_the_memory_limit_setting(tmp_path: Path) -> None:
    """DuckDB would take 80% of RAM; dbt's connection gets the platform's limit."""
    variables = {
        "MUSIC_PLATFORM_HOME": str(tmp_path),
        "MUSIC_PLATFORM_DBT_DUCKDB_MEMORY_LIMIT": "300MB",
    }
    with applied(variables):
        environment = dbt_environment(get_settings())
    shown = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "show",
            "--inline",
            "select current_setting('memory_limit') as memory_limit",
            "--target",
            "local",
            "--target-path",
            str(tmp_path / "target"),
            "--output",
            "json",
            "--quiet",
        ],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert json.loads(shown.stdout)["show"] == [{"memory_limit": "286.1 MiB"}]  # 300 MB in MiB
