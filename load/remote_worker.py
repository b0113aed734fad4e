# ruff: noqa: I001  (locust must be imported first: it monkey-patches the standard library)
"""``python -m load.remote_worker HOST PORT [locust worker options]``: what ``harness load worker`` execs.

A process of its own, so that Locust's gevent monkey-patching comes before anything else is imported
(the harness CLI has imported argparse, pydantic and more by the time it parses ``--master``).
"""

from __future__ import annotations

import locust  # noqa: F401 - monkey-patches first

import sys

from load.cluster import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1], int(sys.argv[2]), sys.argv[3:]))
