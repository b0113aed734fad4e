"""A soak: one server under a steady offered load for minutes, its memory sampled every few seconds.

A 30-second A/B round cannot see a service that grows 50 MB a minute. Here the experiment's one arm
runs as a single long Locust round (the locustfile paces its users, so the offered load is steady),
while a sampler thread records, every ``sample_s`` seconds, what psutil sees of the processes the
harness started: RSS per server process (every gunicorn worker, the master included), open
descriptors, threads, and the RSS of every Locust process (a generator leak is not the server's).
When the experiment names Prometheus series (``soak.metrics``, e.g. the DB pool's checked-out
connections) they are scraped from the app on the same tick. The driver's progress events add rps
and a per-second p95 to the same time axis.

The analysis (load/soakstats.py) fits the RSS slope after the warm-up with a CI fit for
autocorrelated samples; the gates are the slope's upper bound against the declared budget, growth
after the warm-up, and flat descriptors and threads. Output: ``soak.json``, ``soak.png``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from harness import exitcodes
from harness.progress import RoundStatus, live_line
from harness.server import http_get
from harness.target import Soak, Target
from load import soakstats
from load.experiment import Experiment
from load.fingerprint import fingerprint
from load.rounds import RoundSpec
from load.runner import ExperimentRun, RunOptions, profile_env

Progress = Callable[[str], None]
MB = 2**20
MAX_FAILURE_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class SoakPlan:
    seconds: float
    warmup_s: float
    sample_s: float


def plan_for(soak: Soak, opts: RunOptions, duration: float | None = None,
             sample_s: float | None = None) -> SoakPlan:
    seconds = duration or (soak.quick_seconds if opts.quick else soak.seconds)
    warmup = opts.warmup if opts.warmup is not None else (soak.quick_warmup_s if opts.quick else soak.warmup_s)
    every = sample_s or (soak.quick_sample_s if opts.quick else soak.sample_s)
    if warmup >= seconds:
        raise exitcodes.HarnessError(f"the warm-up ({warmup:g} s) must be shorter than the soak ({seconds:g} s)")
    return SoakPlan(float(seconds), float(warmup), float(every))


def process_stats(pids: list[int]) -> dict[str, Any]:
    """RSS (MB) per pid and in total, open descriptors and threads summed over ``pids`` (gone ones skipped)."""
    rss: dict[str, float] = {}
    fds = threads = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                rss[str(pid)] = round(proc.memory_info().rss / MB, 2)
                fds += proc.num_fds()
                threads += proc.num_threads()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return {"rss_mb": round(sum(rss.values()), 2), "rss_by_pid": rss, "fds": fds, "threads": threads}


def scrape(base_url: str, path: str, wanted: Mapping[str, str]) -> dict[str, float]:
    """The wanted Prometheus samples from ``base_url + path``; nothing when the app doesn't answer."""
    try:
        status, body = http_get(base_url, path, timeout=2.0)
    except OSError:
        return {}
    return parse_metrics(body.decode("utf-8", "replace"), wanted) if status == 200 else {}


