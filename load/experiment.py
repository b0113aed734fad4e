"""Experiments as data: arms, their server configuration, and the order rounds run in.

An *arm* is one variant: a locustfile with generator-side options (``options``, reaching the file as
``HARNESS_<NAME>``) and either a server the harness starts (kind, workers, env differences such as
``APP_FEATURE=off``) or the URL of a service that is already running. Arms with equal server
configuration share one server process. Experiments come from the target's
``[tool.harness.experiments.NAME]`` tables (``from_target``) or from the command line
(``adhoc``: ``-f LOCUSTFILE --arm ...``); the engine knows no experiment by name.
Rounds of the arms are interleaved (counterbalanced ABBA... or seeded random blocks) so slow
drift of the machine (thermal, page cache, noisy neighbours) hits every arm alike.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness import exitcodes
from harness.target import ExperimentSpec, Soak, Target

OrderKind = Literal["abba", "random"]


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    locustfile: Path
    description: str = ""
    profile_env: Mapping[str, str] = field(default_factory=dict)  # HARNESS_* options for the locustfile
    app_env: Mapping[str, str] = field(default_factory=dict)
    server: str | None = None  # None: the run's --server (or the target's serve.kind)
    workers: int | None = None  # None: the run's --workers
    bound: Mapping[str, Any] | None = None  # harness.target.Bound as a dict
    url: str | None = None  # a running service: no server to start
    processes: tuple[str, ...] = ()  # companion processes (``[tool.harness.processes]``) next to its server

    @property
    def profile(self) -> str:
        return self.locustfile.stem


@dataclass(frozen=True, slots=True)
class Experiment:
    name: str
    description: str
    arms: tuple[Arm, ...]
    users: int = 20
    setup: str | None = None  # command run per started server; its JSON adds locust options
    aa_arm: str | None = None  # which arm --aa duplicates (default: the last)
    per_user_rps: float | None = None  # offered load per user (declared_rate bounds: expected 429s)
    app_env: Mapping[str, str] = field(default_factory=dict)  # server env shared by every arm
    checks: tuple[str, ...] = ("checks_failed",)  # counters always reported in results["checks"]
    #: Companion services (``[tool.harness.services]``) to start, with env overrides, shared by every arm.
    services: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Locust processes when the caller doesn't say: max-throughput experiments need more than one
    #: on this hardware, or the generator saturates before the server (NOTES-performance.md).
    generator_processes: int = 1
    plan: Mapping[str, float | int] = field(default_factory=dict)  # rounds / round_seconds / warmup
    soak: Soak | None = None  # a soak (load.soak) instead of interleaved rounds


def option_env(options: Mapping[str, str]) -> dict[str, str]:
    """Config options (``io_ms = "200"``) as the locustfile sees them (``HARNESS_IO_MS``)."""
    return {f"HARNESS_{k.upper()}": str(v) for k, v in options.items()}


def from_spec(name: str, spec: ExperimentSpec) -> Experiment:
    shared = option_env(spec.options)
    if spec.per_user_rps is not None:
        shared["HARNESS_PER_USER_RPS"] = str(spec.per_user_rps)
    arms = tuple(
        Arm(a.name, a.locustfile or spec.locustfile, a.description, {**shared, **option_env(a.options)},
            dict(a.env), a.server, a.workers, a.bound.model_dump(exclude_none=True) if a.bound else None, a.url,
            tuple(a.processes))
        for a in spec.arms)
    return Experiment(name, spec.description, arms, users=spec.users, setup=spec.setup, aa_arm=spec.aa_arm,
                      per_user_rps=spec.per_user_rps, app_env=dict(spec.env), checks=tuple(spec.checks),
                      services={k: dict(v) for k, v in spec.services.items()},
                      generator_processes=spec.processes, plan=spec.plan.model_dump(exclude_none=True),
                      soak=spec.soak)


def from_target(target: Target) -> dict[str, Experiment]:
    return {name: from_spec(name, spec) for name, spec in target.experiments.items()}


def get_experiment(target: Target, name: str) -> Experiment:
    experiments = from_target(target)
    try:
        return experiments[name]
    except KeyError:
        where = target.config_file or "no [tool.harness] config found"
        known = ", ".join(experiments) or "none"
        raise exitcodes.HarnessError(f"unknown experiment {name!r} ({where}); configured: {known}") from None


def parse_arm(text: str) -> tuple[str, str | None, dict[str, str]]:
    """``NAME=URL`` (a running service) or ``NAME[:KEY=VAL,...]`` (env differences of a started server)."""
    name, eq, rest = text.partition("=")
    if eq and rest.startswith(("http://", "https://")) and ":" not in name:
        if not name:
            raise exitcodes.HarnessError(f"--arm {text!r}: empty arm name")
        return name, rest.rstrip("/"), {}
    name, _, envs = text.partition(":")
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise exitcodes.HarnessError(f"--arm {text!r}: expected NAME=URL or NAME[:KEY=VAL,...]")
    env: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in envs.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise exitcodes.HarnessError(f"--arm {text!r}: {pair!r} is not KEY=VAL")
        env[key] = value
    return name, None, env


def adhoc(locustfile: Path, arm_texts: Sequence[str], *, users: int = 20, name: str | None = None) -> Experiment:
    """An experiment from the command line: ``-f LOCUSTFILE --arm ... --arm ...``."""
    if not arm_texts:
        raise exitcodes.HarnessError("give the arms: --arm NAME=URL (running services) or "
                                     "--arm NAME[:KEY=VAL,...] with --app (servers the harness starts)")
    arms = []
    for text in arm_texts:
        arm_name, url, env = parse_arm(text)
        desc = url or (", ".join(f"{k}={v}" for k, v in env.items()) or "the target as configured")
        arms.append(Arm(arm_name, locustfile, desc, {}, env, url=url))
    if len({a.name for a in arms}) != len(arms):
        raise exitcodes.HarnessError("--arm: arm names must be unique")
    if len({a.url is None for a in arms}) > 1:
        raise exitcodes.HarnessError("--arm: mix of URL arms and started-server arms; use one kind per run")
    label = name or locustfile.stem
    return Experiment(label, f"{locustfile.name}: {' vs '.join(a.name for a in arms)}", tuple(arms), users=users)


def aa_variant(exp: Experiment) -> Experiment:
    """A/A: the same arm twice (``X`` and ``X_b``); any 'significant' difference is noise."""
    base = next((a for a in exp.arms if a.name == exp.aa_arm), exp.arms[-1])
    twin = dataclasses.replace(base, name=f"{base.name}_b", description=f"A/A twin of {base.name}")
    return dataclasses.replace(exp, name=exp.name, arms=(base, twin),
                               description=f"A/A check of {base.name}: {exp.description}")


def round_order(arms: Sequence[str], rounds_per_arm: int, *, seed: int = 0,
                method: OrderKind = "abba") -> list[str]:
    """Measured-round order. Every arm appears exactly ``rounds_per_arm`` times.

    ``abba`` (two arms): blocks alternate AB, BA, AB... (counterbalanced against linear drift).
    With more arms, ``abba`` alternates the forward and reversed arm order per block.
    ``random``: every block is a seeded random permutation of the arms.
    """
    if rounds_per_arm < 1:
        raise ValueError("rounds_per_arm must be >= 1")
    if len(set(arms)) != len(arms) or not arms:
        raise ValueError("arms must be non-empty and unique")
    if method not in ("abba", "random"):
        raise ValueError(f"unknown order method {method!r}")
    rng = random.Random(seed)
    order: list[str] = []
    for block in range(rounds_per_arm):
        names = list(arms)
        if method == "random":
            rng.shuffle(names)
        elif block % 2 == 1:
            names.reverse()
        order.extend(names)
    return order


def server_key(arm: Arm, default_server: str, default_workers: int, base_env: Mapping[str, str]) -> tuple[
        str, int, tuple[tuple[str, str], ...]]:
    server = arm.server or default_server
    workers = arm.workers or (default_workers if server == "gunicorn" else 1)
    if arm.url is not None:
        return "url", 1, (("url", arm.url),)
    env = {**base_env, **arm.app_env}
    return server, workers, tuple(sorted(env.items()))
