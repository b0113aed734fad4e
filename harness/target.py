"""The service under test, as data: ``[tool.harness]`` in the caller's pyproject.toml (or harness.toml).

Every sub-command takes a ``Target``; none of them knows which app it drives. The table is found by
walking up from the cwd (as pytest and ruff find theirs); every path in it is relative to the file
that holds it, and CLI flags (relative to the cwd) override it. ``load_target`` resolves all of that
once, at the CLI edge, so nothing below it resolves a path against the harness's own install.

Placeholders: ``{python}`` (the target's interpreter) in commands; ``{workdir}`` (a private directory
per server) and ``{random}`` (a fresh token per run) in env values; ``{url}``, ``{seed}`` in set-up
commands; ``{host}`` / ``{port}`` in a ``serve.command``. docs/target.md documents every key.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness import exitcodes
from harness.exitcodes import HarnessError

CONFIG_NAMES = ("pyproject.toml", "harness.toml")
ServeKind = Literal["uvicorn", "gunicorn", "command"]


class _Model(BaseModel):
    # A typo'd key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Serve(_Model):
    kind: ServeKind = "uvicorn"
    workers: int = Field(default=1, ge=1)
    #: ``kind = "command"``: a command line with ``{host}`` and ``{port}`` (and ``{python}``).
    command: str | None = None
    #: ``kind = "gunicorn"``: an optional gunicorn config file (else uvicorn workers, no config).
    gunicorn_conf: Path | None = None
    #: ``[tool.harness.processes]`` that ``harness serve --with-worker`` starts next to the app (default: all).
    processes: list[str] | None = None

    @model_validator(mode="after")
    def _command_needs_template(self) -> Serve:
        if self.kind == "command" and not self.command:
            raise ValueError('serve.kind = "command" needs serve.command with {host} and {port}')
        if self.command and not ("{port}" in self.command and "{host}" in self.command):
            raise ValueError("serve.command must contain {host} and {port}")
        return self


class Bound(_Model):
    """A theoretical ceiling for an arm's throughput; the analysis reports measured/bound."""

    kind: Literal["littles_law", "thread_pool", "declared_rate"]
    users: int | None = None  # littles_law: default the experiment's users
    latency_ms: float | None = None
    threads: int | None = None
    rps: float | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Bound:
        need = {"littles_law": ("latency_ms",), "thread_pool": ("threads", "latency_ms"),
                "declared_rate": ("rps",)}[self.kind]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"bound kind {self.kind} needs {', '.join(missing)}")
        return self


class ArmSpec(_Model):
    name: str
    description: str = ""
    #: Server environment differences of this arm (over the target's and the experiment's env).
    env: dict[str, str] = Field(default_factory=dict)
    #: Locust-side options, reaching the locustfile as ``HARNESS_<NAME>`` env / ``--name`` options.
    options: dict[str, str] = Field(default_factory=dict)
    server: Literal["uvicorn", "gunicorn"] | None = None
    workers: int | None = Field(default=None, ge=1)
    #: A running service instead of a server the harness starts.
    url: str | None = None
    bound: Bound | None = None
    locustfile: Path | None = None  # default: the experiment's
    #: ``[tool.harness.processes]`` started next to this arm's server, with the server's env.
    processes: list[str] = Field(default_factory=list)


class Plan(_Model):
    rounds: int | None = Field(default=None, ge=1)
    round_seconds: float | None = Field(default=None, gt=0)
    warmup: float | None = Field(default=None, ge=0)
    #: A floor under every entry point's round length (``--quick``, the main job, ``--round-seconds``):
    #: an experiment whose measure has a time window of its own (a 1 s rate-limit window) is wrong in
    #: rounds shorter than that window, whatever the plan would otherwise choose.
    min_round_seconds: float | None = Field(default=None, gt=0)


