"""Which provider feeds each entity, from the settings; forced modes say what they are missing.
The graph holds every provider whatever is chosen (test_definitions.py); the inactive ones skip."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from music_platform.definitions import build_definitions
from music_platform.defs.shared.keys import TRACK_IDENTITY
from music_platform.lib.sources.selection import (
    ListensSource,
    Provider,
    SourceSelection,
    select_sources,
)
from music_platform.settings import SettingsError, get_settings
from music_platform_tests.support.platform_env import applied, platform_environment, run_cli

LASTFM = {"LASTFM_API_KEY": "k", "LASTFM_USERS": "alice, bob"}
SPOTIFY = {"SPOTIFY_CLIENT_ID": "id", "SPOTIFY_CLIENT_SECRET": "secret"}
# Whatever the developer's shell or .env holds, these tests start from nothing set.
UNSET = {
    name: ""
    for name in (
        "MUSIC_PLATFORM_SOURCE",
        "LASTFM_API_KEY",
        "LASTFM_USERS",
        "LASTFM_SCROBBLES_FILE",
        "LISTEN_EVENTS_FILE",
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "KAGGLE_TRACKS_CSV",
        "TIDYTUESDAY_SONGS_CSV",
    )
}


def _select(tmp_path: Path, **variables: str):
    with applied(platform_environment(tmp_path / "home", **{**UNSET, **variables})):
        return select_sources(get_settings())


def _active(selection: SourceSelection) -> set[Provider]:
    """The providers whose assets land data in this selection (the others skip)."""
    return {provider for provider in Provider if selection.skip_reason(provider) is None}


def test_without_keys_or_files_everything_is_synthetic(tmp_path: Path) -> None:
    selection = _select(tmp_path)
    assert selection.listens is ListensSource.SYNTHETIC
    assert selection.catalogue == "synthetic"
    assert _active(selection) == {Provider.SYNTHETIC}
    assert "needs LASTFM_API_KEY and LASTFM_USERS" in (selection.skip_reason(Provider.LASTFM) or "")


def test_auto_picks_live_per_source_where_keys_are_set(tmp_path: Path) -> None:
    lastfm_only = _select(tmp_path, **LASTFM)
    assert lastfm_only.listens is ListensSource.LASTFM and not lastfm_only.spotify
    both = _select(tmp_path, **LASTFM, **SPOTIFY)
    assert both.spotify and both.catalogue == "reconciled"
    assert _active(both) == {Provider.LASTFM, Provider.SPOTIFY, Provider.IDENTITY}


def test_spotify_keys_alone_do_not_resolve_synthetic_listening(tmp_path: Path) -> None:
    selection = _select(tmp_path, **SPOTIFY)
    assert selection.synthetic and not selection.spotify


def test_a_key_without_users_falls_back_and_says_why(tmp_path: Path) -> None:
    scrobbles = tmp_path / "scrobbles.tsv"
    scrobbles.write_text("")
    selection = _select(tmp_path, LASTFM_API_KEY="k", LASTFM_SCROBBLES_FILE=str(scrobbles))
    assert selection.listens is ListensSource.LASTFM_FILE
    assert "LASTFM_USERS is empty" in selection.as_metadata()["why"]
    assert Provider.LASTFM_FILE in _active(selection)


def test_forcing_synthetic_ignores_every_key(tmp_path: Path) -> None:
    selection = _select(tmp_path, MUSIC_PLATFORM_SOURCE="synthetic", **LASTFM, **SPOTIFY)
    assert selection.synthetic and not selection.spotify and not selection.kaggle_download


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, ["LASTFM_API_KEY", "LASTFM_USERS", "SPOTIFY_CLIENT_ID"]),
        (LASTFM, ["SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"]),
    ],
)
def test_forcing_live_names_the_missing_keys(
    tmp_path: Path, variables: dict, named: list[str]
) -> None:
    with pytest.raises(SettingsError) as error:
        _select(tmp_path, MUSIC_PLATFORM_SOURCE="live", **variables)
    assert all(name in str(error.value) for name in named)


def test_forcing_files_needs_a_scrobbles_file_that_exists(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="needs LASTFM_SCROBBLES_FILE"):
        _select(tmp_path, MUSIC_PLATFORM_SOURCE="files")
    with pytest.raises(SettingsError, match="does not exist"):
        _select(tmp_path, MUSIC_PLATFORM_SOURCE="files", LASTFM_SCROBBLES_FILE="/no/such.tsv")


def test_files_take_listens_from_an_events_file_first_then_dropped_jsonl(
    tmp_path: Path,
) -> None:
    scrobbles, events = tmp_path / "scrobbles.tsv", tmp_path / "events.jsonl"
    scrobbles.write_text("")
    events.write_text("")
    both = _select(
        tmp_path,
        MUSIC_PLATFORM_SOURCE="files",
        LASTFM_SCROBBLES_FILE=str(scrobbles),
        LISTEN_EVENTS_FILE=str(events),
    )
    assert both.listens is ListensSource.EVENTS_FILE
    assert "LASTFM_SCROBBLES_FILE is not read" in both.as_metadata()["why"]
    assert Provider.EVENTS_FILE in _active(both)
    assert Provider.LASTFM_FILE not in _active(both)
    with pytest.raises(SettingsError, match=r"LISTEN_EVENTS_FILE=/no/such.jsonl does not exist"):
        _select(tmp_path, MUSIC_PLATFORM_SOURCE="files", LISTEN_EVENTS_FILE="/no/such.jsonl")

    external = tmp_path / "home" / "external"
    external.mkdir(parents=True)
    (external / "listening.jsonl").write_text("")
    dropped = _select(tmp_path, MUSIC_PLATFORM_SOURCE="files")
    assert dropped.listens is ListensSource.EVENTS_FILE
    assert "events in the external folder" in dropped.as_metadata()["why"]
    # auto: a dropped events file is real listening too
    assert _select(tmp_path).listens is ListensSource.EVENTS_FILE


def test_an_unknown_mode_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MUSIC_PLATFORM_SOURCE"):
        _select(tmp_path, MUSIC_PLATFORM_SOURCE="kafka")


def test_run_source_live_without_keys_is_a_one_line_error(tmp_path: Path) -> None:
    env = platform_environment(tmp_path / "home", **UNSET)
    completed = run_cli("run", "--source", "live", env=env, cwd=tmp_path)
    assert completed.returncode == 2
    assert "MUSIC_PLATFORM_SOURCE=live needs LASTFM_API_KEY" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_every_source_asset_meets_the_platform_conventions(tmp_path: Path) -> None:
    with applied(platform_environment(tmp_path / "home", **UNSET)):
        defs = build_definitions(get_settings())
    graph = defs.resolve_asset_graph()
    raw = [key for key in graph.materializable_asset_keys if key.path[0] == "raw"]
    for key in [*raw, TRACK_IDENTITY]:
        node = graph.get(key)
        assert node.description and node.freshness_policy, key
        assert node.group_name in {"raw", "staging"}, key
    blocking = {
        spec.asset_key
        for a in defs.assets or []
        if isinstance(a, dg.AssetsDefinition)
        for spec in a.check_specs
        if spec.blocking and spec.asset_key in raw
    }
    assert len(blocking) >= 3
