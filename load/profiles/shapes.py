"""Load shapes (``LoadTestShape``) to combine with any profile::

    locust -f load/profiles/journey.py,load/profiles/shapes.py --headless --host http://127.0.0.1:8000
    HARNESS_SHAPE=spike locust -f load/profiles/hello.py,load/profiles/shapes.py --headless ...

``step``: ``HARNESS_SHAPE_STEPS`` user levels (default 10,20,40,80), ``HARNESS_SHAPE_STEP_S`` s each.
``spike``: ``HARNESS_SHAPE_BASE`` users, jumping to ``HARNESS_SHAPE_PEAK`` for
``HARNESS_SHAPE_SPIKE_S`` s between two ``HARNESS_SHAPE_STEP_S``-second calm stages.
Exactly one concrete shape class (``SelectedShape``) exists, so Locust needs no class picker.
The stage arithmetic lives in ``load.stages``.
"""

from __future__ import annotations

import os

from locust import LoadTestShape

from load.stages import Stage, selected_stages, tick_for


class StagesShape(LoadTestShape):
    """Follows ``stages`` (cumulative end times), then stops the test."""

    abstract = True
    stages: list[Stage] = []

    def tick(self) -> tuple[int, float] | None:
        return tick_for(self.stages, self.get_run_time())  # type: ignore[no-untyped-call]


class SelectedShape(StagesShape):
    """The shape named by ``HARNESS_SHAPE`` (step|spike)."""

    abstract = False

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.stages = selected_stages(os.environ)
