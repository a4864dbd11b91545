"""One asset graph in every environment: keys, parents, partitions, checks, jobs, sensors and
schedules are the same whatever keys are set or files dropped, and match the stored snapshot
(as dagster-open-platform keeps one). Only resources and configuration differ.

A change to the graph shows here as a snapshot diff; accept it deliberately with
`scripts/test music_platform_tests/test_defs.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from music_platform.definitions import build_definitions
from music_platform.settings import get_settings
from music_platform_tests.support.platform_env import applied, platform_environment

LASTFM_AND_SPOTIFY = {
    "LASTFM_API_KEY": "key",
    "LASTFM_USERS": "alice,bob",
    "SPOTIFY_CLIENT_ID": "id",
    "SPOTIFY_CLIENT_SECRET": "secret",
}
SNOWFLAKE = {"SNOWFLAKE_ACCOUNT": "acme", "SNOWFLAKE_USER": "u", "SNOWFLAKE_PASSWORD": "p"}
# Whatever the developer's shell or .env holds, each configuration starts from nothing set.
UNSET = dict.fromkeys(
    (
        "MUSIC_PLATFORM_SOURCE",
        "LISTEN_EVENTS_FILE",
        "LASTFM_SCROBBLES_FILE",
        "KAGGLE_TRACKS_CSV",
        "TIDYTUESDAY_SONGS_CSV",
        *LASTFM_AND_SPOTIFY,
    ),
    "",
)


def _scrobbles(home: Path) -> dict[str, str]:
    path = home.parent / "scrobbles.tsv"
    path.write_text("")
    return {"MUSIC_PLATFORM_SOURCE": "files", "LASTFM_SCROBBLES_FILE": str(path)}


def _dropped_events(home: Path) -> dict[str, str]:
    (home / "external").mkdir(parents=True)
    (home / "external" / "listening.jsonl").write_text("")
    return {}


CONFIGURATIONS = {
    "synthetic default": lambda home: {},
    "Last.fm and Spotify keys": lambda home: LASTFM_AND_SPOTIFY,
    "files mode": _scrobbles,
    "events file dropped in external/": _dropped_events,
    "TidyTuesday and Kaggle files": lambda home: {
        "TIDYTUESDAY_SONGS_CSV": "songs.csv",
        "KAGGLE_TRACKS_CSV": "tracks.csv",
    },
    "dev": lambda home: {"MUSIC_PLATFORM_ENV": "dev"},
    "prod": lambda home: {"MUSIC_PLATFORM_ENV": "prod", **LASTFM_AND_SPOTIFY, **SNOWFLAKE},
}


def graph_shape(defs: dg.Definitions) -> dict[str, Any]:
    """What a user sees of the graph in the UI, as plain data."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "parents": sorted(parent.to_user_string() for parent in node.parent_keys),
            "partitions": str(node.partitions_def) if node.partitions_def else None,
            "group": node.group_name,
            "owners": sorted(node.owners),
            "materializable": node.is_materializable,
            "checks": sorted(check.name for check in graph.get_check_keys_for_assets({key})),
            "automation": node.automation_condition.get_label()
            if node.automation_condition
            else None,
        }
    jobs = {
        job.name: sorted(key.to_user_string() for key in job.asset_layer.executable_asset_keys)
        for job in defs.resolve_all_job_defs()
        if not job.name.startswith("__")
    }
    sensors = sorted(sensor.name for sensor in defs.sensors or [])
    schedules = {
        schedule.name: schedule.cron_schedule
        for schedule in defs.schedules or []
        if isinstance(schedule, dg.ScheduleDefinition)
    }
    undescribed = sorted(
        f"{spec.asset_key.to_user_string()}:{spec.name}"
        for assets_def in graph.assets_defs
        for spec in assets_def.check_specs
        if not spec.description
    )
    return {
        "assets": assets,
        "jobs": jobs,
        "sensors": sensors,
        "schedules": schedules,
        "checks_without_description": undescribed,
    }


def _shape_in(tmp_path: Path, configure) -> dict[str, Any]:
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    variables = platform_environment(home, **{**UNSET, **configure(home)})
    with applied(variables):
        return graph_shape(build_definitions(get_settings()))


@pytest.fixture(scope="module")
def default_shape(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _shape_in(tmp_path_factory.mktemp("default"), CONFIGURATIONS["synthetic default"])


def test_the_graph_matches_the_stored_snapshot(default_shape: dict[str, Any], snapshot) -> None:
    assert default_shape == snapshot


@pytest.mark.parametrize("configuration", list(CONFIGURATIONS)[1:])
def test_the_graph_is_the_same_in_every_configuration(
    configuration: str, default_shape: dict[str, Any], tmp_path: Path
) -> None:
    assert _shape_in(tmp_path, CONFIGURATIONS[configuration]) == default_shape


def test_every_node_label_is_unique(default_shape: dict[str, Any]) -> None:
    """The UI labels a node with its key's last part: two alike would be indistinguishable."""
    labels = [key.rsplit("/", 1)[-1] for key in default_shape["assets"]]
    assert len(labels) == len(set(labels)), sorted(
        label for label in labels if labels.count(label) > 1
    )


def test_every_asset_has_the_owner_and_every_check_a_description(
    default_shape: dict[str, Any],
) -> None:
    """The UI shows who to ask about an asset and what each check judges."""
    assert {tuple(node["owners"]) for node in default_shape["assets"].values()} == {
        ("team:data-platform",)
    }
    assert default_shape["checks_without_description"] == []