class Soak(_Model):
    """A soak: one arm at a steady offered load for minutes, the server's memory sampled throughout.

    Budgets are the gates (load/soakstats.py); ``metrics`` names Prometheus series of the app (scraped
    from ``metrics_path``) to record next to what psutil sees, e.g. the DB pool's checked-out count.
    """

    seconds: float = Field(default=1800.0, gt=0)  # the long plan
    quick_seconds: float = Field(default=120.0, gt=0)  # --quick
    warmup_s: float = Field(default=300.0, ge=0)
    quick_warmup_s: float = Field(default=30.0, ge=0)
    sample_s: float = Field(default=5.0, gt=0)
    quick_sample_s: float = Field(default=2.0, gt=0)
    budget_mb_per_min: float = Field(default=1.0, gt=0)  # gate: the RSS slope's CI upper bound
    max_growth_percent: float = Field(default=10.0, gt=0)  # gate: RSS growth after the warm-up
    fd_slack: int = Field(default=16, ge=0)  # gate: descriptors' new high in the 2nd half over the 1st
    thread_slack: int = Field(default=8, ge=0)
    metrics_path: str | None = None
    metrics: dict[str, str] = Field(default_factory=dict)  # reported name -> Prometheus sample name


class ExperimentSpec(_Model):
    locustfile: Path
    description: str = ""
    arms: list[ArmSpec] = Field(min_length=1)
    users: int = Field(default=20, ge=1)
    plan: Plan = Plan()
    env: dict[str, str] = Field(default_factory=dict)  # server env shared by every arm
    options: dict[str, str] = Field(default_factory=dict)  # locust options shared by every arm
    #: Run once per started server after it is ready; its stdout's last line, a JSON object, adds
    #: locust options (e.g. seeded ids and credentials). Placeholders {python} {url} {seed}.
    setup: str | None = None
    per_user_rps: float | None = Field(default=None, gt=0)  # offered load per user, for declared_rate bounds
    processes: int = Field(default=1, ge=1)  # Locust processes (>1: master + workers)
    checks: list[str] = Field(default_factory=lambda: ["checks_failed"])  # counters always reported
    aa_arm: str | None = None
    #: Companion services to start for this experiment, with env overrides per service.
    services: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: A soak experiment (one arm, memory over time) instead of interleaved A/B rounds.
    soak: Soak | None = None

    @field_validator("arms")
    @classmethod
    def _unique(cls, arms: list[ArmSpec]) -> list[ArmSpec]:
        names = [a.name for a in arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be unique: {names}")
        return arms

    @model_validator(mode="after")
    def _soak_has_one_arm(self) -> ExperimentSpec:
        if self.soak is not None and len(self.arms) != 1:
            raise ValueError("a soak experiment has exactly one arm (it measures one server over time)")
        return self


class Service(_Model):
    """A companion process (a downstream the app calls): started like the app, its URL in ``url_env``."""

    app: str
    ready: str = "/openapi.json"
    url_env: str
    env: dict[str, str] = Field(default_factory=dict)


class Process(_Model):
    """A companion process with no HTTP surface of its own (a queue worker, a monitor).

    It runs with the env of the server it accompanies, so both agree on the database and the queue.
    """

    command: str  # placeholders: {python}
    env: dict[str, str] = Field(default_factory=dict)  # over the server's env
    description: str = ""


class FuzzAuth(_Model):
    #: Static headers sent with every request.
    headers: dict[str, str] = Field(default_factory=dict)
    #: A command whose stdout is a token (one line) or a JSON object (see docs/target.md). {python} {url}.
    command: str | None = None
    #: Or: POST ``{endpoint: path, form|json: {...}, token_field: "access_token"}``.
    endpoint: str | None = None
    form: dict[str, str] | None = None
    json_body: dict[str, Any] | None = Field(default=None, alias="json")
    token_field: str = "access_token"  # noqa: S105 - the name of a JSON field, not a secret
    header: str = "Authorization"
    scheme: str = "Bearer"


class Fuzz(_Model):
    config: Path | None = None  # a schemathesis.toml (default: the harness's own, every check and phase)
    env: dict[str, str] = Field(default_factory=dict)
    auth: FuzzAuth = FuzzAuth()
    services: dict[str, dict[str, str]] = Field(default_factory=dict)


class Backend(_Model):
    """Where ``harness run --backend postgres`` puts the database and Redis URLs it provides."""

    database_url_env: str | None = None
    redis_url_env: str | None = None


def parse_fraction(value: object) -> float:
    """``"10%"``, ``"0.1"`` or ``0.1`` as 0.1 (an allowed regression, a margin)."""
    text = str(value).strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"expected a fraction such as 10% or 0.1, not {value!r}") from None
    if not 0 < number < 1:
        raise ValueError(f"expected a fraction between 0 and 1 (exclusive), not {value!r}")
    return number


