# ruff: noqa: I001  (locust must be imported first: it monkey-patches the standard library)
"""``python -m load.worker -f LOCUSTFILE --worker ...``: a Locust worker with the harness's counters.

Exactly ``locust`` (same arguments), except that ``load.counters`` is imported first, so the user's
unchanged locustfile reports ``users_ready`` and its counters to the driver's master.
"""

from __future__ import annotations

import locust  # noqa: F401 - monkey-patches first

import sys

from locust.main import main as locust_main

import load.counters  # noqa: F401 - registers the listeners

if __name__ == "__main__":
    sys.argv[0] = "locust"
    sys.exit(locust_main())  # type: ignore[no-untyped-call]  # locust ships no types
