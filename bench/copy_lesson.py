"""The gradients lesson's copy task at its defaults: what a class sees at each lag the lesson offers.

    python -m bench.copy_lesson --seeds 0,1,2        # the lesson's lags 5 and 40, cells rnn/lstm/gru
    python -m bench.copy_lesson --lags 60 --seeds 0,1,2 --cells lstm --set forget_bias=8 epochs=100

Each run is the lesson's setup (rnnviz.tasks.memory.Copy.suggested() and CopyOptions, the lag and
the training seed changed; --set changes any other ModelConfig/TrainConfig/CopyOptions field) trained
on one CPU thread. Prints one row per run: the final validation accuracy (chance 1/n_symbols), the
best one over the run, the first epoch at which it reached 0.9, the CPU seconds the run trained,
and a few (epoch, validation accuracy) points of its curve.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
import torch  # noqa: E402

from rnnviz.callbacks import Recorder  # noqa: E402
from rnnviz.config import ModelConfig, TrainConfig  # noqa: E402
from rnnviz.tasks import make_task  # noqa: E402
from rnnviz.tasks.memory import Copy, CopyOptions  # noqa: E402
from rnnviz.trainer import Trainer  # noqa: E402

LESSON_LAGS = (5, 40)           # the lesson's presets lag-5 and lag-40 (the default lag)


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def run(cell: str, lag: int, seed: int, changes: dict | None = None) -> dict:
    """Train the lesson's copy setup with this cell, lag and training seed; changes: other fields."""
    changes = dict(changes or {})
    options = {k: v for k, v in changes.items() if k in _fields(CopyOptions)}
    task = make_task("copy", lag=lag, **options)
    m, t = Copy.suggested()
    m = dataclasses.replace(m, cell=cell, **{k: v for k, v in changes.items() if k in _fields(ModelConfig)})
    t = dataclasses.replace(t, seed=seed, **{k: v for k, v in changes.items() if k in _fields(TrainConfig)})
    unknown = set(changes) - _fields(CopyOptions) - _fields(ModelConfig) - _fields(TrainConfig)
    if unknown:
        raise ValueError(f"no such field: {', '.join(sorted(unknown))}")
    rec = Recorder(probe_every=10**9)
    t0 = time.process_time()
    Trainer(task, m, t, [rec]).run()
    seconds = time.process_time() - t0
    accs = [(r.epoch, r.val_acc) for r in rec.history.snapshot() if r.val_acc is not None]
    first = next((e for e, a in accs if a >= 0.9), None)
    return {"cell": cell, "lag": lag, "seed": seed, "val_acc": accs[-1][1], "best": max(a for _, a in accs), "epoch_0.9": first,
            "cpu_s": round(seconds, 1), "changes": changes,
            "curve": [(e, round(float(a), 2)) for e, a in accs[::max(1, len(accs) // 6)]]}


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.copy_lesson", description=__doc__.split("\n\n")[0])
    p.add_argument("--lags", default=",".join(map(str, LESSON_LAGS)))
    p.add_argument("--cells", default="rnn,lstm,gru")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    p.add_argument("--out", default="", help="also write the rows as JSON here")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    changes = {k: _value(v) for k, v in (s.split("=", 1) for s in a.set)}
    rows = []
    print(f"{'cell':5} {'lag':>4} {'seed':>4} {'val_acc':>7} {'best':>5} {'ep>=0.9':>7} {'cpu s':>6}  changes={changes}", flush=True)
    for lag in map(int, a.lags.split(",")):
        for cell in a.cells.split(","):
            for seed in map(int, a.seeds.split(",")):
                r = run(cell, lag, seed, changes)
                rows.append(r)
                print(f"{cell:5} {lag:4d} {seed:4d} {r['val_acc']:7.3f} {r['best']:5.2f} {str(r['epoch_0.9']):>7} {r['cpu_s']:6.1f}  {r['curve']}",
                      flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
