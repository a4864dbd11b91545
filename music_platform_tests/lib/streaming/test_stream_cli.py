"""`music-platform stream status` and `produce` as a user runs them, against real brokers: status
tells no broker from a missing topic; produce refuses a world the staged catalogue does not know;
and events Debian's kcat produces to noida-db are staged, with the lag status shows equal to the
broker's end offsets minus the offsets the group committed there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from confluent_kafka import Consumer, TopicPartition

from music_platform.definitions import build_definitions
from music_platform.defs.shared.keys import (
    RAW_SYNTHETIC_ARTISTS,
    RAW_SYNTHETIC_TRACKS,
    RAW_SYNTHETIC_USERS,
    staging_key,
)
from music_platform.lib.events import LISTEN_EVENTS
from music_platform.lib.staging import DuckDBStagingStore
from music_platform.lib.streaming.kafka import stream_position
from music_platform.settings import KafkaSettings, get_settings
from music_platform_tests.lib.streaming.conftest import PARTITIONS
from music_platform_tests.support.loopback import free_port
from music_platform_tests.support.platform_env import applied, platform_environment, run_cli

KCAT = shutil.which("kcat")
CATALOGUE_SEED = 42


def cli_environment(home: Path, kafka: KafkaSettings) -> dict[str, str]:
    return platform_environment(
        home,
        SYNTHETIC_SEED=str(CATALOGUE_SEED),
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        KAFKA_TOPIC=kafka.topic,
        KAFKA_DEAD_LETTER_TOPIC=kafka.dead_letter_topic,
        KAFKA_CONSUMER_GROUP=kafka.consumer_group,
    )


def one_line(text: str) -> str:
    """Rich wraps messages at 80 columns when output is not a terminal."""
    return " ".join(text.split())


def test_stream_status_tells_no_broker_from_a_missing_topic(
    tmp_path: Path, kafka: KafkaSettings
) -> None:
    env = cli_environment(tmp_path / "home", kafka)
    missing = run_cli("stream", "status", env={**env, "KAFKA_TOPIC": "absent"}, cwd=tmp_path)
    assert missing.returncode == 2, missing.stderr
    assert (
        f"the Kafka broker at {kafka.bootstrap_servers} is up, but topic 'absent' does not exist"
        in one_line(missing.stderr)
    )
    assert "no events yet" in missing.stdout

    nowhere = f"127.0.0.1:{free_port()}"
    down = run_cli(
        "stream", "status", "--json", env={**env, "KAFKA_BOOTSTRAP_SERVERS": nowhere}, cwd=tmp_path
    )
    assert down.returncode == 2, down.stderr
    summary = json.loads(down.stdout)
    assert summary["error"].startswith(f"no Kafka broker at {nowhere}")
    assert (summary["staged_events"], summary["lag"], summary["partitions"]) == (0, None, [])
    # One line of error, not librdkafka's log of every failed connection.
    assert "rdkafka" not in down.stderr


def stage_catalogue(env: dict[str, str]) -> None:
    """The synthetic catalogue and users of SYNTHETIC_SEED, landed and staged by the platform's
    own assets."""
    with applied(env):
        defs = build_definitions(get_settings())
        keys = [RAW_SYNTHETIC_ARTISTS, RAW_SYNTHETIC_TRACKS, RAW_SYNTHETIC_USERS]
        keys += [staging_key(name) for name in ("artists", "tracks", "users")]
        run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), asset_selection=keys
        )
        assert run.success


# noida-db: Tansu's end offsets read 1 per partition after 300 events were sent in batches, so
# they cannot count what was sent.
@pytest.mark.parametrize("broker", ["noida"], indirect=True)
def test_produce_refuses_a_seed_whose_world_the_staged_catalogue_does_not_know(
    tmp_path: Path, kafka: KafkaSettings
) -> None:
    env = cli_environment(tmp_path / "home", kafka)
    stage_catalogue(env)

    refused = run_cli("stream", "produce", "--count", "300", "--seed", "9", env=env, cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = one_line(refused.stderr)
    assert "the staged catalogue does not know the world of seed 9 (--seed)" in message
    assert f"The catalogue was built with seed {CATALOGUE_SEED}" in message
    assert f"produce with --seed {CATALOGUE_SEED}" in message
    assert "--ignore-catalogue" in message
    assert sum(stream_position(kafka, {}).end_offsets.values()) == 0  # nothing was sent

    matching = run_cli("stream", "produce", "--count", "300", env=env, cwd=tmp_path)
    assert matching.returncode == 0, matching.stderr
    assert "warning" not in matching.stderr
    # Its output is a pipe, not a terminal: plain progress lines, no carriage returns.
    assert "\r" not in matching.stderr
    assert sum(stream_position(kafka, {}).end_offsets.values()) == 300

    forced = run_cli(
        "stream", "produce", "--count", "300", "--seed", "9", "--ignore-catalogue", "--rate", "0",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert "warning (--ignore-catalogue): the staged catalogue does not know" in one_line(
        forced.stderr
    )
    assert sum(stream_position(kafka, {}).end_offsets.values()) == 600


def kcat(kafka: KafkaSettings, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [KCAT or "kcat", "-b", kafka.bootstrap_servers, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def kcat_produce_keyed(kafka: KafkaSettings, prefix: str, count: int) -> None:
    """`count` events keyed by their user (`key:value` lines, kcat's -K:)."""
    lines = []
    for n in range(count):
        user = f"kcat-user-{n % 12}"
        event = {
            "event_id": f"{prefix}-{n}",
            "user_id": user,
            "track_id": f"track-{n % 40}",
            "played_at": "2026-12-01T10:00:00Z",
            "ms_played": 1_000 + n,
        }
        lines.append(f"{user}:{json.dumps(event)}")
    kcat(kafka, "-P", "-t", kafka.topic, "-K:", stdin="\n".join(lines) + "\n")


def kcat_end_offsets(kafka: KafkaSettings) -> dict[int, int]:
    """Each partition's end offset (high watermark) as kcat's query mode reads it."""
    queries = [arg for p in range(PARTITIONS) for arg in ("-t", f"{kafka.topic}:{p}:-1")]
    found = re.findall(r"\[(\d+)\] offset (\d+)", kcat(kafka, "-Q", *queries))
    return {int(partition): int(offset) for partition, offset in found}


def committed_offsets(kafka: KafkaSettings) -> dict[int, int]:
    """The offsets the consumer group committed on the broker (none: 0)."""
    reader = Consumer(
        {"bootstrap.servers": kafka.bootstrap_servers, "group.id": kafka.consumer_group}
    )
    try:
        partitions = [TopicPartition(kafka.topic, p) for p in range(PARTITIONS)]
        return {tp.partition: max(tp.offset, 0) for tp in reader.committed(partitions, timeout=10)}
    finally:
        reader.close()


@pytest.mark.skipif(
    KCAT is None, reason="Debian's kcat is not installed (apt-get install kcat; scripts/test does)"
)
@pytest.mark.parametrize("broker", ["noida"], indirect=True)
def test_kcat_events_are_staged_and_the_lag_shown_matches_the_broker(
    tmp_path: Path, kafka: KafkaSettings
) -> None:
    env = cli_environment(tmp_path / "home", kafka)
    kcat_produce_keyed(kafka, "first", 300)
    consumed = run_cli("stream", "consume", "--until-idle", "3", env=env, cwd=tmp_path)
    assert consumed.returncode == 0, consumed.stderr
    assert "received 300 events: staged 300" in consumed.stdout
    assert "\r" not in consumed.stderr

    with applied(env):
        staged = pl.from_arrow(DuckDBStagingStore(get_settings().staging_path).read(LISTEN_EVENTS))
    assert staged.height == 300
    # kcat's keys chose the partitions: each user's events share one, and all three are used.
    by_user = staged.group_by("user_id").agg(pl.col("kafka_partition").n_unique().alias("n"))
    assert by_user["n"].max() == 1
    assert staged["kafka_partition"].n_unique() == PARTITIONS

    # 120 more that nobody consumes: the lag.
    kcat_produce_keyed(kafka, "second", 120)
    status = run_cli("stream", "status", "--json", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["staged_events"] == 300
    assert shown["lag"] == 120

    ends, committed = kcat_end_offsets(kafka), committed_offsets(kafka)
    assert sum(ends.values()) == 420
    assert sum(committed.values()) == 300
    assert {row["partition"]: row["end_offset"] for row in shown["partitions"]} == ends
    assert {row["partition"]: row["staged_offset"] for row in shown["partitions"]} == committed
    assert {row["partition"]: row["lag"] for row in shown["partitions"]} == {
        partition: ends[partition] - committed[partition] for partition in ends
    }