def parse_metrics(text: str, wanted: Mapping[str, str]) -> dict[str, float]:
    """The sum over label sets of each wanted sample (reported name -> sample name); missing ones omitted."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = {}
    by_sample = {sample: name for name, sample in wanted.items()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = by_sample.get(sample.name)
            if name is not None:
                totals[name] = totals.get(name, 0.0) + float(sample.value)
    return totals


class Sampler(threading.Thread):
    """Samples the server and generator processes every ``every`` seconds until ``stop()``."""

    def __init__(self, every: float, server_pids: Callable[[], list[int]], generator_pids: Callable[[], list[int]],
                 metrics: Callable[[], dict[str, float]] | None = None) -> None:
        super().__init__(daemon=True, name="soak-sampler")
        self.every, self.server_pids, self.generator_pids, self.metrics = every, server_pids, generator_pids, metrics
        self.samples: list[dict[str, Any]] = []
        self._halt = threading.Event()

    def sample(self) -> dict[str, Any]:
        srv, gen = process_stats(self.server_pids()), process_stats(self.generator_pids())
        record = {"wall": time.time(), "server_rss_mb": srv["rss_mb"], "server_rss_by_pid": srv["rss_by_pid"],
                  "server_fds": srv["fds"], "server_threads": srv["threads"],
                  "generator_rss_mb": gen["rss_mb"], "generator_rss_by_pid": gen["rss_by_pid"]}
        if self.metrics is not None:
            record["metrics"] = self.metrics()
        return record

    def run(self) -> None:
        next_at = time.monotonic()
        while not self._halt.is_set():
            self.samples.append(self.sample())
            next_at += self.every
            self._halt.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> list[dict[str, Any]]:
        self._halt.set()
        self.join(timeout=30)
        return self.samples


def relative(records: list[dict[str, Any]], load_start: float) -> list[dict[str, Any]]:
    """Records with ``t``: seconds since the measured load started (negative while idle or spawning)."""
    return [{"t": round(r["wall"] - load_start, 2), **{k: v for k, v in r.items() if k != "wall"}} for r in records]


def run_soak(experiment: Experiment, target: Target, opts: RunOptions, *, duration: float | None = None,
             sample_s: float | None = None, progress: Progress = print) -> dict[str, Any]:
    """Start the arm's server and Locust, run the soak, analyse, write soak.json and soak.png."""
    soak = experiment.soak
    if soak is None:
        raise exitcodes.HarnessError(f"{experiment.name} is not a soak experiment (no soak table)")
    plan = plan_for(soak, opts, duration, sample_s)
    with ExperimentRun(experiment, target, opts, progress=progress) as run:
        run.start()
        assert run.servers is not None
        arm = run.exp.arms[0]
        server = run.servers.by_arm[arm.name]
        if server.server is None:
            raise exitcodes.HarnessError(f"arm {arm.name} is a URL: a soak samples the server processes the "
                                         "harness starts, so it needs a server it starts")
        driver = run.drivers[arm.locustfile]
        metrics = None
        if soak.metrics:
            path = soak.metrics_path or "/metrics"
            metrics = lambda: scrape(server.base_url, path, soak.metrics)  # noqa: E731 - a one-line closure
        sampler = Sampler(plan.sample_s, server.pids, driver.pids, metrics)
        timeline: list[dict[str, Any]] = []
        load_start: list[float] = []
        wants_live = bool(getattr(progress, "wants_live_lines", False))

        def live(event: Mapping[str, Any]) -> None:
            if not load_start:
                load_start.append(float(event["t"]) - float(event["elapsed"]))
            timeline.append({"t": round(float(event["elapsed"]), 2), "rps": round(float(event["rps"]), 1),
                             "p95_ms": event.get("p95_ms"), "failures": event.get("failures")})
            if wants_live:  # the live panel on a terminal (--verbose prints these too); plain logs: 1 line/30 s
                status = RoundStatus(run.name, arm.name, "soak", float(event["elapsed"]), float(event["rps"]))
                progress(live_line(f"[{run.name}] {arm.name} soak: {status.elapsed:6.0f}s live {status.rps:5.0f} rps",
                                   status))
            if len(timeline) % 30 == 0:
                last = sampler.samples[-1] if sampler.samples else {}
                progress(f"[{run.name}] {event['elapsed']:6.0f}s / {plan.seconds:g}s: {event['rps']:5.0f} rps, "
                         f"p95 {event.get('p95_ms')} ms, server RSS {last.get('server_rss_mb', 0):.0f} MB")

        progress(f"[{run.name}] soak {run.run_id}: {plan.seconds:g}s ({plan.warmup_s:g}s warm-up), "
                 f"{run.users} users, a sample every {plan.sample_s:g}s")
        spec = RoundSpec(host=server.base_url, users=run.users, seconds=plan.seconds, spawn_rate=opts.spawn_rate,
                         options=profile_env(arm, run.opts, server.options), settle_s=0.5)
        sampler.start()
        try:
            res = driver.run(spec, server_pids=server.pids, on_progress=live)
        finally:
            records = sampler.stop()
        if not server.alive():
            raise exitcodes.HarnessError(f"the server died during the soak; see {server.server.log_path}",
                                         exitcodes.INVALID_RUN)
        samples = relative(records, load_start[0] if load_start else records[0]["wall"])
        doc = soak_doc(run, plan, soak, samples, timeline, res)
        run.out.mkdir(parents=True, exist_ok=True)
        doc["plot"] = str(plot_soak(doc, run.out / "soak.png"))
        out = run.out / "soak.json"
        out.write_text(json.dumps(doc, indent=1) + "\n")
        doc["_path"] = str(out)
        progress(f"[{run.name}] wrote {out} and {doc['plot']}")
        return doc


