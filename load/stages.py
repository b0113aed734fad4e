"""Pure stage arithmetic behind ``load/profiles/shapes.py`` (kept free of Locust imports so it can
be unit-tested without gevent's monkey-patching)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stage:
    until_s: float  # cumulative end time of the stage
    users: int
    spawn_rate: float


def step_stages(levels: list[int], step_s: float) -> list[Stage]:
    """Staircase: each level held ``step_s`` seconds, reached within about a second."""
    if not levels or step_s <= 0 or any(u < 1 for u in levels):
        raise ValueError("step shape needs levels >= 1 and a positive step duration")
    return [Stage(until_s=step_s * (i + 1), users=u, spawn_rate=float(max(u, 1))) for i, u in enumerate(levels)]


def spike_stages(base: int, peak: int, calm_s: float, spike_s: float) -> list[Stage]:
    """Calm ``base`` users, a sudden jump to ``peak`` for ``spike_s``, then calm again."""
    if base < 1 or peak < base or calm_s <= 0 or spike_s <= 0:
        raise ValueError("spike shape needs 1 <= base <= peak and positive durations")
    return [
        Stage(until_s=calm_s, users=base, spawn_rate=float(base)),
        Stage(until_s=calm_s + spike_s, users=peak, spawn_rate=float(peak)),  # the whole jump in ~1 s
        Stage(until_s=2 * calm_s + spike_s, users=base, spawn_rate=float(peak)),
    ]


def tick_for(stages: list[Stage], run_time: float) -> tuple[int, float] | None:
    """Locust ``tick()`` answer at ``run_time``: (users, spawn rate), or None to stop."""
    for stage in stages:
        if run_time < stage.until_s:
            return stage.users, stage.spawn_rate
    return None


def selected_stages(env: Mapping[str, str]) -> list[Stage]:
    """Stages from ``HARNESS_SHAPE`` (step|spike) and its ``HARNESS_SHAPE_*`` parameters."""
    kind = env.get("HARNESS_SHAPE", "step")
    step_s = float(env.get("HARNESS_SHAPE_STEP_S", "30"))
    if kind == "step":
        levels = [int(x) for x in env.get("HARNESS_SHAPE_STEPS", "10,20,40,80").split(",") if x.strip()]
        return step_stages(levels, step_s)
    if kind == "spike":
        return spike_stages(int(env.get("HARNESS_SHAPE_BASE", "10")), int(env.get("HARNESS_SHAPE_PEAK", "100")),
                            step_s, float(env.get("HARNESS_SHAPE_SPIKE_S", "10")))
    raise ValueError(f"HARNESS_SHAPE must be step or spike, not {kind!r}")
