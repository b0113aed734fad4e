"""``harness run`` (the main job): plumbing and exit codes with stubbed experiments, plus one real tiny run.

The fast tests replace the load runner and the benchmark subprocess with stubs that write synthetic,
schema-valid results (``tests.utils.results_factory``), so they check what the main job itself does:
order and options, the report and ``reports/latest``, and how gates, failed experiments and benchmark
failures become exit codes. The ``load``-marked test at the end starts real servers.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness import exitcodes, mainjob
from harness.cli import main
from harness.exitcodes import HarnessError
from harness.mainjob_backend import asyncpg_url, backend_urls
from harness.progress import RoundStatus, live_line
from harness.target import load_target

TARGET = load_target(Path(__file__).resolve().parents[3])  # this repository's [tool.harness]
MATRIX = tuple(TARGET.run_matrix())
assert TARGET.gates is not None
DEFAULT_GATES: Path = TARGET.gates

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # `tests.utils` lives in the repository, not in the installed package
    sys.path.insert(0, str(ROOT))

from tests.utils.results_factory import Arm, make_bench, make_results  # noqa: E402

FAILING_GATES = """
[[gate]]
kind = "relative"
profile = "io"
expr = "rps[io_async] / rps[io_sync] >= 100"
"""
PASSING_GATES = """
[[gate]]
kind = "relative"
profile = "io"
expr = "rps[io_async] / rps[io_sync] >= 3"