def invalid_reasons(analysis: Mapping[str, Any], total: Mapping[str, Any]) -> list[str]:
    reasons = [analysis["error"]] if "error" in analysis else []
    if total["requests"] == 0:
        reasons.append("no request completed")
    elif total["failures"] > MAX_FAILURE_SHARE * total["requests"]:
        # Failing requests are cheap: memory measured under them says little about the real work
        # (a first 30-minute soak ran into expired tokens: 39% 401s, and a verdict of "pass").
        reasons.append(f"{total['failures']} of {total['requests']} requests failed "
                       f"(over {100 * MAX_FAILURE_SHARE:g}%); see the Locust log")
    return reasons


def soak_doc(run: ExperimentRun, plan: SoakPlan, soak: Soak, samples: list[dict[str, Any]],
             timeline: list[dict[str, Any]], res: Mapping[str, Any]) -> dict[str, Any]:
    budget = soakstats.SoakBudget(slope_mb_per_min=soak.budget_mb_per_min, growth_percent=soak.max_growth_percent,
                                  fd_slack=soak.fd_slack, thread_slack=soak.thread_slack)
    analysis = soakstats.analyse(samples, plan.warmup_s)
    gates = soakstats.gates(analysis, budget) if "error" not in analysis else []
    total = res["total"]
    reasons = invalid_reasons(analysis, total)
    notes = []
    gen_growth = analysis.get("generator_rss_growth_percent")
    if gen_growth is not None and gen_growth > budget.growth_percent:
        notes.append(f"the load generator's RSS grew {gen_growth:.1f}% (Locust, not the server)")
    return {
        "format": "fastapi-harness.soak", "format_version": 1, "run_id": run.run_id, "profile": run.name,
        "description": run.exp.description, "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "environment": fingerprint(run.opts.backend, run.target),
        "config": {"users": run.users, "seconds": plan.seconds, "warmup_s": plan.warmup_s,
                   "sample_s": plan.sample_s, "quick": run.opts.quick, "seed": run.opts.seed,
                   "server": run.servers.by_arm[run.exp.arms[0].name].kind[0] if run.servers else None,
                   "budget": {"slope_mb_per_min": budget.slope_mb_per_min, "growth_percent": budget.growth_percent,
                              "fd_slack": budget.fd_slack, "thread_slack": budget.thread_slack}},
        "totals": {"requests": int(total["requests"]), "failures": int(total["failures"]), "rps": total["rps"],
                   "p95_ms": total["p95_ms"], "p99_ms": total["p99_ms"],
                   "checks_failed": int((res.get("counters") or {}).get("checks_failed", 0))},
        "analysis": analysis, "gates": gates,
        "verdict": "invalid" if reasons else ("pass" if all(g["passed"] for g in gates) else "fail"),
        "validity": {"valid": not reasons, "reasons": reasons, "notes": notes},
        "samples": samples, "timeline": timeline,
    }


def exit_code(doc: Mapping[str, Any]) -> int:
    return {"pass": exitcodes.OK, "fail": exitcodes.GATE_FAILED}.get(doc["verdict"], exitcodes.INVALID_RUN)


def print_soak(doc: Mapping[str, Any], out: Any = None) -> None:
    import sys

    out = out or sys.stdout
    a, t = doc["analysis"], doc["totals"]
    print(f"\n{doc['profile']} ({doc['run_id']}): {doc.get('description', '')}", file=out)
    print(f"  {doc['config']['seconds']:g}s, warm-up {doc['config']['warmup_s']:g}s, {len(doc['samples'])} samples; "
          f"{t['rps']:.0f} rps, p95 {t['p95_ms']} ms, {t['failures']} failures", file=out)
    if "rss_slope" in a:
        s = a["rss_slope"]
        print(f"  server RSS: idle {a['rss_idle_mb'] or 0:.0f} MB, after warm-up {a['rss_start_mb']:.0f} MB, "
              f"end {a['rss_end_mb']:.0f} MB, growth {a['rss_growth_percent']:+.1f}%", file=out)
        print(f"  RSS slope {s['slope']:+.3f} MB/min, 95% CI [{s['low']:+.3f}, {s['high']:+.3f}] "
              f"({s['batches']} batches, rho {s['rho']:.2f})", file=out)
        if "generator_rss_growth_percent" in a:
            print(f"  generator RSS growth {a['generator_rss_growth_percent']:+.1f}%", file=out)
    for g in doc["gates"]:
        measured = "-" if g["measured"] is None else f"{g['measured']:.3f}"
        print(f"  gate {g['gate']:<13} {measured:>9} <= {g['limit']:g}: {'pass' if g['passed'] else 'FAIL'}"
              f"  ({g['text']})", file=out)
    for reason in doc["validity"]["reasons"]:
        print(f"  INVALID: {reason}", file=out)
    for note in doc["validity"]["notes"]:
        print(f"  note: {note}", file=out)
    print(f"  verdict: {doc['verdict']}", file=out)
    if doc.get("_path"):
        print(f"  results: {doc['_path']}\n  plot: {doc.get('plot')}", file=out)


