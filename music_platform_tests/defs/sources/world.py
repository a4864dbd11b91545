"""A small real-looking listening world served by the API fakes, the environment that points the
platform at them, and an in-process run of the source and staging assets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import cycle, islice
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from music_platform.lib.raw_files import raw_path
from music_platform_tests.support import kaggle_fake, lastfm_fake, spotify_fake
from music_platform_tests.support.loopback import LoopbackServer
from music_platform_tests.support.platform_env import applied, platform_environment

DAY = "2024-03-01"
EMPTY_DAY = "2024-03-02"
MIDNIGHT = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
USERS = ("alice", "ユーザー", "quiet")
ALICE_SCROBBLES = 450  # three pages of 200

# (artist, title, Spotify track id or None, Last.fm duration or None)
LOVERMAN = ("Ricky Montgomery", "Mr Loverman", "2IVsRhKrx8hlQBOWy4qebo", 246_880)
SAKAMOTO = ("坂本龍一", "戦場のメリークリスマス", "1HNkqx9Ahdgi1Ixy2xkKkL", 275_000)
BEYONCE = ("Beyoncé", "Déjà Vu", "4LBYmIgEdJ8Gz5ZGQzYRgN", 240_000)
SIGUR_ROS = ("Sigur Rós", "Hoppípolla", "6eTGxxQxiTFE6LfZHC33Wm", 268_000)
KAGGLE_ONLY = ("Gen Hoshino", "Comedy", None, 230_666)
LASTFM_ONLY = ("Obscure Band", "Basement Tape", None, 181_000)
NOBODY_KNOWS = ("Nobody Knows", "Lost Song", None, None)
SPOTIFY_DURATIONS = {LOVERMAN[2]: 216_880, SAKAMOTO[2]: 275_000, BEYONCE[2]: 240_500}
ALICE_TRACKS = (LOVERMAN, KAGGLE_ONLY, LASTFM_ONLY, NOBODY_KNOWS, BEYONCE)
UNICODE_TRACKS = (SAKAMOTO, BEYONCE, SIGUR_ROS)
HEARD = (*ALICE_TRACKS, SAKAMOTO, SIGUR_ROS)

KAGGLE_ROWS = [
    (LOVERMAN[2], "Ricky Montgomery", "Montgomery Ricky", "Mr Loverman", 79, 216880, "FALSE",
     0.639, 0.526, 0, -6.697, 1, 0.0256, 0.245, "2.43e-5", 0.25, 0.488, 130.033, 3, "indie-pop"),
    ("5SuOikwiRyPMVoIQDJUgSV", "Gen Hoshino", "Comedy", "Comedy", 73, 230666, "False",
     0.676, 0.461, 1, -6.746, 0, 0.143, 0.0322, "1.01e-06", 0.358, 0.715, 87.917, 4, "acoustic"),
]  # fmt: skip


def populate_lastfm(fake: lastfm_fake.FakeLastfm) -> None:
    """alice: 450 scrobbles over the day (three pages) and a now-playing track; ユーザー: three
    unicode tracks; quiet: nothing. Last.fm knows every track but the last, one with an MBID."""
    alice = islice(cycle(ALICE_TRACKS), ALICE_SCROBBLES)
    fake.scrobbles["alice"] = [
        lastfm_fake.scrobble(artist, title, MIDNIGHT + 60 + n * 190, album="LP")
        for n, (artist, title, _, _) in enumerate(alice)
    ]
    fake.now_playing["alice"] = lastfm_fake.now_playing(*LOVERMAN[:2])
    fake.scrobbles["ユーザー"] = [
        lastfm_fake.scrobble(artist, title, MIDNIGHT + 3_600 * (n + 1), track_mbid=f"mbid-{n}")
        for n, (artist, title, _, _) in enumerate(UNICODE_TRACKS)
    ]
    fake.scrobbles["quiet"] = []
    fake.top_artists["alice"] = [lastfm_fake.artist_info(LOVERMAN[0])]
    for artist, title, _, duration in HEARD:
        if duration is None:
            continue
        fake.tracks[(artist, title)] = lastfm_fake.track_info(artist, title, duration_ms=duration)
        fake.track_tags[(artist, title)] = {"indie pop": 90, "pop": 40}
        fake.artists[artist] = lastfm_fake.artist_info(artist, mbid=f"mbid-{artist}")
        fake.artist_tags[artist] = {"indie": 100, "rock": 20}


def populate_spotify(fake: spotify_fake.FakeSpotify) -> None:
    for n, (artist, title, track_id, _) in enumerate((LOVERMAN, SAKAMOTO, BEYONCE, SIGUR_ROS)):
        artist_id = f"artist{n:017d}"
        duration = SPOTIFY_DURATIONS.get(track_id, 268_000)
        fake.add(
            spotify_fake.track(track_id, title, [(artist_id, artist)], duration_ms=duration),
            spotify_fake.artist(artist_id, artist, genres=("indie", "pop")),
            features=spotify_fake.audio_features(track_id, duration_ms=duration),
        )


def kaggle_csv(folder: Path) -> Path:
    path = folder / "kaggle-tracks.csv"
    path.write_bytes(kaggle_fake.tracks_csv(KAGGLE_ROWS))
    return path


def live_environment(
    home: Path,
    lastfm: LoopbackServer,
    spotify: LoopbackServer,
    ca_file: Path,
    **extra: str,
) -> dict[str, str]:
    """Every source live against the fakes, without rate limits or real waits."""
    return platform_environment(
        home,
        MUSIC_PLATFORM_SOURCE="live",
        LASTFM_API_KEY=lastfm_fake.API_KEY,
        LASTFM_API_SECRET=lastfm_fake.API_SECRET,
        LASTFM_API_ROOT=f"{lastfm.url}/2.0/",
        LASTFM_CA_FILE=str(ca_file),
        LASTFM_USERS=",".join(USERS),
        LASTFM_REQUESTS_PER_SECOND="inf",
        SPOTIFY_CLIENT_ID=spotify_fake.CLIENT_ID,
        SPOTIFY_CLIENT_SECRET=spotify_fake.CLIENT_SECRET,
        SPOTIFY_API_BASE=f"{spotify.url}/v1/",
        SPOTIFY_AUTH_URL=f"{spotify.url}/api/token",
        SPOTIFY_REQUESTS_PER_SECOND="inf",
        MUSIC_PLATFORM_API_RETRY_ATTEMPTS="2",
        MUSIC_PLATFORM_API_RETRY_INITIAL_WAIT_SECONDS="0.01",
        MUSIC_PLATFORM_SOURCE_RETRIES="0",
        **extra,
    )


@dataclass
class Outcome:
    """One in-process run, and what it left on disk."""

    result: dg.ExecuteInProcessResult
    home: Path

    @property
    def success(self) -> bool:
        return self.result.success

    def metadata(self, key: str) -> dict:
        events = [
            e
            for e in self.result.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey.from_user_string(key)
        ]
        assert events, f"{key} was not materialized"
        return {name: value.value for name, value in events[-1].materialization.metadata.items()}

    def partition_metadata(self, key: str) -> dict[str | None, dict]:
        """Each partition's own materialization metadata (a daily asset reports its figures per
        day), by partition key."""
        return {
            e.partition: {name: value.value for name, value in e.materialization.metadata.items()}
            for e in self.result.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey.from_user_string(key)
        }

    def summed(self, key: str, *figures: str) -> tuple[int, ...]:
        """`figures` added up over the asset's partitions."""
        days = self.partition_metadata(key).values()
        return tuple(sum(int(day[figure]) for day in days) for figure in figures)

    def check(self, key: str, name: str) -> dg.AssetCheckEvaluation:
        (evaluation,) = [
            e
            for e in self.result.get_asset_check_evaluations()
            if e.asset_key == dg.AssetKey.from_user_string(key) and e.check_name == name
        ]
        return evaluation

    def failure_messages(self) -> list[str]:
        """Each failed step's error, with its causes."""
        messages = []
        for event in self.result.all_events:
            if not event.is_step_failure:
                continue
            error, parts = event.step_failure_data.error, []
            while error is not None:
                parts.append(error.message.strip())
                error = error.cause
            messages.append(" <- ".join(parts))
        return messages

    def raw(self, source: str, entity: str, day: str | None = None) -> pl.DataFrame:
        return pl.read_parquet(raw_path(self.home / "raw", source, entity, day))

    def staged(self, sql: str) -> pl.DataFrame:
        with duckdb.connect(str(self.home / "staging.duckdb"), read_only=True) as staging:
            return staging.sql(sql).pl()


def run_sources(
    variables: dict[str, str], days: list[str], keys: list[str] | None = None
) -> Outcome:
    """Materialize every provider's raw assets and staging (or just `keys`) for `days`, in this
    process, with the resources `music-platform run` builds from the settings."""
    with applied(variables):
        from music_platform.defs.sources.definitions import defs as sources_defs
        from music_platform.defs.staging.definitions import defs as staging_defs
        from music_platform.resources import build_resources
        from music_platform.settings import get_settings

        settings = get_settings()
        settings.ensure_home()
        defs = dg.Definitions.merge(
            sources_defs, staging_defs, dg.Definitions(resources=build_resources(settings))
        )
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            tags={
                ASSET_PARTITION_RANGE_START_TAG: days[0],
                ASSET_PARTITION_RANGE_END_TAG: days[-1],
            },
            asset_selection=[dg.AssetKey.from_user_string(k) for k in keys] if keys else None,
            raise_on_error=False,
        )
        return Outcome(result=result, home=settings.home_dir)


def payload(frame: pl.DataFrame, row: int = 0) -> dict:
    return json.loads(frame["payload"][row])
