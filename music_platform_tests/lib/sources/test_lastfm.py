"""Last.fm through pylast against the TLS loopback fake."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from xml.dom import minidom

import pytest

from music_platform.lib.source_errors import (
    CredentialsRejectedError,
    IncompleteResultError,
    MalformedResponseError,
    SourceUnavailableError,
)
from music_platform.lib.sources.lastfm import (
    LastfmClient,
    LastfmError,
    LastfmSettings,
    day_bounds,
    element_to_item,
    fetch_day,
)
from music_platform.lib.sources.ratelimit import TokenBucket
from music_platform.lib.sources.records import raw_item
from music_platform_tests.support import lastfm_fake
from music_platform_tests.support.lastfm_fake import FakeLastfm, Fault
from music_platform_tests.support.loopback import LoopbackServer

DAY = date(2024, 3, 1)
MIDNIGHT = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())


def _listen_all_day(fake: FakeLastfm, user: str, count: int) -> list[dict]:
    spacing = 86_399 // max(count - 1, 1)
    items = [
        lastfm_fake.scrobble(f"Artist {i % 7}", f"Song {i}", MIDNIGHT + i * spacing, album="LP")
        for i in range(count)
    ]
    fake.scrobbles.setdefault(user, []).extend(items)
    return items


def test_day_bounds_are_inclusive_midnight_to_one_second_before_next() -> None:
    assert day_bounds(DAY) == (MIDNIGHT, MIDNIGHT + 86_400 - 1)


def test_element_to_item_follows_lastfms_json_shape() -> None:
    xml = (
        '<track nowplaying="true"><artist mbid="m1">A</artist><name>T</name>'
        '<image size="small">s</image><image size="large"></image><mbid></mbid></track>'
    )
    element = minidom.parseString(xml).documentElement
    assert element_to_item(element) == {
        "@attr": {"nowplaying": "true"},
        "artist": {"mbid": "m1", "#text": "A"},
        "name": "T",
        "image": [{"size": "small", "#text": "s"}, {"size": "large", "#text": ""}],
        "mbid": "",
    }


def test_every_page_of_a_day_lands_raw_without_now_playing_or_other_days(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient
) -> None:
    items = _listen_all_day(fake_lastfm, "alice", 450)
    fake_lastfm.scrobbles["alice"] += [
        lastfm_fake.scrobble("Early", "Before", MIDNIGHT - 1),
        lastfm_fake.scrobble("Late", "Next day", MIDNIGHT + 86_400),
    ]
    fake_lastfm.now_playing["alice"] = lastfm_fake.now_playing("Playing", "Now")

    scrobbles = lastfm_client.recent_tracks("alice", DAY)

    pages = [c["page"] for c in fake_lastfm.calls("user.getRecentTracks")]
    assert pages == ["1", "2", "3"]
    assert [raw_item(s) for s in scrobbles] == items  # unchanged, oldest first
    first = scrobbles[0]
    assert first["_source"] == "lastfm"
    assert datetime.fromisoformat(first["_fetched_at"]).utcoffset().total_seconds() == 0
    assert first["_request"]["method"] == "user.getRecentTracks"
    assert first["_request"]["params"]["from"] == str(MIDNIGHT)
    assert first["_request"]["params"]["to"] == str(MIDNIGHT + 86_399)
    assert all("api_key" not in s["_request"]["params"] for s in scrobbles)


def test_a_day_without_scrobbles_is_empty(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient
) -> None:
    fake_lastfm.scrobbles["quiet"] = []
    fake_lastfm.now_playing["quiet"] = lastfm_fake.now_playing("Someone", "Something")
    assert lastfm_client.recent_tracks("quiet", DAY) == []
    assert len(fake_lastfm.calls("user.getRecentTracks")) == 1


def test_unicode_names_survive_the_round_trip(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient
) -> None:
    names = [
        ("坂本龍一", "戦場のメリークリスマス"),
        ("Beyoncé", "Déjà Vu"),
        ("Sigur Rós", "Hoppípolla"),
    ]
    fake_lastfm.scrobbles["ユーザー"] = [
        lastfm_fake.scrobble(artist, title, MIDNIGHT + n * 60)
        for n, (artist, title) in enumerate(names)
    ]
    fake_lastfm.artists["坂本龍一"] = lastfm_fake.artist_info("坂本龍一", tags=("ambient", "日本"))

    scrobbles = lastfm_client.recent_tracks("ユーザー", DAY)
    info = lastfm_client.artist_info("坂本龍一")

    assert [(s["artist"]["#text"], s["name"]) for s in scrobbles] == names
    assert info is not None
    assert [t["name"] for t in info["tags"]["tag"]] == ["ambient", "日本"]


def test_fetch_day_collects_top_artists_info_and_top_tags(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient
) -> None:
    fake_lastfm.scrobbles["bob"] = [
        lastfm_fake.scrobble("Robyn", "Dancing On My Own", MIDNIGHT + 10),
        lastfm_fake.scrobble("Robyn", "Dancing On My Own", MIDNIGHT + 400),
        lastfm_fake.scrobble("Unknown Band", "Demo", MIDNIGHT + 900),
    ]
    fake_lastfm.top_artists["bob"] = [
        {"name": "Robyn", "playcount": "99", "mbid": "", "url": "https://www.last.fm/music/Robyn"}
    ]
    fake_lastfm.artists["Robyn"] = lastfm_fake.artist_info("Robyn", tags=("pop", "electropop"))
    fake_lastfm.artist_tags["Robyn"] = {"pop": 100, "swedish": 61}
    fake_lastfm.tracks[("Robyn", "Dancing On My Own")] = lastfm_fake.track_info(
        "Robyn", "Dancing On My Own", duration_ms=288_000
    )
    fake_lastfm.track_tags[("Robyn", "Dancing On My Own")] = {"electropop": 100, "sad": 40}

    day = fetch_day(lastfm_client, "bob", DAY)

    assert len(day.scrobbles) == 3
    assert [a["@attr"]["rank"] for a in day.top_artists] == ["1"]
    assert [a["name"] for a in day.artist_info] == ["Robyn"]
    assert day.artist_top_tags[0]["@attr"] == {"artist": "Robyn"}
    assert [t["count"] for t in day.artist_top_tags[0]["tag"]] == ["100", "61"]
    assert day.track_info[0]["duration"] == "288000"
    assert [t["name"] for t in day.track_top_tags[0]["tag"]] == ["electropop", "sad"]
    assert {"lookup": "artist_info", "artist": "Unknown Band"} in day.not_found
    assert len(fake_lastfm.calls("track.getInfo")) == 2  # one per distinct track


def test_refetching_a_day_gives_the_same_records_without_duplicates(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient
) -> None:
    _listen_all_day(fake_lastfm, "carol", 250)
    fake_lastfm.scrobbles["carol"].append(fake_lastfm.scrobbles["carol"][5])  # served twice

    def without_fetch_time(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "_fetched_at"} for r in records]

    first = lastfm_client.recent_tracks("carol", DAY)
    second = lastfm_client.recent_tracks("carol", DAY)
    assert without_fetch_time(first) == without_fetch_time(second)
    assert len(first) == 250


@pytest.mark.parametrize("code", [29, 8, 11, 16])
def test_transient_errors_are_retried_with_backoff(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient, sleeps: list, code: int
) -> None:
    _listen_all_day(fake_lastfm, "dave", 3)
    fake_lastfm.fail("user.getRecentTracks", Fault(error=code), Fault(error=code))

    assert len(lastfm_client.recent_tracks("dave", DAY)) == 3
    assert len(fake_lastfm.calls("user.getRecentTracks")) == 3
    assert sleeps == [0.5, 1.0]


def test_http_5xx_is_retried(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient, sleeps: list
) -> None:
    _listen_all_day(fake_lastfm, "erin", 3)
    fake_lastfm.fail("user.getRecentTracks", Fault(http_status=503), Fault(http_status=502))
    assert len(lastfm_client.recent_tracks("erin", DAY)) == 3
    assert len(sleeps) == 2


def test_rate_limit_past_the_budget_fails_the_whole_day_naming_method_user_and_day(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient, sleeps: list
) -> None:
    _listen_all_day(fake_lastfm, "frank", 300)
    # Page 1 passes, page 2 keeps failing: no half day comes back.
    fake_lastfm.fail("user.getRecentTracks", Fault(), *[Fault(error=29)] * 10)

    with pytest.raises(SourceUnavailableError) as failure:
        lastfm_client.recent_tracks("frank", DAY)

    message = str(failure.value)
    assert "user.getRecentTracks" in message
    assert "'frank'" in message
    assert "2024-03-01" in message
    assert len(fake_lastfm.calls("user.getRecentTracks")) == 1 + 4  # page 1, then 4 attempts
    assert sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("code", [10, 26])
def test_key_errors_stop_at_once_without_printing_the_key(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient, sleeps: list, code: int
) -> None:
    _listen_all_day(fake_lastfm, "gina", 3)
    fake_lastfm.fail("user.getRecentTracks", Fault(error=code))

    with pytest.raises(CredentialsRejectedError) as failure:
        lastfm_client.recent_tracks("gina", DAY)

    assert "API key" in str(failure.value)
    assert lastfm_fake.API_KEY not in str(failure.value)
    assert failure.value.__cause__ is None
    assert len(fake_lastfm.calls("user.getRecentTracks")) == 1
    assert sleeps == []


def test_a_wrong_key_is_reported_as_a_key_error(
    lastfm_settings: LastfmSettings, fake_lastfm: FakeLastfm, tmp_path
) -> None:
    fake_lastfm.scrobbles["hana"] = []
    settings = LastfmSettings(
        api_key="not-the-key", api_root=lastfm_settings.api_root, ca_file=lastfm_settings.ca_file
    )
    client = LastfmClient(settings, dump_dir=tmp_path)
    with pytest.raises(CredentialsRejectedError, match="LASTFM_API_KEY") as failure:
        client.recent_tracks("hana", DAY)
    assert "not-the-key" not in str(failure.value)


def test_a_truncated_body_fails_and_is_kept_for_inspection(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient, tmp_path
) -> None:
    _listen_all_day(fake_lastfm, "ivan", 5)
    fake_lastfm.fail("user.getRecentTracks", Fault(truncate=True))

    with pytest.raises(MalformedResponseError) as failure:
        lastfm_client.recent_tracks("ivan", DAY)

    kept = failure.value.body_path
    assert kept.parent == tmp_path / "bodies"
    assert str(kept) in str(failure.value)
    body = kept.read_text()
    assert body.startswith('<?xml version="1.0"')
    assert "</lfm>" not in body


def test_other_api_errors_are_not_retried(
    fake_lastfm: FakeLastfm, lastfm_client: LastfmClient, sleeps: list
) -> None:
    with pytest.raises(LastfmError, match="error 6") as failure:
        lastfm_client.recent_tracks("nobody", DAY)
    assert failure.value.code == "6"
    assert sleeps == []


def test_settings_come_from_the_environment_and_hide_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LASTFM_API_KEY", "k-123")
    monkeypatch.setenv("LASTFM_API_SECRET", "s-456")
    monkeypatch.setenv("LASTFM_API_ROOT", "https://127.0.0.1:9/2.0/")
    settings = LastfmSettings.from_env()
    assert (settings.api_key, settings.api_root) == ("k-123", "https://127.0.0.1:9/2.0/")
    assert "k-123" not in repr(settings)
    assert "s-456" not in repr(settings)
    monkeypatch.delenv("LASTFM_API_ROOT")
    assert LastfmSettings.from_env().api_root == "https://ws.audioscrobbler.com/2.0/"


class ScrobblingWhilePaging(FakeLastfm):
    """A user who scrobbles into the day while it is being paged (clock skew, late scrobbles)."""

    def _recent_tracks(self, params: dict[str, str]):
        answer = super()._recent_tracks(params)
        self.scrobbles[params["user"]].append(lastfm_fake.scrobble("Late", "Arrival", MIDNIGHT + 5))
        return answer


def test_a_day_that_changes_while_paging_fails_instead_of_landing_half(
    lastfm_settings: LastfmSettings, certificates, tmp_path
) -> None:
    fake = ScrobblingWhilePaging()
    _listen_all_day(fake, "jo", 250)
    with LoopbackServer(fake, tls=certificates.server_context) as server:
        settings = replace(lastfm_settings, api_root=f"{server.url}/2.0/")
        client = LastfmClient(settings, dump_dir=tmp_path, limiter=TokenBucket.unlimited())
        with pytest.raises(IncompleteResultError, match="changed while paging"):
            client.recent_tracks("jo", DAY)
