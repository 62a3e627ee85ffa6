"""What each injected backprop bug does to training, measured by training with it on the NumPy engine.

    effect = measure(task, mcfg, tcfg, "no_bptt")          # one run, seed tcfg.seed
    entry = measure_setup(task, mcfg, tcfg, seeds=(0, 1))  # every bug the cell can have, per seed
    differences(load()["anbn"], entry)                     # [] when the stored numbers are still true

The From scratch lesson (course.scratch_bugs) shows the effects of its default setups. They are measured
by `python scripts/measure_bug_effects.py` into MEASURED (rnnviz/data/bug_effects.json); the script's
`--check` trains every entry again and compares, and tests/test_bug_effects.py does so for a few.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..callbacks import Recorder
from ..config import ModelConfig, TrainConfig, from_dict
from ..tasks import make_task
from ..tasks.base import Task
from ..trainer import Trainer
from .cells import BUGS, check_bugs

MEASURED = Path(__file__).resolve().parent.parent / "data" / "bug_effects.json"
REL = 1e-5      # float64 on one thread repeats itself; another BLAS kernel (another CPU) moves it by ~1e-6
# A gradient wrong in size but not in direction wanders: another BLAS kernel's rounding moves where its
# run ends by up to ~20% (anbn: loss 0.54-0.74, accuracy 0.61-0.87 over five OpenBLAS kernels), so of
# its runs only how they start is compared; tests/test_bug_effects.py checks their claims on each
# re-measurement.
WANDERS = frozenset({"forget_derivative"})
ENDS = ("loss_end", "accuracy", "text")


@dataclass(frozen=True)
class Effect:
    """One training run with one bug (or "none") from the setup's initial weights."""
    bug: str
    seed: int
    status: str                  # finished | diverged (a loss, gradient or weight that is not finite)
    steps: int                   # optimizer steps taken
    loss_start: float            # mean training loss of the first record point
    loss_end: float              # of the last one (diverged: of the weights the trainer restored)
    accuracy: float | None       # at the last record point: validation accuracy, else training accuracy
    accuracy_of: str             # "validation" | "training" (a task without validation data)
    text: str                    # the probe read greedily with the final weights


def applicable(mcfg: ModelConfig) -> list[str]:
    """"none" and the bugs this cell can have, in BUGS order."""
    out = ["none"]
    for bug in BUGS:
        try:
            check_bugs(mcfg.cell, mcfg.nonlinearity, (bug,))
            out.append(bug)
        except ValueError:
            pass
    return out


def measure(task: Task, mcfg: ModelConfig, tcfg: TrainConfig, bug: str) -> Effect:
    """Train on the NumPy engine with `bug` ("none": the engine as written) and report what happened."""
    tcfg = dataclasses.replace(tcfg, engine="numpy")
    rec = Recorder(probe_every=10**9)     # the final record point is always probed (its prediction)
    trainer = Trainer(task, mcfg, tcfg, [rec], bugs=() if bug == "none" else (bug,))
    status = trainer.run()
    if status not in ("finished", "diverged"):
        raise RuntimeError(f"measuring {bug} on {task.name}: the run ended {status}: {trainer.reason}")
    first, last = rec.history.records[0], rec.history.records[-1]
    validated = last.val_acc is not None
    return Effect(bug, tcfg.seed, status, trainer.step, first.loss, last.loss,
                  last.val_acc if validated else last.train_acc, "validation" if validated else "training",
                  last.prediction["text"])


def measure_setup(task: Task, mcfg: ModelConfig, tcfg: TrainConfig, seeds=(0,), bugs=None) -> dict:
    """The JSON-ready entry of one task in MEASURED: its configs and, for each bug (default: every one
    the cell can have) and each seed, the Effect as a dict."""
    bugs = applicable(mcfg) if bugs is None else bugs
    effects = {bug: [dataclasses.asdict(measure(task, mcfg, dataclasses.replace(tcfg, seed=s), bug))
                     for s in seeds] for bug in bugs}
    return {"task": task.name, "options": dataclasses.asdict(task.options), "model": dataclasses.asdict(mcfg),
            "train": dataclasses.asdict(tcfg), "seeds": list(seeds), "effects": effects}


def entry_configs(entry: dict) -> tuple[Task, ModelConfig, TrainConfig]:
    """The task and configs an entry of MEASURED was measured with."""
    return (make_task(entry["task"], **entry["options"]), from_dict(ModelConfig, entry["model"]),
            from_dict(TrainConfig, entry["train"]))


def remeasure(entry: dict, bugs=None, seeds=None) -> dict:
    """Train the entry's setup again (all of it, or only these bugs and seeds)."""
    return measure_setup(*entry_configs(entry), seeds=entry["seeds"] if seeds is None else seeds,
                         bugs=list(entry["effects"]) if bugs is None else bugs)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isfinite(a) and math.isfinite(b) and math.isclose(a, b, rel_tol=REL))
    return a == b


def differences(stored: dict, measured: dict) -> list[str]:
    """What the measured entry says that the stored one does not (only the bugs and seeds measured; of
    a bug in WANDERS not where its runs end): one line per difference; [] when the stored numbers are
    still true."""
    out = [f"{k}: stored {stored.get(k)!r}, now {measured[k]!r}" for k in ("task", "options", "model", "train")
           if stored.get(k) != measured[k]]
    for bug, runs in measured["effects"].items():
        by_seed = {r["seed"]: r for r in stored["effects"].get(bug, [])}
        for now in runs:
            was = by_seed.get(now["seed"])
            if was is None:
                out.append(f"{bug}, seed {now['seed']}: not stored")
                continue
            out += [f"{bug}, seed {now['seed']}, {k}: stored {was.get(k)!r}, now {v!r}"
                    for k, v in now.items() if not _same(was.get(k), v) and not (bug in WANDERS and k in ENDS)]
    return out


def save(table: dict[str, dict], path: Path = MEASURED) -> None:
    path.write_text(json.dumps(table, indent=1) + "\n")
    load.cache_clear()


@functools.lru_cache(maxsize=4)
def load(path: Path = MEASURED) -> dict[str, dict]:
    """task name -> {"task", "options", "model", "train", "seeds", "effects": {bug: [Effect dict per seed]}}."""
    return json.loads(path.read_text())
