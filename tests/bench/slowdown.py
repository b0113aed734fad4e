"""A pytest plugin that deliberately slows one function, to prove a benchmark regression is caught.

Loaded only on request (``-p tests.bench.slowdown``) with ``HARNESS_BENCH_SLOWDOWN=module:Qualname=N``,
e.g. ``reference_app.core.security:TokenService.issue=3``: the function then does its work N times
per call (returning the last result), i.e. a correct but N-times slower implementation. Used by
``test_bench_regression.py``; never loaded in a normal run.
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import Any

import pytest

ENV = "HARNESS_BENCH_SLOWDOWN"


def parse(spec: str) -> tuple[str, str, int]:
    target, _, factor = spec.rpartition("=")
    module, _, qualname = target.partition(":")
    if not module or not qualname or not factor.isdigit() or int(factor) < 1:
        raise pytest.UsageError(f"{ENV}={spec!r}: expected module:Qualname=N with N >= 1")
    return module, qualname, int(factor)


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get(ENV, "").strip()
    if not spec:
        return
    module_name, qualname, factor = parse(spec)
    owner: Any = importlib.import_module(module_name)
    *parents, attr = qualname.split(".")
    for name in parents:
        owner = getattr(owner, name)
    original = getattr(owner, attr)

    @functools.wraps(original)
    def slowed(*args: Any, **kwargs: Any) -> Any:
        result = None
        for _ in range(factor):
            result = original(*args, **kwargs)
        return result

    setattr(owner, attr, slowed)
    config.add_cleanup(lambda: setattr(owner, attr, original))
