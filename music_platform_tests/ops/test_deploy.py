"""The deployment files hang together: compose services, the image, Dagster's instance config.

There is no Docker engine here, so the compose file is checked for structure, not started."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from music_platform.settings import KafkaSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER_SERVICES = ("code-server", "webserver", "daemon")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> list[str]:
    return [str(part) for part in service["command"]]


def _option(command: list[str], *names: str) -> str:
    for name in names:
        if name in command:
            return command[command.index(name) + 1]
    raise AssertionError(f"none of {names} in {command}")


def test_compose_runs_postgres_kafka_and_the_three_dagster_services(compose: dict) -> None:
    assert set(compose["services"]) == {"postgres", "kafka", *DAGSTER_SERVICES}
    assert set(compose["volumes"]) == {"postgres-data", "kafka-data", "platform-data"}
    postgres = compose["services"]["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_dagster_services_run_the_image_built_from_the_dockerfile(compose: dict) -> None:
    dockerfile = REPO_ROOT / "Dockerfile"
    for name in DAGSTER_SERVICES:
        service = compose["services"][name]
        build = service["build"]
        assert (REPO_ROOT / build["context"] / build["dockerfile"]).resolve() == dockerfile, name
        assert service["image"] == "music-platform:latest", name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
    for name in ("webserver", "daemon"):
        depends = compose["services"][name]["depends_on"]
        assert depends["code-server"]["condition"] == "service_healthy", name
    for name in ("code-server", "webserver"):
        assert compose["services"][name]["healthcheck"]["test"], name


def test_every_dagster_service_gets_the_dev_environment(compose: dict) -> None:
    # dagster.yaml reads these; the settings read the rest.
    needed = {
        "MUSIC_PLATFORM_ENV": "dev",
        "POSTGRES_HOST": "postgres",
        "DAGSTER_HOME": "/opt/dagster/home",
    }
    instance_variables = set(
        re.findall(r"env: (\w+)", (REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    )
    for name in DAGSTER_SERVICES:
        environment = compose["services"][name]["environment"]
        for variable, value in needed.items():
            assert environment[variable] == value, (name, variable)
        assert instance_variables <= set(environment), name
    # Only the code server runs steps, so only it needs the data volume.
    assert compose["services"]["code-server"]["volumes"] == ["platform-data:/opt/dagster/data"]


def test_kafka_is_one_kraft_node_the_dagster_services_reach(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    environment = kafka["environment"]
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in environment
    node = environment["KAFKA_NODE_ID"]
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node}@kafka:")
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])
    listeners = environment["KAFKA_ADVERTISED_LISTENERS"].split(",")
    advertised = {listener.split("://")[1] for listener in listeners}
    # The host's listener is the settings' default, so host commands need no configuration.
    assert KafkaSettings.model_fields["bootstrap_servers"].default in advertised
    for name in DAGSTER_SERVICES:
        assert compose["services"][name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] in advertised
    assert compose["services"]["code-server"]["depends_on"]["kafka"]["condition"] == (
        "service_healthy"
    )


def test_env_example_names_only_kafka_settings_that_exist() -> None:
    example = (REPO_ROOT / ".env.example").read_text()
    named = {name.lower() for name in re.findall(r"^KAFKA_(\w+)=", example, re.MULTILINE)}
    assert named == set(KafkaSettings.model_fields)


def test_webserver_and_daemon_reach_the_code_server_it_serves(compose: dict) -> None:
    code_server = _command(compose["services"]["code-server"])
    workspace_file = REPO_ROOT / "deploy" / "workspace.docker.yaml"
    (location,) = yaml.safe_load(workspace_file.read_text())["load_from"]
    grpc = location["grpc_server"]
    assert grpc["host"] == "code-server"
    assert str(grpc["port"]) == _option(code_server, "-p", "--port")
    assert grpc["location_name"] == _option(code_server, "--location-name")
    for name in ("webserver", "daemon"):
        service = compose["services"][name]
        mounted = {volume.split(":")[0]: volume.split(":")[1] for volume in service["volumes"]}
        assert mounted["./deploy/workspace.docker.yaml"] == _option(_command(service), "-w")
    webserver = compose["services"]["webserver"]
    assert webserver["ports"] == [f"3000:{_option(_command(webserver), '-p')}"]


def test_dockerfile_builds_the_image_the_services_expect() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11-slim" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml" in dockerfile
    assert "music-platform prepare" in dockerfile, "the dbt manifest is built into the image"
    assert re.search(r"^USER \w+", dockerfile, re.MULTILINE), "the services do not run as root"
    assert "EXPOSE 3000 4000" in dockerfile


def test_instance_config_is_valid_and_quiet(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))  # raises on invalid or conflicting keys
    postgres = config["storage"]["postgres"]["postgres_db"]
    assert postgres["scheme"] == "postgresql+psycopg2"
    assert config["telemetry"] == {"enabled": False}
    assert config["nux"] == {"enabled": False}
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_workspace_loads_the_package_code_location() -> None:
    (location,) = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())["load_from"]
    tool = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]
    assert location["python_module"]["module_name"] == tool["module_name"]
    assert location["python_module"]["location_name"] == tool["code_location_name"]