class CompareSpec(_Model):
    """``harness compare``'s defaults: which experiment (and which of its arms) base and head both run."""

    experiment: str | None = None
    arm: str | None = None  # default: the experiment's first arm
    max_regression: float = 0.10

    @field_validator("max_regression", mode="before")
    @classmethod
    def _fraction(cls, value: object) -> float:
        return parse_fraction(value)


class Target(_Model):
    """The resolved target: every path absolute."""

    root: Path  # directory of the config file (or the cwd when there is none)
    config_file: Path | None = None
    app: str | None = None
    url: str | None = None
    app_dir: Path
    python: str = sys.executable
    factory: bool | None = None  # None: detected, as uvicorn does without --factory
    serve: Serve = Serve()
    env: dict[str, str] = Field(default_factory=dict)
    env_passthrough: list[str] = Field(default_factory=list)  # prefixes taken from the caller's env
    ready: str = "/openapi.json"
    migrate: str | None = None
    contract: Path | None = None
    gates: Path | None = None
    benchmarks: str | None = None  # a pytest path of microbenchmarks the main job runs (optional)
    fuzz: Fuzz = Fuzz()
    services: dict[str, Service] = Field(default_factory=dict)
    processes: dict[str, Process] = Field(default_factory=dict)
    backend: Backend = Backend()
    experiments: dict[str, ExperimentSpec] = Field(default_factory=dict)
    matrix: list[str] | None = None  # `harness run`'s experiments (default: all, in order)
    compare: CompareSpec = CompareSpec()

    @field_validator("app")
    @classmethod
    def _app_spelling(cls, value: str | None) -> str | None:
        if value is not None:
            module, sep, attr = value.partition(":")
            if not sep or not module or not attr:
                raise ValueError(f"app must be MODULE:ATTR, not {value!r}")
        return value

    @model_validator(mode="after")
    def _matrix_known(self) -> Target:
        unknown = [m for m in self.matrix or () if m not in self.experiments]
        if unknown:
            raise ValueError(f"matrix names unknown experiment(s) {', '.join(unknown)}")
        soaks = [m for m in self.matrix or () if self.experiments[m].soak is not None]
        if soaks:
            raise ValueError(f"matrix names soak experiment(s) {', '.join(soaks)}; a soak runs with "
                             "`harness load run NAME`")
        chosen = self.compare.experiment
        if chosen is not None and chosen not in self.experiments:
            raise ValueError(f"compare.experiment names unknown experiment {chosen!r}")
        named = [*(self.serve.processes or ()),
                 *(p for exp in self.experiments.values() for arm in exp.arms for p in arm.processes)]
        missing = sorted({p for p in named if p not in self.processes})
        if missing:
            raise ValueError(f"unknown process(es) {', '.join(missing)}; [tool.harness.processes] declares "
                             f"{', '.join(self.processes) or 'none'}")
        return self

    def require_app(self) -> str:
        if not self.app:
            raise HarnessError("no app: pass --app MODULE:ATTR or set `app` in [tool.harness] "
                               "(see `harness init`)")
        return self.app

    def run_matrix(self) -> list[str]:
        """`harness run`'s experiments: the configured matrix, else every A/B experiment (soaks run alone)."""
        if self.matrix is not None:
            return list(self.matrix)
        return [name for name, exp in self.experiments.items() if exp.soak is None]

    def command(self, template: str, **values: str) -> list[str]:
        """A configured command line as argv, placeholders filled (``{python}`` always)."""
        return [part.format(python=self.python, **values) for part in shlex.split(template)]


def expand_env(env: Mapping[str, str], *, workdir: Path, token: str) -> dict[str, str]:
    return {k: v.replace("{workdir}", str(workdir)).replace("{random}", token) for k, v in env.items()}


