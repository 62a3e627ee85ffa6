"""Dinosaur names in NumPy (course seed 000): the NumPy engine trains the text task on the shipped names
with the torch engine's loss, step for step, from the same initial weights (SGD, float64), the hidden
state carried between batches; both sample the same new names with the same seed. The names are
shuffled by the data seed before the validation split, and the text lesson's defaults for them
generalise."""
import dataclasses

import numpy as np
import pytest
import torch

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
    assert dinos.to_config()["options"] == {"max_chars": 200_000, "seq_len": 32, "batch_size": 16, "val_frac": 0.1,
                                                "seed": 0}


def _names(text):
    return [n for n in text.split("\n") if n]


def test_the_data_seed_shuffles_the_names_before_the_split():
    shipped = _names(make_task("text", corpus="dinos").text)
    splits = {seed: make_task("text", corpus="dinos", seed=seed) for seed in (0, 1)}
    again = make_task("text", corpus="dinos", seed=1)
    assert again.train_text == splits[1].train_text and again.val_text == splits[1].val_text
    assert splits[0].val_text != splits[1].val_text and splits[0].train_text != splits[1].train_text
    for task in splits.values():
        assert sorted(_names(task.text)) == sorted(shipped) and task.text.endswith("\n")
        val = _names(task.val_text)[1:]                 # the first may be the end of a training name
        assert len({n[0] for n in val}) > 10            # not only w to z: names from all over the list
    assert make_task("dinos", seed=1).val_text == splits[1].val_text
    shakespeare = [make_task("text", max_chars=5000, seed=s).text for s in (0, 1)]
    assert shakespeare[0] == shakespeare[1]             # running text keeps its order
    with pytest.raises(ValueError, match="seed must be in 0"):
        make_task("text", corpus="dinos", seed=-1)


def _entropy(text: str) -> float:
    _, counts = np.unique(list(text), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def test_the_text_lessons_defaults_for_dinosaur_names_beat_the_unigram_entropy():
    """What a class sees: pick the dinosaur names, press Train (the corpus' defaults, to their end)."""
    torch.set_num_threads(1)
    task = make_task("text", corpus="dinos")
    rec = Recorder()
    tr = Trainer(task, callbacks=[rec])             # the task's defaults for its corpus
    assert tr.run() == "finished", tr.reason
    first, last = rec.history.records[0], rec.history.last
    unigram = _entropy(task.val_text)               # a model that knows only the names' letter counts
    assert last.val_loss < unigram - 0.5 < first.val_loss, (
        f"validation loss {first.val_loss:.3f} at step {first.epoch}, {last.val_loss:.3f} at {last.epoch}; "
        f"unigram entropy of the validation names {unigram:.3f}")
