"""SIGTERM and SIGHUP end a harness command the way Ctrl-C does.

A CI runner cancels a job with SIGTERM. Python's default action ends the process at once, with no
``finally``: the servers, Locust processes and git worktrees a command started live on (servers run
in sessions of their own, so the runner's process-group kill does not reach them either). Inside
``terminating_as_interrupt`` those signals raise ``KeyboardInterrupt`` in the main thread instead,
so every clean-up runs, and the command exits 130 as on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def terminating_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise ``KeyboardInterrupt`` in the main thread while inside."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, interrupt)
        except ValueError:  # not the main thread: leave signals alone
            break
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
