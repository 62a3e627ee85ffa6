"""Where a sweep's runs execute: local processes (concurrent.futures) or a Ray cluster, one interface.

    with executor_from_env() as ex:              # LocalExecutor, or RayExecutor when RNNVIZ_RAY_ADDRESS is set
        for spec, result in ex.run(specs):       # each finished run as it finishes (any order)
            ...                                  # result: sweep.run_one's dict
    ex.cancel()                                  # from any thread: runs not finished are dropped

Both submit the same plain function, sweep.run_one(spec). After cancel(), run() yields nothing more;
the caller marks the rest "not run". The pickles travel only between our own processes (the specs we
planned, the results our workers made), never anything a user uploaded.

Ray is optional (requirements-ray.txt): it is imported only when a RayExecutor is made.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterator, Sequence

from . import sweep
from .processes import without_main
from .sweep import RunSpec, SweepError, run_one

RAY_ENV = "RNNVIZ_RAY_ADDRESS"
RAY_MISSING = "Ray is not installed: pip install -r requirements-ray.txt"
PACKAGE = str(Path(__file__).resolve().parent)   # shipped to a Ray cluster, so its workers run this code
POLL_S = 0.2    # how often run() looks for a cancel while it waits for runs


def _failed(reason: str) -> dict:
    return {"status": "error", "reason": reason, "metrics": dict.fromkeys(sweep.METRICS), "epochs": 0,
            "steps": 0, "seconds": 0.0, "history": None, "weights": None}


def _init_worker(stop) -> None:
    """In each worker process: Ctrl-C is the parent's to handle (it cancels); STOP ends a run at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sweep.STOP = stop


class LocalExecutor:
    """Runs on this machine: a ProcessPoolExecutor of spawned processes (safe from a threaded parent,
    such as the Streamlit server), one run per process at a time, `workers` (default: the cores) at once."""

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()                  # seen by every worker: the runs in progress stop
        self._cancelled = threading.Event()
        self._running: set = set()
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                         initargs=(self._stop,))

    def run(self, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, dict]]:
        self._cancelled.clear()
        self._stop.clear()
        with without_main():                      # submit starts the spawned processes
            futures = {self._pool.submit(run_one, s): s for s in specs}
        pending = self._running = set(futures)
        try:
            while pending and not self._cancelled.is_set():
                done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                self._running = pending
                for f in sorted(done, key=lambda f: futures[f].index):
                    if self._cancelled.is_set():
                        return
                    try:
                        result = f.result()
                    except BrokenProcessPool:
                        result = _failed("a worker process died (out of memory?) during this run")
                    if result["status"] != "cancelled":
                        yield futures[f], result
        finally:
            if pending:          # the caller stopped early (an exception, a break): drop the rest
                self.cancel()

    def cancel(self) -> None:
        """Drop the runs not started, stop the ones in progress at their next step, and return once
        none of them is still training (about a step and a measurement)."""
        self._cancelled.set()
        running = [f for f in list(self._running) if not f.cancel()]
        if running:
            self._stop.set()
            wait(running, timeout=60)
        self._stop.clear()

    def close(self) -> None:
        self.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.workers} local process{'es' if self.workers > 1 else ''}"


def import_ray():
    """The optional dependency, imported here only (a sweep without Ray must not need it)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")   # no usage report: this machine has no internet
    try:
        import ray  # noqa: PLC0415 - the one import inside a function: Ray is optional
    except ImportError:
        raise SweepError(RAY_MISSING) from None
    return ray


REACH_S = 5.0     # how long a Ray address may take to answer a TCP connect


def check_reachable(address: str | None) -> None:
    """SweepError unless a cluster address (host:port, ray://host:port) answers a TCP connect within
    REACH_S: Ray itself retries an unreachable one for minutes. local and auto are on this machine."""
    if address in (None, "", "local", "auto"):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SweepError(f"the Ray address {address[:80]!r} is not host:port, ray://host:port, auto or local")
    try:
        socket.create_connection((host, int(port)), timeout=REACH_S).close()
    except OSError as e:
        raise SweepError(f"cannot reach the Ray cluster {address!r}: {e.strerror or e}") from None


def ray_init_kwargs(address: str | None, num_cpus: int | None = None) -> dict:
    """ray.init's arguments: quiet (no dashboard, workers' logs not copied here), and with this package
    shipped to the cluster's workers. address "local" (or None): a private cluster on this machine with
    num_cpus; "auto": the cluster already running on this machine; otherwise its address (host:port or
    ray://host:10001)."""
    kw = dict(log_to_driver=False, logging_level="ERROR", runtime_env={"py_modules": [PACKAGE]})
    if address in (None, "", "local"):
        return {**kw, "num_cpus": num_cpus or os.cpu_count() or 1, "include_dashboard": False}
    return {**kw, "address": address}


class RayExecutor:
    """Runs on a Ray cluster: each run a Ray task (1 CPU) wrapping sweep.run_one, results taken as they
    finish (ray.wait). Uses the Ray connection this process has, or opens one (and closes it)."""

    def __init__(self, address: str | None = "local", num_cpus: int | None = None):
        check_reachable(address)
        ray = self._ray = import_ray()
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(**ray_init_kwargs(address, num_cpus))
            except Exception as e:  # noqa: BLE001 - Ray raises many kinds (ConnectionError, RuntimeError...)
                raise SweepError(f"cannot start or reach the Ray cluster {address!r}: {str(e).splitlines()[0]}") from None
        self.address = address
        self._remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
        self._cancelled = threading.Event()
        self._refs: dict = {}

    def run(self, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, dict]]:
        ray = self._ray
        self._cancelled.clear()
        refs = self._refs = {self._remote.remote(s): s for s in specs}
        try:
            while refs and not self._cancelled.is_set():
                ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=POLL_S, fetch_local=True)
                for ref in sorted(ready, key=lambda r: refs[r].index):
                    if self._cancelled.is_set():
                        return
                    spec = refs.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - a worker that died, a task cancelled...
                        result = _failed(f"the Ray task failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
                    yield spec, result
        finally:
            if refs:
                self.cancel()

    def cancel(self) -> None:
        """Drop every run not finished (the ones in progress get a KeyboardInterrupt from Ray)."""
        self._cancelled.set()
        for ref in list(self._refs):
            try:
                self._ray.cancel(ref)
            except Exception:  # noqa: BLE001 - the task finished meanwhile
                pass
        self._refs = {}

    def close(self) -> None:
        self.cancel()
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> str:
        res = self._ray.cluster_resources()
        return f"Ray cluster {self.address or 'local'} ({res.get('CPU', 0):g} CPUs)"


def make_executor(ray: str | None = None, workers: int | None = None):
    """ray: None -> local processes; "local" | "auto" | an address -> that Ray cluster."""
    return RayExecutor(ray, workers) if ray else LocalExecutor(workers)


def executor_from_env(workers: int | None = None):
    """What the lab uses: a RayExecutor when RNNVIZ_RAY_ADDRESS is set (e.g. "auto", "ray://head:10001"),
    else local processes."""
    return make_executor(os.environ.get(RAY_ENV, "").strip() or None, workers)