def run_token() -> str:
    return secrets.token_urlsafe(48)


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest pyproject.toml with a [tool.harness] table, or harness.toml, from ``start`` up."""
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            path = directory / name
            if not path.is_file():
                continue
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise HarnessError(f"{path}: {exc}") from exc
            table = data.get("tool", {}).get("harness")
            if table is None and name == "harness.toml":
                table = data
            if isinstance(table, dict):
                return path, table
    return None


def _resolve(root: Path, value: Any) -> Any:
    return None if value is None else str((root / str(value)).resolve())


def _python(root: Path, value: str | None) -> str:
    if not value:
        return sys.executable
    path = Path(value) if Path(value).is_absolute() else root / value
    if path.is_dir():  # a venv
        path = path / "bin" / "python"
    if not path.exists():
        raise HarnessError(f"python: no interpreter at {path}")
    return str(path)


def _paths(raw: dict[str, Any], root: Path) -> dict[str, Any]:
    """Paths in the raw table made absolute against ``root`` (the config file's directory)."""
    out = dict(raw)
    out["app_dir"] = _resolve(root, raw.get("app_dir", "."))
    for key in ("contract", "gates"):
        if key in raw:
            out[key] = _resolve(root, raw[key])
    out["python"] = _python(root, raw.get("python"))
    if isinstance(raw.get("serve"), dict) and raw["serve"].get("gunicorn_conf"):
        out["serve"] = {**raw["serve"], "gunicorn_conf": _resolve(root, raw["serve"]["gunicorn_conf"])}
    if isinstance(raw.get("fuzz"), dict) and raw["fuzz"].get("config"):
        out["fuzz"] = {**raw["fuzz"], "config": _resolve(root, raw["fuzz"]["config"])}
    experiments = {}
    for name, exp in (raw.get("experiments") or {}).items():
        if isinstance(exp, dict):
            exp = dict(exp)
            if "locustfile" in exp:
                exp["locustfile"] = _resolve(root, exp["locustfile"])
            exp["arms"] = [({**arm, "locustfile": _resolve(root, arm["locustfile"])}
                            if isinstance(arm, dict) and arm.get("locustfile") else arm)
                           for arm in exp.get("arms") or []]
        experiments[name] = exp
    if experiments:
        out["experiments"] = experiments
    return out


def load_target(cwd: Path | None = None, overrides: Mapping[str, Any] | None = None,
                *, use_config: bool = True) -> Target:
    """The target for a command run in ``cwd``: the config found from there, then the flags.

    ``overrides`` are CLI values (``None`` = not given); paths in them are relative to ``cwd``.
    """
    cwd = (cwd or Path.cwd()).resolve()
    found = find_config(cwd) if use_config else None
    raw: dict[str, Any] = {}
    root = cwd
    config_file = None
    if found is not None:
        config_file, table = found
        root = config_file.parent
        raw = _paths(table, root)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "app" in given and raw.get("app") not in (None, given["app"]):
        # Another app than the configured one: its migrate command, env, services and experiments
        # are the configured app's, and applying them to this one would be wrong without a word.
        raw, root, config_file = {}, cwd, None
    for key in ("app_dir", "contract", "gates"):
        if key in given:
            given[key] = str((cwd / str(given[key])).resolve())
    if "python" in given:
        given["python"] = _python(cwd, given["python"])
    raw.update(given)
    raw.setdefault("app_dir", str(cwd if config_file is None else root))
    try:
        return Target(root=root, config_file=config_file, **raw)
    except ValidationError as exc:
        where = config_file or "the command line"
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'table'}: {e['msg']}" for e in exc.errors())
        raise HarnessError(f"{where}: invalid [tool.harness]: {problems}", exitcodes.USAGE) from exc


def cwd_path(value: str | os.PathLike[str]) -> Path:
    """A CLI path: relative to the cwd, never to the harness's install."""
    return (Path.cwd() / value).resolve()


def add_target_arguments(parser: Any, *, url: bool = False) -> None:
    """The flags that override the configured target, the same spelling in every sub-command."""
    group = parser.add_argument_group("target (overrides [tool.harness])")
    group.add_argument("--app", metavar="MODULE:ATTR", help="the FastAPI app: an instance or a factory")
    group.add_argument("--app-dir", metavar="DIR", help="directory the app's module is imported from (default: "
                       "the config file's, else the cwd)")
    group.add_argument("--python", metavar="PATH", help="interpreter or venv that runs the app (default: this one)")
    if url:
        group.add_argument("--url", metavar="BASE_URL", help="a running service instead of --app")


def target_from_args(args: Any) -> Target:
    return load_target(overrides={"app": getattr(args, "app", None), "app_dir": getattr(args, "app_dir", None),
                                  "python": getattr(args, "python", None)})
