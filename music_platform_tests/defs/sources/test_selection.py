"""Which source feeds each entity, from the settings; forced modes say what they are missing."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from music_platform.defs.sources.definitions import build_defs
from music_platform.defs.sources.selection import ListensSource, select_sources
from music_platform.defs.staging.resources import StagingResource
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


def _defs(selection) -> dg.Definitions:
    """The source assets, with the staging resource their file screening records rejects in
    (Dagster refuses to resolve assets whose resources are missing)."""
    staging = StagingResource(backend="duckdb", duckdb_path="unused.duckdb")
    return dg.Definitions.merge(
        build_defs(selection), dg.Definitions(resources={"staging": staging})
    )


def _asset_keys(selection) -> set[str]:
    return {key.to_user_string() for key in _defs(selection).resolve_all_asset_keys()}


def test_without_keys_or_files_everything_is_synthetic(tmp_path: Path) -> None:
    selection = _select(tmp_path)
    assert selection.listens is ListensSource.SYNTHETIC
    assert selection.catalogue == "synthetic"
    assert _asset_keys(selection) == {
        "raw/kaggle/tracks",  # always defined: the file sensor targets it
        "raw/synthetic/artists",
        "raw/synthetic/tracks",
        "raw/synthetic/users",
        "raw/synthetic/listens",
    }


def test_auto_picks_live_per_source_where_keys_are_set(tmp_path: Path) -> None:
    lastfm_only = _select(tmp_path, **LASTFM)
    assert lastfm_only.listens is ListensSource.LASTFM and not lastfm_only.spotify
    both = _select(tmp_path, **LASTFM, **SPOTIFY)
    assert both.spotify and both.catalogue == "reconciled"
    assert {
        "raw/lastfm/scrobbles",
        "raw/lastfm/top_artists",
        "raw/lastfm/artist_info",
        "raw/lastfm/track_info",
        "raw/spotify/track_search",
        "raw/spotify/tracks",
        "raw/spotify/artists",
        "raw/spotify/audio_features",
        "raw/kaggle/tracks",
        "staging/track_identity",
    } == _asset_keys(both)


def test_spotify_keys_alone_do_not_resolve_synthetic_listening(tmp_path: Path) -> None:
    selection = _select(tmp_path, **SPOTIFY)
    assert selection.synthetic and not selection.spotify


def test_a_key_without_users_falls_back_and_says_why(tmp_path: Path) -> None:
    scrobbles = tmp_path / "scrobbles.tsv"
    scrobbles.write_text("")
    selection = _select(tmp_path, LASTFM_API_KEY="k", LASTFM_SCROBBLES_FILE=str(scrobbles))
    assert selection.listens is ListensSource.LASTFM_FILE
    assert "LASTFM_USERS is empty" in selection.as_metadata()["why"]
    assert "raw/lastfm_1k/scrobbles" in _asset_keys(selection)


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
    assert "raw/events_file/events" in _asset_keys(both)
    assert "raw/lastfm_1k/scrobbles" not in _asset_keys(both)
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
    scrobbles, events = tmp_path / "scrobbles.tsv", tmp_path / "events.jsonl"
    scrobbles.write_text("")
    events.write_text("")
    for variables in (
        {**LASTFM, **SPOTIFY, "TIDYTUESDAY_SONGS_CSV": "songs.csv"},
        {"LASTFM_SCROBBLES_FILE": str(scrobbles)},
        {"LISTEN_EVENTS_FILE": str(events)},
    ):
        defs = _defs(_select(tmp_path, **variables))
        graph = defs.resolve_asset_graph()
        for key in graph.materializable_asset_keys:
            node = graph.get(key)
            assert node.description and node.freshness_policy, key
            assert node.group_name in {"raw", "staging"}, key
        blocking = {
            spec.asset_key for a in defs.assets or [] for spec in a.check_specs if spec.blocking
        }
        assert len(blocking) >= 3
