"""Dinosaur names in NumPy (course seed 000): the NumPy engine trains the text task on the shipped names
with the torch engine's loss, step for step, from the same initial weights (SGD, float64), the hidden
state carried between batches; both sample the same new names with the same seed."""
import dataclasses

import numpy as np
import pytest

from rnnviz.callbacks import Recorder
from rnnviz.generate import sample_text
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer


def _run(task, mcfg, tcfg):
    rec = Recorder(probe_every=3)
    tr = Trainer(task, mcfg, tcfg, [rec])
    assert tr.run() == "finished", tr.reason
    return tr, rec.history.records


@pytest.mark.parametrize("cell,embedding", [("rnn", 0), ("lstm", 0), ("gru", 8)])
def test_numpy_and_torch_losses_agree_on_dinosaur_names(cell, embedding):
    task = make_task("dinos", max_chars=8000)
    m, t = task.suggested()
    m = dataclasses.replace(m, cell=cell, hidden_size=24, embedding_dim=embedding)
    t = dataclasses.replace(t, optimizer="sgd", lr=0.5, clip=0.0, dtype="float64", epochs=4)
    assert t.carry_state and task.sequential
    runs = {e: _run(task, m, dataclasses.replace(t, engine=e)) for e in ("numpy", "torch")}
    (tn, a), (tt, b) = runs["numpy"], runs["torch"]
    la, lb = np.array([r.loss for r in a]), np.array([r.loss for r in b])
    assert len(la) == 4 and la[-1] < la[0] and tn.step == tt.step > 20
    assert np.max(np.abs(la - lb) / lb) < 1e-9
    assert abs(a[-1].val_loss - b[-1].val_loss) / b[-1].val_loss < 1e-9
    assert np.abs(a[-1].probe.grad_h - b[-1].probe.grad_h).max() < 1e-9
    names = [sample_text(tr.engine, task, "\n", 80, temperature=0.8, seed=3) for tr in (tn, tt)]
    assert names[0] == names[1] and "\n" in names[0]


def test_dinos_is_the_text_task_on_the_names():
    dinos, text = make_task("dinos"), make_task("text", corpus="dinos", seq_len=32, batch_size=16)
    assert dinos.vocab == text.vocab and np.array_equal(dinos.train_ids, text.train_ids)
    assert "\n" in dinos.vocab and dinos.options.corpus == "dinos"
    assert dinos.to_config()["options"] == {"max_chars": 200_000, "seq_len": 32, "batch_size": 16, "val_frac": 0.1}
