"""Two independent steps in the warehouse pool that record when they ran (for test_pools.py).

A module of its own because the multiprocess executor re-imports the job in each step."""

import json
import os
import time
from pathlib import Path

import dagster as dg

from music_platform.defs.shared.keys import WAREHOUSE_POOL

TRACE_VARIABLE = "POOL_PROBE_TRACE"


def _probe(name: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, pool=WAREHOUSE_POOL)
    def _asset() -> None:
        started = time.time()
        time.sleep(1.5)  # long enough that two unlimited steps would overlap
        trace = Path(os.environ[TRACE_VARIABLE])
        with trace.open("a") as log:
            log.write(json.dumps({"step": name, "start": started, "end": time.time()}) + "\n")

    return _asset


defs = dg.Definitions(
    assets=[_probe("first_writer"), _probe("second_writer")],
    jobs=[dg.define_asset_job("both_writers", selection=dg.AssetSelection.all())],
    executor=dg.multiprocess_executor,
)


def pooled_job() -> dg.JobDefinition:
    return defs.resolve_job_def("both_writers")
