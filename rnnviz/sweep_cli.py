"""`python -m rnnviz sweep`: a grid of runs from the command line, one line per finished run.

    python -m rnnviz sweep --task copy --grid cell=rnn,lstm,gru lag=5,10,20,40 seed=0,1,2 --epochs 100 \
        --out sweeps/copy-lag
    python -m rnnviz sweep --preset memory --out sweeps/memory [--grid seed=0] [--ray auto|ADDRESS]

Exit status: 0 every run finished, 3 some failed (see the table), 130 stopped with Ctrl-C (what finished
is kept), 1 an error before anything ran (one line).
"""
from __future__ import annotations

import os
import sys
import time

from .sweep import METRICS, PRESETS, REPEATS, STATUS_WORDS, SweepError, from_preset, parse_grid, plan, status_counts
from .sweep_exec import make_executor
from .sweep_out import Row, prepare, run_sweep
from .tasks import TASKS


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="train a grid of runs; write their checkpoints and one results table")
    p.add_argument("--task", choices=list(TASKS), help="the task (or --preset)")
    p.add_argument("--preset", choices=list(PRESETS),
                   help="a named sweep: " + "; ".join(f"{k}: {v['summary']}" for k, v in PRESETS.items()))
    p.add_argument("--grid", nargs="+", default=[], metavar="NAME=V1,V2",
                   help="settings and their values: any model/training setting or task option by name "
                        "(seed = training seed, data_seed = the task's data seed); with --preset, replaces its values")
    p.add_argument("--epochs", type=int, help="epochs per run (default: the preset's or the task's)")
    p.add_argument("--seconds", type=float, help="time budget per run: it ends when it has trained this long")
    p.add_argument("--metric", choices=METRICS, help="the metric each progress line shows (all are measured)")
    p.add_argument("--out", required=True, help="folder to write (empty or new; a previous sweep with --force)")
    p.add_argument("--force", action="store_true", help="replace the previous sweep in --out")
    p.add_argument("--workers", type=int, help="local processes at once (default: the cores)")
    p.add_argument("--ray", metavar="local|auto|ADDRESS",
                   help="run on Ray: a private local cluster, the one on this machine, or its address")
    p.add_argument("--quiet", action="store_true", help="only the final summary")


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e3 else f"{v:.3f}"


def progress_line(row: Row, rows: list[Row], metric: str) -> str:
    done = [r for r in rows if r.status != "not run"]
    what = f"{metric} {_fmt(row.metrics.get(metric))}" if row.status == "finished" else row.error[:100]
    return (f"[{len(done)}/{len(rows)}] {row.spec.name}: {STATUS_WORDS.get(row.status, row.status)}  {what}  "
            f"({row.epochs} epochs, {row.seconds:.1f} s)  {status_counts([{'status': r.status} for r in rows])}")


def summary(rows: list[Row], metric: str) -> list[str]:
    """The metric per grid point, over the seeds: mean (min-max, runs)."""
    varied = [k for k in (rows[0].spec.values if rows else {}) if len({repr(r.spec.values[k]) for r in rows}) > 1]
    keys = [k for k in varied if k not in REPEATS]
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault(tuple(r.spec.values[k] for k in keys), []).append(r)
    lines = []
    for point, members in groups.items():
        vals = [r.metrics[metric] for r in members if r.status == "finished" and r.metrics[metric] is not None]
        where = " ".join(f"{k}={v}" for k, v in zip(keys, point)) or "all runs"
        if vals:
            lines.append(f"  {where:28} {metric} {_fmt(sum(vals) / len(vals))}  ({_fmt(min(vals))} to "
                         f"{_fmt(max(vals))}, {len(vals)} of {len(members)} runs)")
        else:
            lines.append(f"  {where:28} {metric} -  (0 of {len(members)} runs finished)")
    return lines


def cmd_sweep(args) -> int:
    if bool(args.task) == bool(args.preset):
        raise SweepError("give --task or --preset (one of them)")
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise SweepError(f"--workers must be in 1..256, got {args.workers}")
    task = args.task or PRESETS[args.preset]["task"]
    grid = parse_grid(task, args.grid)
    if args.preset:
        specs = from_preset(args.preset, grid, args.epochs, args.seconds, args.metric)
    else:
        specs = plan(task, grid, args.epochs, args.seconds, args.metric or "val_acc")
    metric = specs[0].metric
    about = {"task": task, "preset": args.preset, "grid": {k: v for k, v in (grid or {}).items()},
             "metric": metric, "argv": sys.argv[1:]}
    if args.preset:
        about["grid"] = {**PRESETS[args.preset]["grid"], **about["grid"]}
    say = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))  # noqa: E731
    t0 = time.perf_counter()
    with make_executor(args.ray, args.workers) as ex:   # a Ray cluster that cannot be had: before the folder is touched
        out = prepare(args.out, specs, args.force, about)
        say(f"sweep: {len(specs)} runs of {task} on {ex.describe()}, writing {out}")
        rows = run_sweep(specs, ex, out, about, on_row=lambda row, rows: say(progress_line(row, rows, metric)))
    finished = sum(r.status == "finished" for r in rows)
    not_run = sum(r.status == "not run" for r in rows)
    failed = len(rows) - finished - not_run
    print("\n".join(summary(rows, metric)))
    print(f"sweep: {status_counts([{'status': r.status} for r in rows])} in {time.perf_counter() - t0:.0f} s; "
          f"table: {os.path.join(out, 'results.csv')} (and results.json), checkpoints: {os.path.join(out, 'runs')}")
    return 130 if not_run else 3 if failed else 0
