"""dagster.yaml's pool limit keeps warehouse steps apart under the multiprocess executor."""

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml

from music_platform.defs.shared.keys import WAREHOUSE_POOL
from music_platform_tests.ops import pool_probe

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_warehouse_pool_runs_one_step_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(pool_probe.TRACE_VARIABLE, str(trace))
    config = (REPO_ROOT / "deploy" / "dagster.yaml").read_text()
    concurrency = yaml.safe_load(config)["concurrency"]
    with dg.instance_for_test(
        temp_dir=str(tmp_path), overrides={"concurrency": concurrency}
    ) as instance:
        result = dg.execute_job(dg.reconstructable(pool_probe.pooled_job), instance=instance)
        assert result.success
        slots = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
        assert slots.slot_count == 1
        assert not slots.claimed_slots, "every slot is given back"
    first, second = sorted(
        (json.loads(line) for line in trace.read_text().splitlines()), key=lambda s: s["start"]
    )
    assert {first["step"], second["step"]} == {"first_writer", "second_writer"}
    assert second["start"] >= first["end"], "the second writer started before the first ended"
