"""Part 3: peak memory of each case's run, and a long run whose history must stay bounded.

Each measurement runs in a fresh subprocess (`python -m bench.memory child ...`), so one run's
allocations never hide another's:
  peak_rss_delta   VmHWM after the run - VmRSS before it (the high-water mark is reset just before the
                   run by writing 5 to /proc/self/clear_refs; where that is refused, the delta is only a
                   lower bound, said so by "hwm_reset": false)
  tracemalloc_peak Python-level peak during the run (Python objects and NumPy arrays; torch's tensor
                   storage is not traced, it shows in the RSS numbers)
Long run: seoul for 20,000 epochs (5,000 with --quick) with Recorder(probe_every=1); at checkpoints the
child reports the records kept, the probes' bytes, VmRSS and sys.getallocatedblocks().
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
FLAT_MB = 8.0          # long run: RSS may move this much between the first and the last checkpoint


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child_case(name: str, side: str, quick: bool) -> dict:
    import tracemalloc

    import torch
    torch.set_num_threads(1)
    from dataclasses import replace

    from rnnviz.engine import build_model
    from rnnviz.tasks import make_task

    from . import core
    from .util import proc_status

    case = next(c for c in core.cases(quick) if c.name == name)
    if case.unit == "step":       # the peak comes with the first steps and the first record points
        case = replace(case, train={**case.train, "steps": 2 * core.RECORD_EVERY - core.WARMUP})
    task = make_task(case.task, **case.options)
    mcfg, tcfg = core.configs(case, task)
    init = build_model(task, mcfg, tcfg).state_dict()
    # a small run of the same side first: lazy imports (torch.optim pulls in torch._dynamo, ...) and
    # first-call allocations must not count as the run's memory
    mini = replace(case, train={**case.train, "steps": 1}) if case.unit == "step" else case
    core.run_plain(mini, task, init, 0.01) if side == "plain" else core.run_rnnviz(mini, task, 0.01)
    rss0 = proc_status("VmRSS")
    reset = _reset_hwm()
    tracemalloc.start()
    t0 = time.perf_counter()
    res = core.run_plain(case, task, init) if side == "plain" else core.run_rnnviz(case, task)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm = proc_status("VmHWM")
    return {"case": name, "side": side, "rss_before": rss0, "peak_rss": hwm, "hwm_reset": reset,
            "peak_rss_delta": None if hwm is None or rss0 is None else hwm - rss0, "tracemalloc_peak": peak,
            "seconds_with_tracemalloc": seconds, "records": res.get("records"), "probes": res.get("probes")}


def child_long(epochs: int) -> dict:
    import torch
    torch.set_num_threads(1)
    from dataclasses import replace

    from rnnviz.callbacks import Recorder
    from rnnviz.tasks import make_task
    from rnnviz.trainer import Callback, Trainer

    from .util import proc_status

    marks = [1000, 5000, 10000, 20000] if epochs == 20000 else sorted({epochs // 5, epochs // 2, epochs})
    task = make_task("seoul")
    m, t = task.suggested()
    rec = Recorder(probe_every=1)
    seen = []

    class Marks(Callback):
        def on_record(self, trainer, r):
            if r.epoch in marks:
                h = rec.history
                seen.append({"epoch": r.epoch, "records": len(h.records), "probe_bytes": h.probe_bytes,
                             "probes_kept": sum(x.probe is not None for x in h.records), "thinned": h.thinned,
                             "rss": proc_status("VmRSS"), "py_blocks": sys.getallocatedblocks(),
                             "seconds": time.perf_counter() - t0})

    tr = Trainer(task, m, replace(t, epochs=epochs), [rec, Marks()])
    t0 = time.perf_counter()
    status = tr.run()
    rss = [s["rss"] for s in seen]
    # the history fills up to max_epochs records by design; after that (thinned) it must stay flat
    full = [s for s in seen if s["thinned"]] or seen
    first, last = full[0], seen[-1]
    growth = (last["rss"] - first["rss"]) / 2**20
    return {"epochs": epochs, "status": status, "marks": seen, "growth_from_epoch": first["epoch"],
            "max_epochs": rec.history.max_epochs,
            "max_probe_bytes": rec.history.max_probe_bytes, "rss_growth_mb": growth,
            "rss_min": min(rss), "rss_max": max(rss), "ms_per_epoch": 1e3 * (time.perf_counter() - t0) / epochs,
            "bounded": bool(last["records"] <= rec.history.max_epochs and last["probe_bytes"] <= rec.history.max_probe_bytes
                            and growth <= FLAT_MB)}


def _spawn(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "bench.memory", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _collect(p: subprocess.Popen, timeout: float) -> dict:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if p.returncode or not lines:
        return {"error": f"exit {p.returncode}: {err.strip()[-400:]}"}
    return json.loads(lines[-1])


def start_long(quick: bool) -> subprocess.Popen:
    """Start the long run in the background (it overlaps the per-case measurements, not the timings)."""
    return _spawn(["long", str(5000 if quick else 20000)])


def part3(quick: bool, only: set | None, log: Callable[[str], None], targets: list, long_proc=None) -> dict:
    from . import core
    from .util import check

    long_proc = long_proc or start_long(quick)
    cases = {}
    # --quick: the rnnviz side only, without the 512x2 model (the full run measures both sides of all)
    jobs = [(c.name, side) for c in core.cases(quick) if not only or c.name in only or c.task in only
            for side in (("rnnviz",) if quick else ("plain", "rnnviz")) if not (quick and c.name == "text-512x2")]
    running = []          # two children at a time (memory is not timing: they may share the cores)
    for i, (name, side) in enumerate(jobs):
        running.append((name, side, _spawn(["case", name, side] + (["--quick"] if quick else []))))
        if len(running) < 2 and i < len(jobs) - 1:
            continue
        for name, side, proc in running:
            r = _collect(proc, 600)
            cases.setdefault(name, {})[side] = r
            if "error" in r:
                log(f"  {name:11} {side:6} error: {r['error']}")
            else:
                log(f"  {name:11} {side:6} peak RSS +{r['peak_rss_delta'] / 2**20:7.1f} MB   "
                    f"tracemalloc peak {r['tracemalloc_peak'] / 2**20:7.2f} MB")
        running = []
    log("  waiting for the long run ...")
    long = _collect(long_proc, 900)
    if "error" in long:
        log(f"  long run error: {long['error']}")
        check(targets, "long run: history bounded, RSS flat (MB growth)", None, FLAT_MB, unit=" MB", note=long["error"])
    else:
        for m in long["marks"]:
            log(f"  seoul epoch {m['epoch']:>6}: records {m['records']:>5}  probes {m['probes_kept']:>5} "
                f"({m['probe_bytes'] / 2**20:.2f} MB)  RSS {m['rss'] / 2**20:7.1f} MB  py blocks {m['py_blocks']:,}")
        check(targets, f"long run: RSS growth epoch {long['growth_from_epoch']}->{long['epochs']} (history full)",
              long["rss_growth_mb"], FLAT_MB, unit=" MB")
    return {"cases": cases, "long": long}


def main(argv: list[str]) -> int:
    if argv[0] == "case":
        print(json.dumps(child_case(argv[1], argv[2], "--quick" in argv)))
    elif argv[0] == "long":
        print(json.dumps(child_long(int(argv[1]))))
    else:
        print("usage: python -m bench.memory {case NAME SIDE [--quick] | long EPOCHS}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