def plot_soak(doc: Mapping[str, Any], path: Path) -> Path:
    """RSS (server per process and total, with the fit), generator RSS, rps and p95, descriptors and threads."""
    from matplotlib.figure import Figure

    samples, timeline, a = doc["samples"], doc["timeline"], doc["analysis"]
    warmup = doc["config"]["warmup_s"] / 60
    fig = Figure(figsize=(10, 9))
    ax_rss, ax_gen, ax_load, ax_cnt = fig.subplots(4, 1, sharex=True)
    minutes = [s["t"] / 60 for s in samples]
    ax_rss.plot(minutes, [s["server_rss_mb"] for s in samples], color="#1f77b4", label="server RSS (all processes)")
    pids = sorted({p for s in samples for p in s["server_rss_by_pid"]})
    if len(pids) > 1:
        for pid in pids:
            pts = [(s["t"] / 60, s["server_rss_by_pid"][pid]) for s in samples if pid in s["server_rss_by_pid"]]
            ax_rss.plot([p[0] for p in pts], [p[1] for p in pts], lw=0.8, alpha=0.7, label=f"pid {pid}")
    if "rss_slope" in a:
        s = a["rss_slope"]
        after = [m for m in minutes if m >= warmup]
        mid_m = (after[0] + after[-1]) / 2
        mid_y = (a["rss_start_mb"] + a["rss_end_mb"]) / 2
        ax_rss.plot([after[0], after[-1]], [mid_y + s["slope"] * (after[0] - mid_m), mid_y + s["slope"] *
                                            (after[-1] - mid_m)], "--", color="#d62728",
                    label=f"slope {s['slope']:+.2f} MB/min [{s['low']:+.2f}, {s['high']:+.2f}]")
    ax_rss.set_ylabel("MB")
    ax_rss.set_title(f"{doc['profile']} soak {doc['run_id']}: verdict {doc['verdict']}, "
                     f"RSS growth {a.get('rss_growth_percent', float('nan')):+.1f}% after warm-up")
    ax_rss.legend(fontsize=7, loc="lower right")
    ax_gen.plot(minutes, [s["generator_rss_mb"] for s in samples], color="#7f7f7f", label="Locust RSS (all processes)")
    ax_gen.set_ylabel("MB")
    ax_gen.legend(fontsize=7, loc="lower right")
    tm = [p["t"] / 60 for p in timeline]
    ax_load.plot(tm, [p["rps"] for p in timeline], color="#2ca02c", lw=0.8, label="rps")
    ax_load.set_ylabel("rps")
    ax_p95 = ax_load.twinx()
    ax_p95.plot(tm, [p["p95_ms"] if p["p95_ms"] is not None else float("nan") for p in timeline],
                color="#ff7f0e", lw=0.8, label="p95 (ms, per second)")
    ax_p95.set_ylabel("p95 ms")
    ax_load.legend(fontsize=7, loc="upper left")
    ax_p95.legend(fontsize=7, loc="upper right")
    ax_cnt.plot(minutes, [s["server_fds"] for s in samples], label="open fds")
    ax_cnt.plot(minutes, [s["server_threads"] for s in samples], label="threads")
    for name in sorted({k for s in samples for k in s.get("metrics", {})}):
        ax_cnt.plot(minutes, [s.get("metrics", {}).get(name, float("nan")) for s in samples], label=name)
    ax_cnt.set_ylabel("count")
    ax_cnt.set_xlabel("minutes since the load started")
    ax_cnt.legend(fontsize=7, loc="upper left")
    for ax in (ax_rss, ax_gen, ax_load, ax_cnt):
        ax.axvspan(min(minutes[0], 0), warmup, color="#000000", alpha=0.06)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path

