"""python -m bench.figures [--quick] [--repeats N] [--only NAMES] [--out PATH] [--baseline PATH]

Build time of every figure function in rnnviz.figures, on data recorded from short real runs
(hihell rnn, seoul lstm and gru, sine, words; Trainer + Recorder). The Streamlit server rebuilds
these figures while training runs and many sessions poll, so a build is meant to cost a few
milliseconds, not tens. Prints one row per case: the median and min CPU ms per build over --repeats
builds (and the median wall ms), and the target; --out writes the same as JSON, --baseline adds the
medians of an earlier --out and the speed-up. Exit status 1 when a case misses its target.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

# Targets, ms of CPU per build (median). With plotly's object API these figures cost 8-150 ms each on a
# 2-core cloud VM (gate_heatmaps 43-150 ms, grad_heatmap of 400 probed epochs 32-66 ms); built as dicts they
# are meant to cost at most about a fifth of that: a few ms, more only for the two biggest figures.
TARGET_MS = 4.0
TARGET_MS_OF = {"gate_heatmaps": 8.0, "grad_heatmap": 12.0}


@dataclasses.dataclass
class Run:
    """What a short real run recorded, as the app holds it."""
    name: str
    cell: str
    records: list
    labels: list
    thinned: bool
    unit: str
    engine: object = None
    task: object = None


def record(task_name: str, cell: str, epochs: int | None = None, steps: int | None = None,
           max_epochs: int = 2000) -> Run:
    """Train a task's suggested model (cell swapped) with a Recorder probing every record point."""
    import torch

    from rnnviz.callbacks import Recorder
    from rnnviz.recorder import History
    from rnnviz.tasks import make_task
    from rnnviz.trainer import Trainer
    torch.manual_seed(0)
    task = make_task(task_name)
    m, t = task.suggested()
    m = dataclasses.replace(m, cell=cell)
    if epochs is not None:
        t = dataclasses.replace(t, epochs=epochs)
    if steps is not None:
        t = dataclasses.replace(t, steps=steps)
    rec = Recorder(History(max_epochs=max_epochs), spectral=True)
    tr = Trainer(task, m, t, [rec])
    tr.run()
    h = rec.history
    return Run(f"{task_name}-{cell}", cell, list(h.records), task.probe_labels(), h.thinned, h.unit, tr.engine, task)


def record_runs(quick: bool = False) -> dict[str, Run]:
    runs = {"hihell-rnn": record("hihell", "rnn"), "seoul-lstm": record("seoul", "lstm")}
    if not quick:
        runs["seoul-gru"] = record("seoul", "gru")
        runs["sine-lstm"] = record("sine", "lstm", epochs=40)
        runs["words-gru"] = record("words", "gru", max_epochs=40)   # a small History: thinned
    return runs


def _free_run(run: Run, steps: int = 30) -> list[float]:
    from rnnviz.generate import free_run
    pred = run.records[-1].prediction
    return free_run(run.engine, list(pred["input"]), steps)


