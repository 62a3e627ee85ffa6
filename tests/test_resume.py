"""A run trained on from where it stood gives what an uninterrupted run gives (Continue continues).

Each test trains N epochs, takes the trainer's Resume, trains M more from it and compares the records
and weights with one run of N + M epochs: the optimizer's moments, its step count and the data
stream all carry over. A test with a fresh optimizer shows what Continue did before (the loss jumps).
"""
from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnviz.callbacks import Recorder
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer


def train(task, mcfg, tcfg, resume=None):
    rec = Recorder(probe_every=10**6)
    tr = Trainer(task, mcfg, tcfg, [rec], resume=resume)
    assert tr.run() == "finished", tr.reason
    return tr, rec.history.records


@pytest.mark.parametrize("engine", ["torch", "numpy"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_continuing_equals_one_longer_run(engine, optimizer):
    task = make_task("copy", lag=3, batches_per_epoch=4, val_size=32)
    m, t = task.suggested()
    m = replace(m, hidden_size=8)
    t = replace(t, optimizer=optimizer, lr=0.01, momentum=0.5 if optimizer != "adam" else 0.0,
                dtype="float64", engine=engine, epochs=12)
    _, straight = train(task, m, t)
    first, head = train(task, m, replace(t, epochs=5))
    second, tail = train(task, m, replace(t, epochs=12), resume=first.resume_state())
    assert [r.epoch for r in head + tail] == [r.epoch for r in straight] == list(range(1, 13))
    assert [r.step for r in tail] == [r.step for r in straight[5:]]
    np.testing.assert_allclose([r.loss for r in head + tail], [r.loss for r in straight], rtol=1e-12)
    assert tail[-1].seconds > head[-1].seconds


def test_a_fresh_optimizer_is_what_made_the_loss_jump():
    """Adam's moments matter: trained on with a fresh optimizer the first epoch's loss differs from
    the uninterrupted run's, with the Resume it does not."""
    task = make_task("hihell")
    m, t = task.suggested()
    t = replace(t, dtype="float64", epochs=60)
    _, straight = train(task, m, t)
    first, _ = train(task, m, replace(t, epochs=30))
    state = first.resume_state()
    _, resumed = train(task, m, t, resume=state)
    _, fresh = train(task, m, t, resume=replace(state, optimizer=None))
    # a record's loss is measured before its step's update: the second record is the first to differ
    assert resumed[1].loss == pytest.approx(straight[31].loss, rel=1e-12)
    assert abs(fresh[1].loss - straight[31].loss) > 1e-3 * straight[31].loss


def test_resume_of_a_stopped_run_counts_on():
    task = make_task("hihell")
    m, t = task.suggested()
    rec = Recorder()

    class StopAt(Recorder):
        def on_record(self, trainer, r):
            if r.epoch == 7:
                trainer.stop()

    tr = Trainer(task, m, replace(t, epochs=50), [rec, StopAt()])
    assert tr.run() == "stopped"
    state = tr.resume_state()
    assert (state.epoch, state.done, state.step) == (7, 7, 7)
    tr2, recs = train(task, m, replace(t, epochs=10), resume=state)
    assert [r.epoch for r in recs] == [8, 9, 10]
    assert torch.equal(tr2.engine.state_dict()["head.weight"], tr2.resume_state().weights["head.weight"])
