"""Processes: whether one still runs (a file named after its writer's pid is abandoned once it is
gone), and how long-running commands take the signals that stop them."""

from __future__ import annotations

import os
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def interrupt_on_stop_signals() -> None:
    """SIGINT and SIGTERM both raise KeyboardInterrupt, so a command unwinds and closes what it
    holds. A background job of a non-interactive shell (`cmd &`, a supervisor's script) starts
    with SIGINT ignored, which Python keeps: set both explicitly."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.default_int_handler)


def default_stop_signals() -> None:
    """SIGINT and SIGTERM back to their defaults before `exec`: an ignored signal stays ignored
    across it, and `dagster dev` copies SIGINT's handler to SIGTERM, so a `dev` started in the
    background would otherwise ignore both and leave its webserver, daemon and code servers."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
