"""Part 8: sweeps. Runs per minute of one sweep against the same runs launched one by one from the CLI
(a `python -m rnnviz train` subprocess per run, one after another), on local processes and on a local
Ray cluster; and Ray's overhead per run.

Workload: copy (3 symbols, lag 10), hidden 16, cells rnn and lstm, seeds 0.. (N runs of E epochs).
  cli one by one   N subprocesses in a row (each: interpreter, imports, training, checkpoint)
  sweep, local     `python -m rnnviz sweep` (a subprocess: the same start-up costs, once), all cores
  sweep, Ray       `python -m rnnviz sweep --ray local` (starts and stops a private cluster), all cores
  Ray, warm        the runs on a cluster already up, in this process (RayExecutor.run), vs the same on a
                   LocalExecutor whose processes are already up
Ray's overhead per run: tiny runs (1 epoch, lag 2) on warm executors: slot-seconds per run
(wall x workers / runs) minus the seconds a run itself took, Ray minus local.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnviz import sweep, sweep_exec

ROOT = Path(__file__).resolve().parents[1]
GRID = {"cell": ["rnn", "lstm"], "lag": [10], "length": [3], "hidden_size": [16]}


def _cli(args: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "rnnviz", *args], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"rnnviz {' '.join(args[:3])}... failed: {r.stderr.strip()[-300:]}")
    return time.perf_counter() - t0


def _warm(ex, specs) -> dict:
    t0 = time.perf_counter()
    results = [r for _, r in ex.run(specs)]
    wall = time.perf_counter() - t0
    assert all(r["status"] == "finished" for r in results), [r["reason"] for r in results]
    inside = statistics.mean(r["seconds"] for r in results)
    return {"wall_s": wall, "runs_per_min": 60 * len(specs) / wall, "run_s_mean": inside}


def part8(quick: bool, log, targets) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="rnnviz-bench-sweep-"))
    try:
        return _part8(quick, log, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _part8(quick: bool, log, tmp: Path) -> dict:
    seeds = 2 if quick else 4
    epochs = 10 if quick else 20
    cores = os.cpu_count() or 1
    grid = {**GRID, "seed": list(range(seeds))}
    specs = sweep.plan("copy", grid, epochs=epochs)
    n = len(specs)
    out: dict = {"workload": {"task": "copy", "grid": grid, "epochs": epochs, "runs": n, "workers": cores}}
    log(f"  {n} runs of copy (lag 10, hidden 16), {epochs} epochs, {cores} workers")

    t = sum(_cli(["train", "--task", "copy", "--cell", s.mcfg.cell, "--lag", "10", "--length", "3", "--hidden", "16",
                  "--epochs", str(epochs), "--seed", str(s.tcfg.seed), "--quiet", "--probe-every", "1000000",
                  "--out", str(tmp / f"cli-{s.index}")]) for s in specs)
    out["cli_one_by_one"] = {"wall_s": t, "runs_per_min": 60 * n / t}
    log(f"    cli one by one:  {t:6.1f} s  {60 * n / t:6.1f} runs/min")
    sweep_args = ["sweep", "--task", "copy", "--grid", *[f"{k}={','.join(map(str, v))}" for k, v in grid.items()],
                  "--epochs", str(epochs), "--quiet"]
    t = _cli([*sweep_args, "--out", str(tmp / "sweep-local")])
    out["sweep_local"] = {"wall_s": t, "runs_per_min": 60 * n / t}
    log(f"    sweep, local:    {t:6.1f} s  {60 * n / t:6.1f} runs/min")
    try:
        ray = sweep_exec.import_ray()
    except sweep.SweepError as e:
        out["not_measured"] = str(e)
        log(f"    Ray: not measured ({e})")
        return out
    t = _cli([*sweep_args, "--ray", "local", "--out", str(tmp / "sweep-ray")])
    out["sweep_ray_cli"] = {"wall_s": t, "runs_per_min": 60 * n / t}
    log(f"    sweep, Ray (cli, cluster started and stopped): {t:6.1f} s  {60 * n / t:6.1f} runs/min")

    tiny = sweep.plan("copy", {"lag": [2], "hidden_size": [8], "seed": list(range(10 if quick else 20))}, epochs=1)
    t0 = time.perf_counter()
    ray.init(**sweep_exec.ray_init_kwargs("local", cores))
    out["ray_startup_s"] = time.perf_counter() - t0
    try:
        with sweep_exec.RayExecutor() as rex, sweep_exec.LocalExecutor(cores) as lex:
            _warm(rex, tiny)        # start the workers (and torch in them) on both sides
            _warm(lex, tiny)
            out["ray_warm"], out["local_warm"] = _warm(rex, specs), _warm(lex, specs)
            rt, lt = _warm(rex, tiny), _warm(lex, tiny)
    finally:
        ray.shutdown()
    slot = lambda r: r["wall_s"] * cores / len(tiny) - r["run_s_mean"]  # noqa: E731
    out["tiny"] = {"runs": len(tiny), "ray": rt, "local": lt, "ray_overhead_per_run_s": slot(rt) - slot(lt),
                   "ray_slot_s": slot(rt), "local_slot_s": slot(lt)}
    log(f"    Ray cluster start-up: {out['ray_startup_s']:.1f} s")
    for k in ("ray_warm", "local_warm"):
        log(f"    {k:11}: {out[k]['wall_s']:6.1f} s  {out[k]['runs_per_min']:6.1f} runs/min "
            f"(a run itself {out[k]['run_s_mean']:.2f} s)")
    log(f"    tiny runs: overhead per run beyond its own time: local {slot(lt) * 1e3:.0f} ms, Ray {slot(rt) * 1e3:.0f} ms "
        f"(Ray's overhead {out['tiny']['ray_overhead_per_run_s'] * 1e3:.0f} ms per run)")
    return out
