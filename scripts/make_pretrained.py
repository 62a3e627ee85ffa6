"""Build the small pretrained checkpoints shipped in checkpoints/pretrained/ (a classroom needs a
trained model at once). Deterministic: same code, same seeds, same weights.

    python scripts/make_pretrained.py            # all
    python scripts/make_pretrained.py text-dinos # one
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnnviz.callbacks import Recorder  # noqa: E402
from rnnviz.checkpoint import save  # noqa: E402
from rnnviz.recorder import History  # noqa: E402
from rnnviz.tasks import make_task  # noqa: E402
from rnnviz.trainer import Trainer  # noqa: E402

OUT = ROOT / "checkpoints" / "pretrained"

# name -> (task, task options, model changes, train changes, probe_every); the changes are to the
# task's defaults for those options (Task.suggested_for, as a lesson's settings start from)
RECIPES = {
    "text-shakespeare-lstm": ("text", {"corpus": "shakespeare", "max_chars": 200_000},
                              {"cell": "lstm", "hidden_size": 128}, {"steps": 3000, "lr": 0.003}, 300),
    "text-dinos-lstm": ("text", {"corpus": "dinos", "seq_len": 32, "batch_size": 16},
                        {"cell": "lstm", "hidden_size": 64}, {"steps": 600, "lr": 0.005}, 60),
    "seoul-lstm": ("seoul", {}, {"cell": "lstm", "hidden_size": 16}, {"epochs": 400}, 20),
    # the gradients lesson's lstm run at the lesson's defaults (it overrides none of the task's), so it
    # opens on the setup the lesson trains; tests/test_pretrained_copy.py checks that they still agree
    "copy-lstm": ("copy", {}, {"cell": "lstm"}, {}, 30),
}


def build(name: str) -> Path:
    task_name, options, mchanges, tchanges, probe_every = RECIPES[name]
    task = make_task(task_name, **options)
    m, t = type(task).suggested_for(task.options)
    m, t = dataclasses.replace(m, **mchanges), dataclasses.replace(t, **tchanges)
    # a modest history budget keeps each shipped checkpoint small (copy-lstm: 3 probes of ~72 kB);
    # the spectral radius, as the lab's runs record it, for the gradients lesson's view of it
    rec = Recorder(History(max_epochs=100, max_probe_bytes=2**18), probe_every=probe_every, spectral=True)
    tr = Trainer(task, m, t, [rec])
    t0 = time.perf_counter()
    tr.run()
    last = rec.history.last
    path = save(OUT / name, task, m, t, tr.engine.state_dict(), rec.history, replace=True, status=tr.status,
                reason=tr.reason, steps_done=tr.step, epochs_done=tr.epoch, loss=last.loss,
                val_loss=last.val_loss, pretrained=True)
    print(f"{name}: {tr.status} in {time.perf_counter() - t0:.0f}s, loss {last.loss:.4f}"
          f"{'' if last.val_loss is None else f', val {last.val_loss:.4f}'} -> {path}")
    return path


if __name__ == "__main__":
    torch.set_num_threads(1)
    for n in sys.argv[1:] or list(RECIPES):
        build(n)
