"""A consumer that SIGKILLs itself at a named point of its Nth batch (the fault seam).

Usage: python -m music_platform_tests.lib.streaming.consumer_child BACKEND TARGET SCHEMA
       BOOTSTRAP TOPIC GROUP POINT NTH
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from music_platform.lib.staging import DuckDBStagingStore, PostgresStagingStore
from music_platform.lib.streaming.consumer import EventConsumer
from music_platform.settings import KafkaSettings


def main() -> None:
    backend, target, schema, bootstrap, topic, group, point, nth = sys.argv[1:]
    store = (
        DuckDBStagingStore(Path(target), schema)
        if backend == "duckdb"
        else PostgresStagingStore(target, schema)
    )
    seen = {"count": 0}

    def fault(at: str) -> None:
        if at == point:
            seen["count"] += 1
            if seen["count"] == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)

    settings = KafkaSettings(
        bootstrap_servers=bootstrap, topic=topic, batch_max_events=500, batch_max_seconds=0.2
    )
    EventConsumer(store, settings, group=group, fault=fault).run(idle_seconds=5)
    sys.exit(3)  # never reached when the seam fires


if __name__ == "__main__":
    main()
