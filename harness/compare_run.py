"""The load runner with one target per arm: base and head each start from their own tree.

``load.runner.ExperimentRun`` starts every arm's server from one target. A comparison of two
revisions needs each side's server started from its own target (its tree as ``app_dir``, its
interpreter, its migrate command), so this run starts one ``load.servers.ServerSet`` per side, each
with its own one-off migration, and hands the runner's unchanged ``measure`` (warm-up, interleaved
rounds, analysis, results.json) the two sides as its two arms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.exitcodes import HarnessError
from harness.target import Target
from load.experiment import Experiment
from load.runner import DriverPool, ExperimentRun, Progress, RunOptions
from load.servers import MigratedSchema, ServerSet


class CompareRun(ExperimentRun):
    """``ExperimentRun`` whose arms (named after the sides) each run on ``targets[arm.name]``."""

    def __init__(self, experiment: Experiment, targets: Mapping[str, Target], options: RunOptions, *,
                 progress: Progress = print) -> None:
        missing = [a.name for a in experiment.arms if a.name not in targets]
        if missing:
            raise ValueError(f"no target for arm(s) {missing}")
        head = targets[experiment.arms[-1].name]
        super().__init__(experiment, head, options, progress=progress)
        self.targets = dict(targets)

    def start(self) -> None:
        """Each side's servers (after its own migration) and the Locust processes, concurrently."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.pool is None:
            self.pool = self.enter_context(DriverPool(self.out / "logs", cwd=self.target.root))
        sets: dict[str, ServerSet] = {}
        for arm in self.exp.arms:
            target = self.targets[arm.name]
            side_dir = self.out / arm.name
            one = dataclasses.replace(self.exp, arms=(arm,))
            sets[arm.name] = self.enter_context(ServerSet(one, target, self.opts, side_dir, self._side(arm.name),
                                                          MigratedSchema(target, self.opts, side_dir / "schema")))
        profiles = list(dict.fromkeys(a.locustfile for a in self.exp.arms))
        with ThreadPoolExecutor(max_workers=len(sets) + len(profiles)) as pool:
            started = {side: pool.submit(s.start_all) for side, s in sets.items()}
            drivers = [pool.submit(self._driver, path) for path in profiles]
            errors = [f.exception() for f in (*started.values(), *drivers)]
        for side, future in started.items():
            exc = future.exception()
            if isinstance(exc, HarnessError):  # say which revision would not start (its log tail follows)
                raise HarnessError(f"the {side} side failed to start: {exc}", exc.exit_code) from exc
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        # ``measure`` looks every arm up in one ServerSet's ``by_arm``: the last side's, holding both.
        combined = sets[self.exp.arms[-1].name]
        for one_side in sets.values():
            combined.by_arm.update(one_side.by_arm)
        self.servers = combined

    def _side(self, side: str) -> Progress:
        def report(line: str) -> None:
            self.progress(f"[{side}] {line}")

        return report

    @property
    def sides_out(self) -> dict[str, Path]:
        return {a.name: self.out / a.name for a in self.exp.arms}
