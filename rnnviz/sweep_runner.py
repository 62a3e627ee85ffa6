"""A sweep's runs on a Runner's worker processes (rnnviz.runner): what the lab uses when no Ray
cluster is named. The same interface as the executors of rnnviz.sweep_exec: run(specs) yields
(spec, result) as runs finish, cancel() stops the rest. The runs belong to one student, so the
Runner's share per student holds for a sweep too, and another student's runs are not held up."""
from __future__ import annotations

import threading
from typing import Iterator, Sequence

from .run import Run
from .runner import Runner
from .sweep import METRICS, RunSpec, measure
from .tasks import make_task

STATUS = {"finished": "finished", "diverged": "diverged", "error": "error", "stopped": "cancelled"}


class RunnerExecutor:
    def __init__(self, runner: Runner, owner: str):
        self.runner, self.owner = runner, owner
        self._cancel = threading.Event()
        self._runs: list[Run] = []

    def run(self, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, dict]]:
        pending = []
        for spec in specs:
            run = Run(make_task(spec.task, **spec.options), spec.mcfg, spec.tcfg, owner=self.owner, lesson="sweep",
                      name=spec.name)
            pending.append((spec, self.runner.submit(run)))
            self._runs.append(run)
        while pending and not self._cancel.is_set():
            for item in [p for p in pending if p[1].ended.is_set()]:
                pending.remove(item)
                yield item[0], self.result(*item)
            self._cancel.wait(0.1)

    @staticmethod
    def result(spec: RunSpec, run: Run) -> dict:
        """run_one's result, from a run that ended in a worker (measured here, at its final weights)."""
        out = {"status": STATUS.get(run.state, "error"), "reason": run.reason, "metrics": dict.fromkeys(METRICS),
               "epochs": run.last_epoch, "steps": run.step, "seconds": run.resume.seconds if run.resume else 0.0,
               "history": None, "weights": None}
        if run.resume is not None and out["status"] in ("finished", "diverged"):
            engine = run.resume.engine(run.task, run.mcfg, run.tcfg)
            out["metrics"] = measure(engine, run.task, run.mcfg, run.tcfg)
            out["history"] = run.history.to_json()
            out["weights"] = {k: v.numpy() for k, v in run.resume.weights.items()}
        return out

    def cancel(self) -> None:
        self._cancel.set()
        for run in self._runs:
            if run.active:
                self.runner.stop(run, "the sweep was stopped")

    def close(self) -> None:
        self.cancel()

    def describe(self) -> str:
        return f"the lab's {self.runner.size} worker processes"
