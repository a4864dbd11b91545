"""The recommendation service over real HTTP: answers with reasons, and clear 4xx for bad input."""

from __future__ import annotations

from pathlib import Path

import httpx
import polars as pl

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform_tests.support.synthetic_world import promote_model


def test_known_user_gets_explained_recommendations(
    client: httpx.Client, world: tuple[InteractionMatrix, pl.DataFrame]
) -> None:
    interactions, _ = world
    user = str(interactions.user_ids[0])
    answer = client.get(f"/users/{user}/recommendations", params={"k": 5}).json()
    assert answer["cold_start"] is False
    assert len(answer["tracks"]) == 5
    heard = set(interactions.item_ids[interactions.matrix[0].indices].astype(str))
    for track in answer["tracks"]:
        assert track["track_id"] not in heard, "recommendations exclude what the user played"
        assert track["track_name"] and track["artist_name"]
        assert track["reason"].startswith("because you listened to")


def test_unknown_user_gets_a_cold_start_answer(client: httpx.Client) -> None:
    answer = client.get("/users/nobody-yet/recommendations", params={"k": 3}).json()
    assert answer["cold_start"] is True
    assert len(answer["tracks"]) == 3
    assert "most played" in answer["tracks"][0]["reason"]


def test_cold_start_by_genre(client: httpx.Client, world) -> None:
    genre = world[1]["genre"].drop_nulls()[0]
    answer = client.get("/users/nobody-yet/recommendations", params={"k": 3, "genre": genre}).json()
    assert {track["genre"] for track in answer["tracks"]} == {genre}


def test_similar_tracks_and_artists_say_why(client: httpx.Client, world) -> None:
    interactions, catalogue = world
    track_id = str(interactions.item_ids[0])
    similar = client.get(f"/tracks/{track_id}/similar", params={"k": 4}).json()["tracks"]
    assert len(similar) == 4 and track_id not in {t["track_id"] for t in similar}
    assert "listeners" in similar[0]["reason"]
    artist_name = catalogue.filter(pl.col("track_id") == track_id)["artist_name"][0]
    artists = client.get(f"/artists/{artist_name}/similar", params={"k": 3}).json()
    assert artists["artists"] and "in common" in artists["artists"][0]["reason"]


def test_genre_top_and_artist_lookup(client: httpx.Client, world) -> None:
    catalogue = world[1]
    genre = catalogue["genre"].drop_nulls()[0]
    top = client.get(f"/genres/{genre}/top", params={"k": 5}).json()["tracks"]
    assert top and {t["genre"] for t in top} == {genre}
    artist = catalogue["artist_name"][0]
    tracks = client.get(f"/artists/{artist.upper()}/tracks").json()["tracks"]
    expected = set(catalogue.filter(pl.col("artist_name") == artist)["track_id"])
    assert tracks and {t["track_id"] for t in tracks} <= expected
    track = client.get(f"/tracks/{tracks[0]['track_id']}").json()
    assert track["artist_name"] == artist and track["source_name"] == "synthetic"


def test_bad_input_gets_a_4xx_with_a_reason(client: httpx.Client) -> None:
    too_many = client.get("/users/u1/recommendations", params={"k": 0})
    assert too_many.status_code == 422
    assert "k" in str(too_many.json()["detail"])
    unknown_track = client.get("/tracks/no-such-track/similar")
    assert unknown_track.status_code == 404
    assert "no-such-track" in unknown_track.json()["detail"]
    assert client.get("/genres/no-such-genre/top").status_code == 404
    assert client.get("/artists/Nobody%20At%20All/tracks").status_code == 404


def test_newly_promoted_model_is_served_without_restart(
    client: httpx.Client, models_dir: Path, world
) -> None:
    before = client.get("/health").json()["model_version"]
    after_version = promote_model(models_dir, world)
    assert after_version != before
    assert client.get("/health").json()["model_version"] == after_version


def test_no_promoted_model_is_a_503(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from music_platform.serving.api import create_app

    response = TestClient(create_app(tmp_path)).get("/users/u1/recommendations")
    assert response.status_code == 503
    assert "music-platform run" in response.json()["detail"]
