"""Shared by the parts of the suite: machine info, paired-run statistics, targets, the printed table."""
from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from typing import Callable

import torch


def code_version() -> dict:
    """The commit measured and the files of the measured code that differ from it (read-only git)."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rnnviz", "lab", "app_pages", "app.py", "main.py"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout.split("\n")
        return {"commit": head, "uncommitted": [d.strip() for d in dirty if d.strip()]}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "uncommitted": None}


def machine() -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpu": cpu or platform.processor(), "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_at_start": load, "code": code_version(),
            "blas_threads_env": {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}, "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _summary(a_vals, b_vals) -> dict:
    ratios = [b / a for a, b in zip(a_vals, b_vals)]
    return {"a": a_vals, "b": b_vals, "ratios": ratios, "a_median": median(a_vals), "b_median": median(b_vals),
            "ratio_median": median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}


def pairs(one_pair: Callable[[int], dict], repeats: int, log: Callable[[str], None] = lambda s: None,
          names=("plain", "rnnviz")) -> dict:
    """`repeats` pairs; one_pair(r) returns {"a": {...}, "b": {...}} with "seconds", "cpu", "units" per side.
    The cost is seconds per unit; the ratio of a pair is cost(B) / cost(A). Reported on process CPU
    time (the primary numbers: least disturbed by other work on the machine) and under "wall"."""
    raw = []
    for r in range(repeats):
        got = one_pair(r)
        raw.append(got)
        ca, cb = (got[s]["cpu"] / got[s]["units"] for s in "ab")
        wa, wb = (got[s]["seconds"] / got[s]["units"] for s in "ab")
        log(f"    pair {r + 1}/{repeats}: {names[0]} {ca * 1e3:.3f} ms  {names[1]} {cb * 1e3:.3f} ms  ratio {cb / ca:.3f}"
            f"  (wall {wa * 1e3:.3f} / {wb * 1e3:.3f} ms, {wb / wa:.3f})")
    cost = lambda key, side: [p[side][key] / p[side]["units"] for p in raw]  # noqa: E731
    cpu, wall = _summary(cost("cpu", "a"), cost("cpu", "b")), _summary(cost("seconds", "a"), cost("seconds", "b"))
    return {**cpu, "wall": wall, "basis": "process CPU seconds per unit (wall-time figures under 'wall')",
            "runs": raw}


def paired(run_a: Callable[[], dict], run_b: Callable[[], dict], repeats: int,
           log: Callable[[str], None] = lambda s: None, names=("plain", "rnnviz")) -> dict:
    """Whole runs of A and B alternated in this process (AB, BA, AB, ...: the one that goes first
    alternates, so a drift in machine load hits both sides alike); see pairs()."""
    def one(r):
        order = ("a", "b") if r % 2 == 0 else ("b", "a")
        got = {}
        for side in order:
            got[side] = (run_a if side == "a" else run_b)()
        return {**got, "first": order[0]}
    return pairs(one, repeats, log, names)


def check(results: list[dict], name: str, value, target: float, how: str = "<=", unit: str = "x",
          note: str = "") -> dict:
    """Record a target; `value` None means not measured (`note` says why)."""
    if value is None:
        row = {"name": name, "value": None, "target": f"{how} {target:g}{unit}", "met": None, "note": note}
    else:
        met = value <= target if how == "<=" else value >= target
        if met:
            by = ""
        elif target == 0:
            by = f"{value:g}{unit} (target {target:g}{unit})"
        elif how == "<=":
            by = f"{value / target - 1:+.0%} over ({value:.3g}{unit} vs {target:g}{unit})"
        else:
            by = f"{1 - value / target:.0%} short ({value:.3g}{unit} vs {target:g}{unit})"
        row = {"name": name, "value": value, "target": f"{how} {target:g}{unit}", "met": met, "missed_by": by}
    results.append(row)
    return row


def table(rows: list[list], header: list[str]) -> str:
    cells = [[str(c) for c in header]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


def clock() -> tuple[float, float]:
    """(wall, process CPU) now. CPU time counts only this process' work, so on a shared machine it
    estimates the unloaded single-thread wall time much better than wall time does."""
    return time.perf_counter(), time.process_time()


def elapsed(t0: tuple[float, float]) -> dict:
    return {"seconds": time.perf_counter() - t0[0], "cpu": time.process_time() - t0[1]}


def proc_status(field: str = "VmHWM", pid: str = "self") -> int | None:
    """A /proc/<pid>/status field in bytes (VmHWM: peak RSS, VmRSS: current RSS)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def proc_cpu(pid: int | str = "self") -> float | None:
    """User + system CPU seconds of a process so far (from /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