[[gate]]
kind = "absolute"
profile = "io"
expr = "error_rate < 1%"
"""


def healthy(profile: str, *, seed: int = 1, valid: bool = True) -> dict[str, Any]:
    """Synthetic results that a healthy app would produce for each experiment of the standard matrix."""
    arms: dict[str, dict[str, Arm]] = {
        "io": {"io_sync": Arm(rps=190, p50_ms=210, noise=0.03, bound_rps=200, bound_kind="thread_pool"),
               "io_async": Arm(rps=850, p50_ms=205, noise=0.03, bound_rps=1000)},
        "cache": {"uncached": Arm(rps=400, noise=0.04), "cached": Arm(rps=900, noise=0.04),
                  "hello": Arm(rps=1500, noise=0.04)},
        "ratelimit": {"unlimited": Arm(rps=200, noise=0.02),
                      "limited": Arm(rps=198, noise=0.02, rate_limited_fraction=0.75, bound_rps=50,
                                     bound_kind="rate_limit")},
        "middleware": {"bare": Arm(rps=900, noise=0.04), "full": Arm(rps=720, noise=0.04)},
        "server": {"uvicorn_1": Arm(rps=800, noise=0.04),
                   "gunicorn_2": Arm(rps=950, noise=0.04, server="gunicorn", workers=2)},
    }
    doc = make_results(arms[profile], profile=profile, rounds=5, seed=seed, valid=valid,
                       reasons=() if valid else ["invalid: load generator saturated"])
    return doc


class StubRunner:
    """Stands in for ``mainjob.LoadExperiment``: a factory of handles whose ``measure`` writes a
    results.json where the runner would. ``events`` records every start/measure/close in order."""

    def __init__(self, docs: Mapping[str, Callable[[], dict[str, Any]]] | None = None,
                 fail: Mapping[str, BaseException] | None = None,
                 fail_start: Mapping[str, BaseException] | None = None) -> None:
        self.docs = docs or {}
        self.fail = fail or {}
        self.fail_start = fail_start or {}
        self.calls: list[tuple[str, Any]] = []  # measured, in order
        self.events: list[tuple[str, str]] = []

    def __call__(self, name: str, options: Any, progress: Callable[[str], None],
                 shared: dict[str, Any]) -> StubHandle:
        return StubHandle(self, name, options, progress)

    def measure(self, name: str, options: Any, progress: Callable[[str], None]) -> Path:
        self.calls.append((name, options))
        progress(f"[{name}] stub round 1/1 done")
        status = RoundStatus(name, "stub", "round 1/1", 1.0, 123.0)
        progress(live_line(f"[{name}] stub:  1.0s live     123 rps", status))
        if name in self.fail:
            raise self.fail[name]
        doc = self.docs[name]() if name in self.docs else healthy(name)
        out = Path(options.output)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "results.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        return path


class StubHandle:
    def __init__(self, runner: StubRunner, name: str, options: Any, progress: Callable[[str], None]) -> None:
        self.runner, self.name, self.options, self.progress = runner, name, options, progress

    def start(self) -> None:
        self.runner.events.append(("start", self.name))
        if self.name in self.runner.fail_start:
            raise self.runner.fail_start[self.name]

    def measure(self) -> Path:
        self.runner.events.append(("measure", self.name))
        return self.runner.measure(self.name, self.options, self.progress)

    def close(self) -> None:
        self.runner.events.append(("close", self.name))


class StubBench:
    """Stands in for ``mainjob.start_benchmarks``: a held run whose ``finish`` writes a bench.json."""

    def __init__(self, code: int = 0, events: list[tuple[str, str]] | None = None) -> None:
        self.code = code
        self.events = events if events is not None else []

    def __call__(self, run_dir: Path, plan: mainjob.Plan, progress: Callable[[str], None],
                 **where: Any) -> StubBench:
        self.run_dir, self.progress = run_dir, progress
        self.events.append(("bench", "start"))
        return self

    def finish(self) -> tuple[int, Path | None]:
        self.events.append(("bench", "finish"))
        path = self.run_dir / "bench.json"
        path.write_text(json.dumps(make_bench({"test_jwt_encode": 5e-5, "test_argon2_hash": 0.03})), encoding="utf-8")
        self.progress(f"[bench] stub exit {self.code}")
        return self.code, path

    def abort(self) -> None:
        self.events.append(("bench", "abort"))


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, StubRunner, str]]:
    """Run ``harness run ARGS`` through the real CLI with the stubs; returns (exit code, runner, stdout)."""

    def run(*args: str, runner: StubRunner | None = None, bench_code: int | None = None,
            gates: str | None = PASSING_GATES, capsys: pytest.CaptureFixture[str] | None = None,
            real_html: bool = False) -> tuple[int, StubRunner, str]:
        runner = runner or StubRunner()
        if not real_html:  # the plots (matplotlib) are the reports package's business and cost seconds
            from reports import html

            monkeypatch.setattr(html, "render", lambda data: '<table id="verdicts"></table>')
        monkeypatch.setattr(mainjob, "LoadExperiment", runner)
        monkeypatch.setattr(mainjob, "start_benchmarks", StubBench(bench_code or 0, runner.events))
        argv = ["run", "-o", str(tmp_path / "run"), "--latest-dir", str(tmp_path / "latest")]
        if gates is not None:
            (tmp_path / "gates.toml").write_text(gates, encoding="utf-8")
            argv += ["--gates", str(tmp_path / "gates.toml")]
        if bench_code is None:
            argv.append("--skip-bench")
        code = main([*argv, *args])
        out = capsys.readouterr().out if capsys is not None else ""
        return code, runner, out

    return run


def test_failing_gate_set_exits_with_the_gate_failure_code(job: Any, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, runner, out = job("--only", "io", gates=FAILING_GATES, capsys=capsys)
    assert code == exitcodes.GATE_FAILED == 1
    assert [name for name, _ in runner.calls] == ["io"]
    assert "FAIL" in out
    assert ">= 100" in out
    for name in mainjob.REPORT_FILES:
        assert (tmp_path / "run" / name).is_file()
        assert (tmp_path / "latest" / name).is_file()
    report = json.loads((tmp_path / "latest" / "results.json").read_text(encoding="utf-8"))
    assert report["outcome"] == "fail"
    assert report["exit_code"] == 1


def test_whole_matrix_passing_writes_report_and_latest(job: Any, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "latest").mkdir()
    (tmp_path / "latest" / "stale.txt").write_text("from an older run", encoding="utf-8")
    code, runner, out = job(bench_code=0, capsys=capsys, real_html=True)
    assert code == exitcodes.OK, out
    assert [name for name, _ in runner.calls] == list(MATRIX)
    assert "[1/5] io" in out
    assert "[5/5] server" in out
    assert "live" not in out  # the per-second live lines only with -v
    assert "### Main job" in out
    assert "microbenchmarks: passed" in out
    latest = sorted(p.name for p in (tmp_path / "latest").iterdir())
    assert latest == sorted([*mainjob.REPORT_FILES, "bench.json", "run.json"])  # stale files are gone
    html = (tmp_path / "latest" / "index.html").read_text(encoding="utf-8")
    assert 'id="verdicts"' in html
    assert "test_jwt_encode" in html
    manifest = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert manifest["exit_code"] == 0
    assert manifest["bench"] == "passed"
    assert manifest["plan"] == "default"
    assert set(manifest["results"]) == set(MATRIX)


def test_options_passed_to_the_load_runner(job: Any, tmp_path: Path) -> None:
    code, runner, _ = job("--quick", "--only", "cache,io", "--seed", "7")
    assert code == exitcodes.OK
    assert [name for name, _ in runner.calls] == ["cache", "io"]
    for name, opts in runner.calls:
        assert opts.quick is True
        assert opts.seed == 7
        assert opts.backend == "sqlite"
        assert (opts.rounds, opts.round_seconds, opts.warmup) == (mainjob.QUICK.rounds, mainjob.QUICK.round_seconds,
                                                                 mainjob.QUICK.warmup)
        assert opts.database_url is None
        assert opts.redis_url is None
        assert Path(opts.output) == tmp_path / "run" / name


def test_invalid_results_exit_3(job: Any) -> None:
    runner = StubRunner({"io": lambda: healthy("io", valid=False)})
    code, _, _ = job("--only", "io", runner=runner)
    assert code == exitcodes.INVALID_RUN


def test_an_experiment_that_cannot_run_makes_the_run_invalid_but_the_rest_is_reported(
        job: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = StubRunner(fail={"cache": HarnessError("server for arm cached died", exitcodes.INVALID_RUN)})
    code, runner, _out = job("--only", "io,cache,middleware", runner=runner, capsys=capsys)
    assert code == exitcodes.INVALID_RUN
    assert [name for name, _ in runner.calls] == ["io", "cache", "middleware"]  # it carried on
    summary = (tmp_path / "latest" / "summary.md").read_text(encoding="utf-8")
    assert "cache did not run" in summary
    assert "server for arm cached died" in summary
    assert json.loads((tmp_path / "latest" / "results.json").read_text())["results"][1]["profile"] == "middleware"


def test_a_crashing_experiment_is_reported_not_raised(job: Any) -> None:
    code, runner, _ = job("--only", "io,middleware", runner=StubRunner(fail={"io": KeyError("p95_ms")}))
    assert code == exitcodes.INVALID_RUN
    assert [name for name, _ in runner.calls] == ["io", "middleware"]


def test_every_experiment_starts_before_any_is_measured_and_each_is_closed(job: Any) -> None:
    code, runner, _ = job("--only", "io,cache,middleware")
    assert code == exitcodes.OK
    kinds = [kind for kind, _ in runner.events]
    assert sorted(name for kind, name in runner.events if kind == "start") == ["cache", "io", "middleware"]
    assert kinds.index("measure") > max(i for i, k in enumerate(kinds) if k == "start")
    # Measured in matrix order; each closed (in the background) after it was measured, all by the end.
    assert [name for kind, name in runner.events if kind == "measure"] == ["io", "cache", "middleware"]
    for name in ("io", "cache", "middleware"):
        assert runner.events.count(("close", name)) == 1
        assert runner.events.index(("close", name)) > runner.events.index(("measure", name))


def test_an_experiment_that_cannot_start_is_reported_and_the_others_run(
        job: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = StubRunner(fail_start={"cache": HarnessError("uvicorn exited with 3", exitcodes.INVALID_RUN)})
    code, runner, out = job("--only", "io,cache,middleware", runner=runner, capsys=capsys)
    assert code == exitcodes.INVALID_RUN
    assert [name for name, _ in runner.calls] == ["io", "middleware"]
    assert ("close", "cache") in runner.events
    assert ("measure", "cache") not in runner.events
    assert "[cache] FAILED (exit 3): uvicorn exited with 3" in out
    summary = (tmp_path / "latest" / "summary.md").read_text(encoding="utf-8")
    assert "cache did not run" in summary


def test_a_usage_error_while_starting_is_still_exit_2(job: Any) -> None:
    runner = StubRunner(fail_start={"io": HarnessError("--backend postgres needs --database-url", exitcodes.USAGE)})
    code, runner, _ = job("--only", "io,cache", runner=runner, bench_code=0)
    assert code == exitcodes.USAGE
    assert runner.calls == []
    assert {("close", "io"), ("close", "cache")} <= set(runner.events)
    assert ("bench", "abort") in runner.events  # the held benchmarks are let go, not run
    assert ("bench", "finish") not in runner.events


def test_benchmarks_start_with_the_servers_and_run_after_the_load(job: Any) -> None:
    code, runner, _ = job("--only", "io,cache", bench_code=0)
    assert code == exitcodes.OK
    events = runner.events
    assert events.index(("bench", "start")) < events.index(("start", "io"))
    last_load = max(i for i, (kind, _) in enumerate(events) if kind in ("measure", "close"))
    assert events.index(("bench", "finish")) > last_load


def test_nothing_ran_is_invalid_and_leaves_latest_alone(job: Any, tmp_path: Path) -> None:
    runner = StubRunner(fail={"io": HarnessError("containers failed", exitcodes.INVALID_RUN)})
    code, _, _ = job("--only", "io", runner=runner)
    assert code == exitcodes.INVALID_RUN
    assert not (tmp_path / "latest").exists()


@pytest.mark.parametrize(("pytest_code", "expected"), [(1, exitcodes.GATE_FAILED), (4, exitcodes.INVALID_RUN),
                                                       (5, exitcodes.INVALID_RUN)])
def test_benchmark_outcome_joins_the_exit_code(job: Any, pytest_code: int, expected: int) -> None:
    code, _, _ = job("--only", "io", bench_code=pytest_code)
    assert code == expected


def test_invalid_beats_failed(job: Any) -> None:
    code, _, _ = job("--only", "io", runner=StubRunner({"io": lambda: healthy("io", valid=False)}),
                     gates=FAILING_GATES, bench_code=1)
    assert code == exitcodes.INVALID_RUN
    assert mainjob.worst(1, 3, 0) == 3
    assert mainjob.worst(0, 1) == 1
    assert mainjob.worst(0, 0) == 0


@pytest.mark.parametrize("args", [("--only", "io,nope"), ("--only", ","), ("--only", "io,io"), ("--only", "io,soak"),
                                  ("--gates", "/nonexistent/gates.toml"), ("--baseline", "/nonexistent/b.json")])
def test_bad_input_is_exit_2_before_any_load(job: Any, args: tuple[str, ...],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    runner = StubRunner()
    code, _, _ = job(*args, runner=runner)
    assert code == exitcodes.USAGE
    assert runner.calls == []
    assert "harness: error:" in capsys.readouterr().err


def test_malformed_gates_are_exit_2_before_any_load(job: Any) -> None:
    runner = StubRunner()
    code, _, _ = job("--only", "io", runner=runner, gates='[[gate]]\nkind = "absolute"\nexpr = "p95 < 2 fortnights"\n')
    assert code == exitcodes.USAGE
    assert runner.calls == []


def test_aa_baseline_comparison_passes_or_is_inconclusive(job: Any, tmp_path: Path) -> None:
    """Same code twice (A/A): baseline gates may pass or be inconclusive, never fail."""
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(healthy("io", seed=11)), encoding="utf-8")
    gates = PASSING_GATES + """
