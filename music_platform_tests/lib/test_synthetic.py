"""The synthetic source: deterministic, on contract, and realistic enough to learn from."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from music_platform.lib.schemas import ARTISTS, LISTENS, TRACKS, USERS, TableContract
from music_platform.lib.synthetic import (
    GENRES,
    Catalogue,
    SyntheticConfig,
    generate_catalogue,
    generate_listens,
    generate_users,
)

CONFIG = SyntheticConfig(seed=7, users=200, artists=200, tracks=2000, events_per_day=8000)
AS_OF = date(2026, 3, 1)
DAY = date(2026, 3, 2)  # a Monday
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return generate_catalogue(CONFIG)


@pytest.fixture(scope="module")
def users() -> pl.DataFrame:
    return generate_users(CONFIG, as_of=AS_OF)


@pytest.fixture(scope="module")
def listens(catalogue: Catalogue, users: pl.DataFrame) -> pl.DataFrame:
    return generate_listens(CONFIG, DAY, catalogue, users)


@pytest.fixture(scope="module")
def enriched(listens: pl.DataFrame, catalogue: Catalogue) -> pl.DataFrame:
    """Listens with their track's artist, genre and duration, in each user's time order."""
    track_facts = catalogue.tracks.select("track_id", "artist_id", "genre", "duration_ms")
    return listens.join(track_facts, on="track_id").sort("user_id", "listened_at")


def _assert_on_contract(frame: pl.DataFrame, contract: TableContract) -> None:
    assert frame.schema == pl.Schema(contract.columns)


# --- determinism ------------------------------------------------------------------------------


def test_same_config_gives_identical_frames(
    catalogue: Catalogue, users: pl.DataFrame, listens: pl.DataFrame
) -> None:
    again = generate_catalogue(CONFIG)
    assert_frame_equal(again.artists, catalogue.artists)
    assert_frame_equal(again.tracks, catalogue.tracks)
    assert_frame_equal(generate_users(CONFIG, as_of=AS_OF), users)
    assert_frame_equal(generate_listens(CONFIG, DAY, again, users), listens)


def test_another_seed_gives_another_world(catalogue: Catalogue) -> None:
    other = generate_catalogue(SyntheticConfig(seed=8, users=200, artists=200, tracks=2000))
    assert not other.tracks["track_id"].is_in(catalogue.tracks["track_id"].implode()).any()
    assert other.artists["artist_name"].to_list() != catalogue.artists["artist_name"].to_list()


def test_a_day_does_not_depend_on_other_days(
    catalogue: Catalogue, users: pl.DataFrame, listens: pl.DataFrame
) -> None:
    generate_listens(CONFIG, DAY + timedelta(days=1), catalogue, users)
    assert_frame_equal(generate_listens(CONFIG, DAY, catalogue, users), listens)
    yesterday = generate_listens(CONFIG, DAY - timedelta(days=1), catalogue, users)
    assert yesterday.height != listens.height
    assert not yesterday["event_id"].is_in(listens["event_id"].implode()).any()


def test_users_are_stable_across_snapshot_dates(users: pl.DataFrame) -> None:
    assert_frame_equal(generate_users(CONFIG, as_of=AS_OF + timedelta(days=90)), users)


# --- contract and keys ------------------------------------------------------------------------


def test_frames_match_their_contracts(
    catalogue: Catalogue, users: pl.DataFrame, listens: pl.DataFrame
) -> None:
    _assert_on_contract(catalogue.artists, ARTISTS)
    _assert_on_contract(catalogue.tracks, TRACKS)
    _assert_on_contract(users, USERS)
    _assert_on_contract(listens, LISTENS)
    assert catalogue.artists.height == CONFIG.artists
    assert catalogue.tracks.height == CONFIG.tracks
    assert users.height == CONFIG.users


def test_keys_and_names_are_unique(
    catalogue: Catalogue, users: pl.DataFrame, listens: pl.DataFrame
) -> None:
    for frame, columns in (
        (catalogue.artists, ["artist_id", "artist_name"]),
        (catalogue.tracks, ["track_id"]),
        (users, ["user_id", "username"]),
        (listens, ["event_id"]),
    ):
        for column in columns:
            assert frame[column].null_count() == 0, column
            assert frame[column].is_unique().all(), column


def test_ids_look_like_the_real_ones(
    catalogue: Catalogue, users: pl.DataFrame, listens: pl.DataFrame
) -> None:
    assert catalogue.tracks["track_id"].str.contains(r"^[0-9A-Za-z]{22}$").all()
    assert catalogue.tracks["album_id"].str.contains(r"^[0-9A-Za-z]{22}$").all()
    assert catalogue.artists["artist_id"].str.contains(r"^[0-9A-Za-z]{22}$").all()
    assert users["user_id"].str.contains(r"^u\d{6}$").all()
    assert listens["event_id"].str.contains(UUID).all()
    for mbids in (catalogue.artists["artist_mbid"], catalogue.tracks["track_mbid"]):
        assert 0.5 < 1 - mbids.null_count() / len(mbids) < 0.7
        assert mbids.drop_nulls().str.contains(UUID).all()
        assert mbids.drop_nulls().str.slice(14, 1).eq("4").all()  # uuid4, like MusicBrainz


def test_event_ids_are_unique_across_days(catalogue: Catalogue, users: pl.DataFrame) -> None:
    days = [DAY + timedelta(days=offset) for offset in range(4)]
    event_ids = pl.concat([generate_listens(CONFIG, d, catalogue, users) for d in days])["event_id"]
    assert event_ids.is_unique().all()


def test_every_reference_resolves(
    catalogue: Catalogue, users: pl.DataFrame, listens: pl.DataFrame
) -> None:
    assert listens["track_id"].is_in(catalogue.tracks["track_id"].implode()).all()
    assert listens["user_id"].is_in(users["user_id"].implode()).all()
    assert catalogue.tracks["artist_id"].is_in(catalogue.artists["artist_id"].implode()).all()
    # Every artist has a track, and a track's genre is one of its artist's genres.
    assert catalogue.artists["artist_id"].is_in(catalogue.tracks["artist_id"].implode()).all()
    genre_listed = catalogue.tracks.join(catalogue.artists, on="artist_id").select(
        pl.col("genres").str.split(";").list.contains(pl.col("genre")).all()
    )
    assert genre_listed.item()


# --- value ranges -----------------------------------------------------------------------------


def test_catalogue_values_are_in_their_real_ranges(catalogue: Catalogue) -> None:
    tracks, artists = catalogue.tracks, catalogue.artists
    unit_features = [
        "danceability",
        "energy",
        "speechiness",
        "acousticness",
        "instrumentalness",
        "liveness",
        "valence",
    ]
    for column in unit_features:
        assert tracks[column].is_between(0.0, 1.0).all(), column
    assert tracks["loudness"].is_between(-60.0, 0.0).all()
    assert tracks["tempo"].is_between(50.0, 220.0).all()
    assert tracks["key"].is_between(-1, 11).all()
    assert set(tracks["mode"].unique()) == {0, 1}
    assert tracks["time_signature"].is_between(3, 7).all()
    assert tracks["popularity"].is_between(0, 100).all()
    assert artists["popularity"].is_between(0, 100).all()
    assert 3.0 < tracks["duration_ms"].median() / 60_000 < 4.5
    assert tracks["release_date"].max() <= date(2025, 12, 31)
    assert tracks["genre"].is_in(GENRES).all()
    genre_counts = artists["genres"].str.split(";").list.len()
    assert genre_counts.is_between(1, 3).all()
    assert set(genre_counts.unique()) == {1, 2, 3}
    assert artists["country"].str.contains(r"^[A-Z]{2}$").all()
    assert artists["genres"].str.split(";").explode().is_in(GENRES).all()
    # Long-tailed fame: the biggest artists have orders of magnitude more followers.
    followers = artists["followers"]
    assert followers.max() > 100 * followers.median()
    # Tracks on the same album share the release date.
    assert tracks.group_by("album_id").agg(pl.col("release_date").n_unique() == 1)[:, 1].all()


def test_audio_features_follow_the_genre(catalogue: Catalogue) -> None:
    by_genre = catalogue.tracks.group_by("genre").agg(
        pl.col("energy", "acousticness", "instrumentalness", "speechiness", "tempo").mean()
    )
    mean = {row["genre"]: row for row in by_genre.iter_rows(named=True)}
    assert mean["classical"]["energy"] < 0.3 < 0.8 < mean["metal"]["energy"]
    assert mean["classical"]["acousticness"] > 0.8 > 0.2 > mean["metal"]["acousticness"]
    assert mean["classical"]["instrumentalness"] > mean["pop"]["instrumentalness"] + 0.4
    assert mean["hip hop"]["speechiness"] > 2 * mean["rock"]["speechiness"]
    assert mean["drum and bass"]["tempo"] > mean["hip hop"]["tempo"] + 50


def test_users_are_plausible(users: pl.DataFrame) -> None:
    assert (users["signup_date"] < AS_OF).all()
    assert users["birth_year"].is_between(1940, 2012).all()
    assert (users["birth_year"] <= users["signup_date"].dt.year() - 13).all()
    assert users["country"].str.contains(r"^[A-Z]{2}$").all()
    countries = users["country"].value_counts(sort=True)
    assert countries["country"][0] == "US"
    assert countries.height >= 15
    early = generate_users(CONFIG, as_of=date(2012, 5, 1))
    assert (early["signup_date"] < date(2012, 5, 1)).all()


def test_listens_fall_inside_their_day(listens: pl.DataFrame) -> None:
    midnight = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    assert (listens["listened_at"] >= midnight).all()
    assert (listens["listened_at"] < midnight + timedelta(days=1)).all()
    assert (listens["listen_date"] == DAY).all()
    assert listens["listened_at"].is_sorted()


def test_skips_play_part_of_the_track_and_the_rest_play_fully(enriched: pl.DataFrame) -> None:
    played, duration = enriched["ms_played"], enriched["duration_ms"]
    assert (played >= 1).all()
    assert (played <= duration).all()
    assert 0.2 < (played < duration).mean() < 0.3


# --- behaviour --------------------------------------------------------------------------------


def test_weekends_are_busier(catalogue: Catalogue, users: pl.DataFrame) -> None:
    counts = {
        day: generate_listens(CONFIG, day, catalogue, users).height
        for day in (DAY + timedelta(days=offset) for offset in range(14))
    }
    weekend = [count for day, count in counts.items() if day.weekday() >= 5]
    weekday = [count for day, count in counts.items() if day.weekday() < 5]
    ratio = (sum(weekend) / len(weekend)) / (sum(weekday) / len(weekday))
    assert 1.1 < ratio < 1.3
    assert 0.9 < sum(counts.values()) / len(counts) / CONFIG.events_per_day < 1.1


def test_listening_peaks_in_the_evening(catalogue: Catalogue, users: pl.DataFrame) -> None:
    # Everyone in one UTC+0 country, so UTC hours are local hours.
    londoners = users.with_columns(country=pl.lit("GB"))
    hours = generate_listens(CONFIG, DAY, catalogue, londoners)["listened_at"].dt.hour()
    evening = hours.is_between(18, 22).sum()
    small_hours = hours.is_between(2, 6).sum()
    assert evening > 3 * small_hours


def test_popularity_has_a_long_tail(listens: pl.DataFrame) -> None:
    plays = listens["track_id"].value_counts(sort=True)["count"]
    top_tenth = plays.head(CONFIG.tracks // 10).sum()
    assert top_tenth / listens.height > 0.4


def test_sessions_stay_with_an_artist_and_follow_track_lengths(enriched: pl.DataFrame) -> None:
    pairs = enriched.with_columns(
        next_at=pl.col("listened_at").shift(-1).over("user_id"),
        next_artist=pl.col("artist_id").shift(-1).over("user_id"),
        next_genre=pl.col("genre").shift(-1).over("user_id"),
    ).drop_nulls("next_at")
    gap = pairs["next_at"] - pairs["listened_at"]
    within_session = pairs.filter(gap < timedelta(minutes=30))
    assert within_session.height > 0.7 * pairs.height
    assert (within_session["next_artist"] == within_session["artist_id"]).mean() > 0.3
    assert (within_session["next_genre"] == within_session["genre"]).mean() > 0.45
    # The next track starts after the previous one stopped (sessions of one user rarely overlap).
    after_previous = gap >= pl.duration(milliseconds=pairs["ms_played"]).alias("played")
    assert pairs.select(after_previous.mean()).item() > 0.9


def _median_genre_distance(listens: pl.DataFrame) -> float:
    """Median total variation distance between a user's genre shares and the global ones."""
    global_share = listens.group_by("genre").agg(global_share=pl.len() / listens.height)
    per_user = (
        listens.group_by("user_id", "genre")
        .agg(plays=pl.len())
        .join(global_share, on="genre")
        .with_columns(share=pl.col("plays") / pl.col("plays").sum().over("user_id"))
        .group_by("user_id")
        # Total variation = 1 - the overlap of the two distributions.
        .agg(
            plays=pl.col("plays").sum(),
            distance=1 - pl.min_horizontal("share", "global_share").sum(),
        )
        .filter(pl.col("plays") >= 30)
    )
    assert per_user.height > 50
    return per_user["distance"].median()