def _sampling(run: Run) -> tuple[list[dict], list[str]]:
    """The model's next-token distribution at each step of the probe (a stand-in for sampling)."""
    out = np.asarray(run.records[-1].probe.out, dtype=float)
    p = np.exp(out - out.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    vocab = run.task.vocab
    return [dict(zip(vocab, row.tolist())) for row in p], [vocab[i] for i in p.argmax(-1)]


def _gradcheck_errors(n: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {f"layer0.W_{k}": float(10 ** rng.uniform(-11, -5)) for k in range(n)}


def _run_cases(r: Run) -> dict[str, Callable]:
    """Every figure of one run, called as the app calls it."""
    from rnnviz import figures as F
    recs, labels, probe = r.records, r.labels, r.records[-1].probe
    basis = F.fit_pca_basis([x.probe for x in recs if x.probe is not None], dims=3)
    c = {
        "loss_figure": lambda: F.loss_figure({r.cell: recs, "again": recs[::2]}, thinned=r.thinned, x=r.unit),
        "loss_figure log": lambda: F.loss_figure({r.cell: recs}, log_y=True, thinned=r.thinned, x=r.unit),
        "accuracy_figure": lambda: F.accuracy_figure({r.cell: recs}, thinned=r.thinned, x=r.unit),
        "grad_norm_clip_figure": lambda: F.grad_norm_clip_figure(recs, thinned=r.thinned, clip=1.0),
        "spectral_radius_figure": lambda: F.spectral_radius_figure(recs, thinned=r.thinned),
        "trajectory_figure 2d": lambda: F.trajectory_figure(probe, basis, labels, dims=2, title_epoch=recs[-1].epoch),
        "trajectory_figure 3d": lambda: F.trajectory_figure(probe, basis, labels, dims=3),
        "hidden_heatmap": lambda: F.hidden_heatmap(probe, labels),
        "gate_heatmaps": lambda: F.gate_heatmaps(probe, labels, cell=r.cell),  # rnn: empty (no gates)
        "gate_means_figure": lambda: F.gate_means_figure(probe, labels, cell=r.cell),
        "grad_norm_figure": lambda: F.grad_norm_figure({r.cell: probe, "first": recs[0].probe}, labels),
        "grad_norm_figure last": lambda: F.grad_norm_figure({r.cell: probe}, labels, which="grad_h_last"),
        "grad_heatmap": lambda: F.grad_heatmap(recs, thinned=r.thinned, labels=labels),
    }
    if recs[-1].prediction and recs[-1].prediction.get("kind") == "tokens":
        c["prediction_table_figure"] = lambda: F.prediction_table_figure(recs)
        c["topk_figure"] = lambda: F.topk_figure(recs[-1].prediction)
        probs, chosen = _sampling(r)
        c["char_probs_figure"] = lambda: F.char_probs_figure(probs, chosen)
    else:
        free = _free_run(r)
        c["sine_figure"] = lambda: F.sine_figure(recs[-1].prediction)
        c["sine_figure free"] = lambda: F.sine_figure(recs[-1].prediction, free_running=free)
    return {f"{r.name} {k}": v for k, v in c.items()}


def cases(runs: dict[str, Run]) -> dict[str, Callable]:
    """case name -> a builder of one figure from the recorded runs; every figure function is in."""
    from rnnviz import figures as F
    out: dict[str, Callable] = {}
    for r in runs.values():
        out.update(_run_cases(r))
    first = next(iter(runs.values())).records
    twin = [dataclasses.replace(x, loss=x.loss * (1 + 1e-12 * (i % 3))) for i, x in enumerate(first)]
    errs, steps = _gradcheck_errors(12), {str(t): v for t, v in enumerate(_gradcheck_errors(20, 1).values())}
    out["gradcheck_figure params"] = lambda: F.gradcheck_figure(errs, 1e-6, "dL/dθ per parameter")
    out["gradcheck_figure steps"] = lambda: F.gradcheck_figure(steps, 1e-6, "dL/dh_t per step", "time step t",
                                                               horizontal=False)
    out["loss_difference_figure"] = lambda: F.loss_difference_figure(twin, first)
    out["empty_figure"] = lambda: F.empty_figure("no epochs recorded yet", "Loss")
    return out


def time_build(build: Callable, repeats: int) -> dict:
    """ms per build: process CPU time (primary: least disturbed by other work on a shared machine) and wall."""
    build()  # warm: imports, plotly's validators, cached colour scales and subplot grids
    cpu, wall = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        build()
        cpu.append((time.process_time() - c0) * 1e3)
        wall.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(cpu), "min_ms": min(cpu), "wall_median_ms": statistics.median(wall),
            "cpu_ms": cpu, "wall_ms": wall}


def target_ms(case: str) -> float:
    """The target of a case named '<run> <function> [variant]' (or '<function> [variant]')."""
    return next((ms for fn, ms in TARGET_MS_OF.items() if fn in case.split()), TARGET_MS)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.figures", description=__doc__.split("\n\n")[1])
    p.add_argument("--quick", action="store_true", help="hihell rnn and seoul lstm only")
    p.add_argument("--repeats", type=int, default=15, help="builds per case (the median is reported)")
    p.add_argument("--only", default="", help="comma-separated substrings of case names")
    p.add_argument("--out", default="", help="write the results as JSON here")
    p.add_argument("--baseline", default="", help="a JSON written by --out earlier: add its medians and the speed-up")
    args = p.parse_args(argv if argv is not None else sys.argv[1:])
    import torch
    torch.set_num_threads(1)
    from .util import machine, table

    t0 = time.perf_counter()
    runs = record_runs(args.quick)
    print(f"recorded {', '.join(f'{k} ({len(r.records)} records)' for k, r in runs.items())} "
          f"in {time.perf_counter() - t0:.1f} s; ms per build (process CPU time), median of {args.repeats}",
          flush=True)
    base = json.loads(Path(args.baseline).read_text())["cases"] if args.baseline else {}
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    results, rows = {}, []
    for name, build in cases(runs).items():
        if only and not any(s in name for s in only):
            continue
        r = time_build(build, args.repeats)
        r["target_ms"] = target_ms(name)
        r["met"] = r["median_ms"] <= r["target_ms"]
        results[name] = r
        was = base.get(name, {}).get("median_ms")
        rows.append([name, f"{r['median_ms']:.2f}", f"{r['min_ms']:.2f}", f"{r['wall_median_ms']:.2f}"]
                    + ([f"{was:.2f}" if was else "", f"{was / r['median_ms']:.1f}x" if was else ""] if base else [])
                    + [f"<= {r['target_ms']:g}", "ok" if r["met"] else "MISS"])
    print(table(rows, ["case", "median", "min", "wall"] + (["baseline", "speed-up"] if base else []) + ["target", ""]))
    missed = [k for k, r in results.items() if not r["met"]]
    total = sum(r["median_ms"] for r in results.values())
    print(f"\n{len(results)} cases, {total:.1f} ms in all (medians); {len(missed)} over target"
          + (f": {', '.join(missed)}" if missed else ""))
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"machine": machine(), "repeats": args.repeats, "basis": "process CPU ms per build",
                                    "cases": results, "missed": missed}, indent=1, default=str))
        print(f"JSON: {path}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