[[gate]]
kind = "baseline"
profile = "io"
metric = "rps"
max_regression = "5%"

[[gate]]
kind = "baseline"
profile = "io"
metric = "p95"
max_regression = "5%"
"""
    for seed in (12, 13, 14):
        runner = StubRunner({"io": lambda seed=seed: healthy("io", seed=seed)})
        code, _, _ = job("--only", "io", "--baseline", str(baseline), runner=runner, gates=gates)
        assert code == exitcodes.OK
        report = json.loads((tmp_path / "latest" / "results.json").read_text(encoding="utf-8"))
        outcomes = [g["outcome"] for g in report["gates"]["gates"] if g["gate"]["kind"] == "baseline"]
        assert outcomes
        assert set(outcomes) <= {"pass", "inconclusive"}


# -- the repository's default gates.toml ----------------------------------------------------------------

def test_default_gates_name_only_arms_the_experiments_have() -> None:
    from load.experiment import from_target

    EXPERIMENTS = from_target(TARGET)  # noqa: N806 - reads like the constant it was
    from reports.gatespec import load_gates

    specs = load_gates(DEFAULT_GATES)
    assert specs
    # Every matrix experiment is gated; gates may also cover experiments run with --only (jobs).
    assert set(MATRIX) <= {s.profile for s in specs} <= set(EXPERIMENTS)
    for spec in specs:
        arms = {a.name for a in EXPERIMENTS[spec.profile].arms}
        named = {a for a in (spec.arm, spec.numerator, spec.denominator) if a}
        assert named <= arms, (spec.name, named, arms)
    raw = tomllib.loads(DEFAULT_GATES.read_text(encoding="utf-8"))
    assert all("profile" in g for g in raw["gate"])


def test_default_gates_pass_a_healthy_matrix(job: Any) -> None:
    code, _, _ = job("--gates", str(DEFAULT_GATES), gates=None)
    assert code == exitcodes.OK


@pytest.mark.parametrize(("profile", "regressed"), [
    # BaseHTTPMiddleware: 0.12 of bare (NOTES-performance.md)
    ("middleware", {"bare": Arm(rps=900, noise=0.04), "full": Arm(rps=110, noise=0.04)}),
    # a blocking call in the async handler: async no better than the thread pool
    ("io", {"io_sync": Arm(rps=190, noise=0.03, bound_rps=200, bound_kind="thread_pool"),
            "io_async": Arm(rps=5, noise=0.03, bound_rps=1000)}),
    # the limiter stopped limiting
    ("ratelimit", {"unlimited": Arm(rps=200, noise=0.02),
                   "limited": Arm(rps=200, noise=0.02, rate_limited_fraction=0.0, bound_rps=50,
                                  bound_kind="rate_limit")}),
    # the cache hit went back to the database: no faster than a miss
    ("cache", {"uncached": Arm(rps=400, noise=0.04), "cached": Arm(rps=390, noise=0.04),
               "hello": Arm(rps=1500, noise=0.04)}),
    # a hit paying a thread hop per dependency: far from the cheapest request
    ("cache", {"uncached": Arm(rps=100, noise=0.04), "cached": Arm(rps=250, noise=0.04),
               "hello": Arm(rps=1500, noise=0.04)}),
    # 5% of requests fail
    ("server", {"uvicorn_1": Arm(rps=800, noise=0.04), "gunicorn_2": Arm(rps=800, noise=0.04, error_rate=0.05)}),
])
def test_default_gates_catch_real_regressions(job: Any, profile: str, regressed: dict[str, Arm]) -> None:
    runner = StubRunner({profile: lambda: make_results(regressed, profile=profile, rounds=5, seed=3)})
    code, _, _ = job("--only", profile, "--gates", str(DEFAULT_GATES), runner=runner, gates=None)
    assert code == exitcodes.GATE_FAILED


# -- backend ------------------------------------------------------------------------------------------

def test_backend_sqlite_needs_nothing() -> None:
    with backend_urls("sqlite", print) as urls:
        assert urls == (None, None)


def test_backend_postgres_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATABASE_URL", "postgres://u:p@db.example:5432/x")
    monkeypatch.setenv("HARNESS_REDIS_URL", "redis://cache.example:6379/0")
    with backend_urls("postgres", print) as urls:
        assert urls == ("postgresql+asyncpg://u:p@db.example:5432/x", "redis://cache.example:6379/0")
    assert asyncpg_url("postgresql+asyncpg://a/b") == "postgresql+asyncpg://a/b"


def test_postgres_urls_reach_the_load_runner(job: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/x")
    monkeypatch.setenv("HARNESS_REDIS_URL", "redis://127.0.0.1:6379/0")
    code, runner, _ = job("--only", "io", "--backend", "postgres")
    assert code == exitcodes.OK
    (_, opts), = runner.calls
    assert opts.backend == "postgres"
    assert opts.database_url == "postgresql+asyncpg://u:p@127.0.0.1:5432/x"
    assert opts.redis_url == "redis://127.0.0.1:6379/0"


def test_backend_postgres_without_engine_is_a_setup_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("HARNESS_REDIS_URL", "redis://127.0.0.1:6379/0")
    from harness.containers import engine

    monkeypatch.setattr(engine, "ping", lambda *a, **k: None)
    with pytest.raises(HarnessError) as err, backend_urls("postgres", print):
        pass
    assert err.value.exit_code == exitcodes.INVALID_RUN
    assert "HARNESS_DATABASE_URL" in str(err.value)


# -- end to end (starts servers and Locust) -----------------------------------------------------------

@pytest.mark.load
def test_tiny_real_run_with_a_gate_that_must_fail(tmp_path: Path) -> None:
    """One real experiment (middleware, quick plan), no benchmarks: a must-fail gate gives exit 1."""
    gates = tmp_path / "gates.toml"
    gates.write_text('[[gate]]\nkind = "relative"\nprofile = "middleware"\nexpr = "rps[full] / rps[bare] >= 100"\n'
                     '[[gate]]\nkind = "absolute"\nprofile = "middleware"\nexpr = "error_rate < 1%"\n',
                     encoding="utf-8")
    code = main(["run", "--quick", "--only", "middleware", "--skip-bench", "--gates", str(gates),
                 "-o", str(tmp_path / "run"), "--latest-dir", str(tmp_path / "latest")])
    assert code == exitcodes.GATE_FAILED
    report = json.loads((tmp_path / "latest" / "results.json").read_text(encoding="utf-8"))
    outcomes = [g["outcome"] for g in report["gates"]["gates"]]
    assert outcomes == ["fail", "pass"]
    assert (tmp_path / "run" / "middleware" / "results.json").is_file()


@pytest.mark.load
def test_held_benchmarks_wait_for_the_go_and_a_stop_runs_none(tmp_path: Path) -> None:
    """The real pytest subprocess: held after collection, released by ``finish`` or let go by ``abort``."""
    plan = mainjob.QUICK
    (tmp_path / "stopped").mkdir()
    held = mainjob.HeldBenchmarks(tmp_path / "stopped", plan, lambda _line: None)
    held.abort()
    assert held.proc.returncode not in (0, None)  # pytest.exit() from tests/bench/conftest.py
    assert not (tmp_path / "stopped" / "bench.json").exists()
    assert "released the benchmarks without running them" in (tmp_path / "stopped" / "bench.log").read_text()

    (tmp_path / "ran").mkdir()
    held = mainjob.HeldBenchmarks(tmp_path / "ran", plan, lambda _line: None)
    assert held.proc.poll() is None  # collected (or still collecting), and waiting
    code, path = held.finish()
    assert code == 0
    assert path is not None
    assert len(json.loads(path.read_text(encoding="utf-8"))["benchmarks"]) >= 6


def test_quiet_prints_no_progress_only_the_summary_and_verdict(job: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, out = job("--only", "io", "--quiet", capsys=capsys)
    assert code == exitcodes.OK, out
    assert "[1/1] io" not in out
    assert "s] " not in out  # no timestamped progress line at all
    assert "### Main job" in out  # the closing summary stays, as pytest -q keeps its summary
    assert out.splitlines()[-1].startswith("harness run: pass")


def test_force_color_shows_the_live_panel_and_renders_the_summary(job: Any, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    code, _, out = job("--only", "io", capsys=capsys)
    assert code == exitcodes.OK, out
    assert "\x1b[" in out  # rich wrote to a "terminal"
    assert "### Main job" not in out  # Markdown rendered, not dumped
    assert "Main job" in out
    assert out.splitlines()[-1].startswith("harness run: pass")


def test_verbose_and_quiet_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--quiet", "--verbose"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
