"""Counters a load run reports besides Locust's request stats, and how the harness knows users are ready.

A locustfile never has to call anything here: the driver wraps every User class's ``on_start`` so that
a finished ``on_start`` counts ``users_ready`` (the runner measures only once every user is set up,
logins included). Locustfiles *may* count their own outcomes (``count("cache_hit")``); the counts
are reported in results.json next to the request stats.

Counters live in a per-process ``collections.Counter``. In distributed mode workers ship their deltas
to the master through Locust's own ``report_to_master``/``worker_report`` events, so ``COUNTERS`` on the
master is the cluster total, exactly like Locust's request stats. Importing this module registers
those listeners; the driver and its workers import it before the locustfile.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

from locust import argument_parser as _argument_parser
from locust import events
from locust import runners as _runners

from load import latency

COUNTERS: Counter[str] = Counter()
READY = "users_ready"
#: Counters that survive a stats reset (they describe set-up, not the measured window).
PERSISTENT = frozenset({READY})

# Workers report every 3 s by default; short rounds need fresher numbers on the master.
if os.environ.get("HARNESS_WORKER_REPORT_INTERVAL"):
    _runners.WORKER_REPORT_INTERVAL = float(os.environ["HARNESS_WORKER_REPORT_INTERVAL"])

# A Locust worker handling a spawn message calls ``argument_parser.default_args_dict()`` once per
# option it was sent (a comprehension in WorkerRunner's spawn handler), and each call builds a new
# argument parser: ~60 x 4.5 ms, up to a second per round on a busy machine. The defaults can't change
# within a process, so they are computed once. Callers only test membership in the dict.
if not hasattr(_argument_parser.default_args_dict, "cache_info"):
    _argument_parser.default_args_dict = functools.cache(_argument_parser.default_args_dict)


def count(name: str, n: int = 1) -> None:
    COUNTERS[name] += n


def reset_counters() -> None:
    for key in list(COUNTERS):
        if key not in PERSISTENT:
            del COUNTERS[key]


def track_ready(user_classes: Iterable[type[Any]]) -> None:
    """Wrap each class's ``on_start`` so that its end counts ``users_ready`` (idempotent)."""
    for cls in user_classes:
        original = cls.on_start
        if getattr(original, "_harness_ready", False):
            continue

        def on_start(self: Any, _original: Any = original) -> None:
            _original(self)
            COUNTERS[READY] += 1

        on_start._harness_ready = True  # type: ignore[attr-defined]
        cls.on_start = on_start


def _ship_counters(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data["harness_counters"] = dict(COUNTERS)
    COUNTERS.clear()


def _merge_counters(client_id: str, data: dict[str, Any], **_: Any) -> None:
    for key, value in data.get("harness_counters", {}).items():
        COUNTERS[key] += value


def _on_init(environment: Any, **_: Any) -> None:
    track_ready(environment.user_classes or ())


events.report_to_master.add_listener(_ship_counters)  # type: ignore[no-untyped-call]
events.worker_report.add_listener(_merge_counters)  # type: ignore[no-untyped-call]
events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]
# Every process that counts (driver, local and remote workers) imports this module first, and the
# fine latency histogram travels the same way as the counters.
latency.register(events)