def test_each_user_has_a_distinct_genre_taste(enriched: pl.DataFrame) -> None:
    # Shuffling users keeps the sampling noise of small samples but removes taste.
    tasteless = enriched.with_columns(pl.col("user_id").shuffle(seed=1))
    distance = _median_genre_distance(enriched)
    assert distance > 0.5
    assert distance > 2 * _median_genre_distance(tasteless)


def test_history_predicts_held_out_listens_better_than_popularity(
    catalogue: Catalogue, users: pl.DataFrame
) -> None:
    history = pl.concat(
        [
            generate_listens(CONFIG, DAY + timedelta(days=offset), catalogue, users)
            for offset in (0, 1)
        ]
    )
    held_out = generate_listens(CONFIG, DAY + timedelta(days=2), catalogue, users)
    top = 20
    personal = (
        history.group_by("user_id", "track_id")
        .len()
        .sort(["user_id", "len", "track_id"], descending=[False, True, False])
        .group_by("user_id", maintain_order=True)
        .head(top)
    )
    popular = history["track_id"].value_counts(sort=True)["track_id"].head(top)
    personal_hits = held_out.join(personal, on=["user_id", "track_id"], how="semi").height
    popular_hits = held_out["track_id"].is_in(popular.implode()).sum()
    assert personal_hits > 2 * popular_hits


@pytest.mark.slow
def test_a_million_listens_keep_every_invariant() -> None:
    config = SyntheticConfig(users=20_000, artists=5000, tracks=50_000, events_per_day=1_000_000)
    catalogue = generate_catalogue(config)
    users = generate_users(config, as_of=AS_OF)
    listens = generate_listens(config, DAY, catalogue, users)
    _assert_on_contract(listens, LISTENS)
    assert 900_000 < listens.height < 1_100_000
    assert listens["event_id"].is_unique().all()
    assert catalogue.artists["artist_name"].is_unique().all()
    assert catalogue.tracks["track_id"].is_unique().all()
    assert listens["track_id"].is_in(catalogue.tracks["track_id"].implode()).all()
    assert (listens["listened_at"].dt.date() == DAY).all()


def test_config_needs_a_track_per_artist() -> None:
    with pytest.raises(ValueError, match="tracks must be >= artists"):
        SyntheticConfig(artists=10, tracks=5)
