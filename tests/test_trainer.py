"""Trainer behaviour: loss falls, runs are reproducible, stop/pause work from another thread,
divergence stops with a reason and good weights, history stays bounded."""
import dataclasses
import json
import math
import pickle
import threading
import time

import numpy as np
import pytest
import torch

from rnnviz.callbacks import ConvergenceStop, Recorder
from rnnviz.engine import TorchEngine, build_model
from rnnviz.recorder import EpochRecord, History
from rnnviz.probes import Probe
from rnnviz.tasks import make_task
from rnnviz.tally import SCORE_EVERY
from rnnviz.trainer import Callback, Trainer


def _run(task_name="hihell", cbs=(), **train):
    task = make_task(task_name)
    m, t = task.suggested()
    rec = Recorder()
    tr = Trainer(task, m, dataclasses.replace(t, **train), [rec, *cbs])
    tr.run()
    return tr, rec.history


def test_loss_falls_and_records_every_epoch():
    tr, h = _run(epochs=30)
    assert tr.status == "finished" and len(h.records) == 30
    assert h.records[-1].loss < 0.5 * h.records[0].loss
    assert all(r.probe is not None for r in h.records)  # probe every epoch by default
    assert h.records[-1].probe.hidden.shape == (1, 6, 5)


def test_same_seed_same_history_different_seed_differs():
    _, a = _run(epochs=15, seed=7)
    _, b = _run(epochs=15, seed=7)
    _, c = _run(epochs=15, seed=8)
    la, lb, lc = ([r.loss for r in h.records] for h in (a, b, c))
    assert la == lb
    assert la != lc
    assert np.array_equal(a.records[-1].probe.hidden, b.records[-1].probe.hidden)


def test_stop_and_pause_from_another_thread():
    task = make_task("seoul")
    m, t = task.suggested()
    rec = Recorder()

    class Statuses(Callback):
        seen: list = []

        def on_status(self, trainer):
            self.seen.append(trainer.status)

    told = Statuses()
    tr = Trainer(task, m, dataclasses.replace(t, epochs=100000), [rec, told])
    th = threading.Thread(target=tr.run)
    th.start()
    while tr.step < 5:
        time.sleep(0.01)
    tr.pause()
    time.sleep(0.2)
    frozen = tr.step
    time.sleep(0.3)
    assert tr.status == "paused" and tr.step == frozen  # no step while paused
    tr.resume()
    while tr.step < frozen + 5:
        time.sleep(0.01)
    tr.stop()
    th.join(5)
    assert not th.is_alive()
    assert tr.status == "stopped" and tr.reason == "stopped by user"
    assert tr.step < 100000
    assert told.seen == ["paused", "running"]   # callbacks hear of the pause and the resume


def test_a_pause_is_not_training_time():
    """The progress line's "N steps/s overall" and a saved run's seconds: a run paused for a while
    would read as several times slower than it trained."""
    task = make_task("hihell")
    m, t = task.suggested()
    tr = Trainer(task, m, dataclasses.replace(t, epochs=100000), [Recorder()])
    tr.pause()                                  # it starts paused, and waits
    th = threading.Thread(target=tr.run)
    t0 = time.perf_counter()
    th.start()
    while tr.status != "paused":
        time.sleep(0.01)
    time.sleep(1.0)
    tr.resume()
    while tr.step < 50:
        time.sleep(0.01)
    tr.stop()
    th.join(5)
    assert tr.seconds < time.perf_counter() - t0 - 0.9
    assert tr.resume_state().seconds < time.perf_counter() - t0 - 0.9     # what a saved run keeps


def test_records_per_second_is_the_spacing_a_speed_limit_holds():
    """A paced run waits after each record: counted from its start, the first record (made at once)
    read as hundreds a second and the next few as twice the limit."""
    class Spaced(Callback):        # what the worker's speed limit does: 0.05 s after each record
        seen: list = []

        def on_record(self, trainer, rec):
            self.seen.append(trainer.records_per_second)
            time.sleep(0.05)

    spaced = Spaced()
    _run("hihell", [spaced], epochs=8)
    assert spaced.seen[0] == 0.0                                   # one record: no rate yet
    # each record at least 0.05 s after the one before: never above 20 a second (and not far below)
    assert all(5 < r <= 20.0 for r in spaced.seen[1:]), spaced.seen


def test_learning_rate_changes_while_running():
    seen = []

    class Spy(Callback):
        def on_record(self, trainer, rec):
            seen.append(rec.lr)
            if rec.epoch == 3:
                trainer.set_lr(0.005)
    _run(epochs=6, cbs=[Spy()])
    assert seen[:3] == [0.1, 0.1, 0.1] and seen[-1] == 0.005


def test_divergence_stops_with_reason_and_keeps_good_weights():
    task = make_task("sine")
    m, t = task.suggested()

    class Poison(Callback):  # make the weights blow up after epoch 2
        def on_record(self, trainer, rec):
            if rec.epoch == 2:
                self.good = {k: v.clone() for k, v in trainer.engine.state_dict().items()}
                with torch.no_grad():
                    trainer.engine.model.head.weight.fill_(float("inf"))
    poison = Poison()
    rec = Recorder()
    tr = Trainer(task, m, dataclasses.replace(t, epochs=10), [rec, poison])
    status = tr.run()
    assert status == "diverged"
    assert "became" in tr.reason and "restored" in tr.reason
    now = tr.engine.state_dict()
    assert all(torch.isfinite(v).all() for v in now.values())
    assert all(torch.equal(now[k], poison.good[k]) for k in now)


def test_convergence_stop():
    tr, h = _run(epochs=3000, cbs=[ConvergenceStop(patience=10, min_rel=0.05)])
    assert tr.status == "stopped" and tr.reason.startswith("converged")
    assert len(h.records) < 3000


def test_history_stays_bounded_and_says_thinned():
    h = History(max_epochs=100, max_probe_bytes=10_000)
    probe = Probe(hidden=np.zeros((1, 20, 16), np.float32), cell=None, gates={}, grad_h=None, grad_c=None,
                  grad_h_last=None, out=np.zeros((20, 5), np.float32), loss=0.0)
    for i in range(1, 20001):
        h.add(EpochRecord(epoch=i, step=i, loss=1.0 / i, probe=Probe(**vars(probe)) if i % 10 == 0 else None))
    assert len(h.records) <= 100
    assert h.thinned
    assert h.records[0].epoch == 1 and h.records[-1].epoch == 20000
    epochs = [r.epoch for r in h.records]
    assert epochs == sorted(epochs)
    assert sum(r.probe.nbytes() for r in h.records if r.probe is not None) <= 10_000


def test_steps_mode_records_on_schedule():
    task = make_task("sine")
    m, t = task.suggested()
    rec = Recorder(probe_every=5)
    tr = Trainer(task, m, dataclasses.replace(t, steps=120, epochs=0), [rec], record_every=10)
    tr.run()
    recs = rec.history.records
    assert tr.step == 120 and [r.epoch for r in recs] == list(range(10, 121, 10))
    assert rec.history.unit == "step"
    assert recs[0].probe is not None and recs[1].probe is None and recs[-1].probe is not None
    # validation runs on a size-based schedule (~5% of the training cost), always first and last
    k = tr.val_every
    assert k > 1
    validated = [i for i, r in enumerate(recs) if r.val_loss is not None]
    assert validated == sorted({0, len(recs) - 1} | {i for i in range(len(recs)) if (i + 1) % k == 0})
    assert all(math.isfinite(recs[i].val_loss) for i in validated)


def test_clipping_is_recorded():
    tr, h = _run(epochs=5, clip=1e-3)
    assert all(r.clipped == 1.0 for r in h.records)
    assert all(r.grad_norm > 1e-3 for r in h.records)
    _, h2 = _run(epochs=5)
    assert all(r.clipped == 0.0 for r in h2.records)


def test_training_accuracy_counts_every_step():
    """train_acc is right/counted over all the steps of a record interval (scored in groups, at the
    record point or every SCORE_EVERY steps): the same as scoring each step on its own."""
    task = make_task("anbn")
    m, t = task.suggested()
    rec = Recorder(probe_every=10**9)
    tr = Trainer(task, m, dataclasses.replace(t, steps=40), [rec], record_every=20)
    assert SCORE_EVERY < 20
    seen, step = [], tr.engine.train_step

    def spy(batch, state=None, record=False):
        res = step(batch, state, record)
        seen.append((res.out, batch))
        return res
    tr.engine.train_step = spy
    tr.run()
    assert len(rec.history.records) == 2
    for k, r in enumerate(rec.history.records):
        right = counted = 0
        for out, b in seen[20 * k:20 * (k + 1)]:
            mask = (torch.cumsum((b.x == task._index["b"]).long(), 1) > 0) & (b.y != -100)
            right += int(((out.argmax(-1) == b.y) & mask).sum())
            counted += int(mask.sum())
        assert r.train_acc == right / counted


def test_prediction_is_built_when_read_and_pickles_small():
    """A record keeps the probe's raw outputs; reading .prediction builds task.describe() of them, the
    same dict before and after plain pickling and through JSON."""
    task = make_task("seoul")
    _, h = _run("seoul", epochs=3)
    rec = h.records[-1]
    unread = pickle.dumps(rec)
    expected = task.describe(torch.from_numpy(rec.probe.out)[None], task.probe())
    assert rec.prediction == expected and rec.prediction["kind"] == "tokens"
    assert pickle.loads(unread).prediction == expected
    assert len(unread) < len(pickle.dumps(rec))  # read once, the record carries the dict
    assert pickle.loads(pickle.dumps(rec)).prediction == expected
    assert EpochRecord.from_json(json.loads(json.dumps(rec.to_json()))).prediction == expected
    r = EpochRecord(epoch=1, step=1, loss=1.0)
    assert r.prediction is None
    r.prediction = {"kind": "values"}
    assert r.prediction == {"kind": "values"}


def test_engine_gradients_and_pickling():
    """The engine keeps its gradients in one flat buffer (p.grad are views): the recorded norm is the
    global norm, a .grad replaced from outside is handed back, and a pickled engine (a worker's, sent
    back) rebuilds its views and trains on exactly as the original."""
    task = make_task("hihell")
    m, t = task.suggested()
    a = TorchEngine(task, m, t)
    batch = task.probe()
    res = a.train_step(batch)
    assert res.grad_norm == pytest.approx(torch.nn.utils.get_total_norm([p.grad for p in a.params]).item(), rel=1e-6)
    for p in a.params:   # a .grad replaced from outside
        p.grad = None
    res = a.train_step(batch, record=True)
    assert res.grad_norm == pytest.approx(torch.nn.utils.get_total_norm([p.grad for p in a.params]).item(), rel=1e-6)
    b = pickle.loads(pickle.dumps(a))
    for _ in range(3):
        ra, rb = a.train_step(batch, record=True), b.train_step(batch, record=True)
        assert (ra.loss, ra.grad_norm) == (rb.loss, rb.grad_norm)
    assert all(torch.equal(p, q) for p, q in zip(a.params, b.params))
    b.mark_good()
    good = [p.detach().clone() for p in b.params]
    b.train_step(batch)
    b.restore_good()
    assert all(torch.equal(p, q) for p, q in zip(b.params, good))


def test_a_probe_recorded_in_the_step_has_the_spectral_radius_of_its_weights():
    task = make_task("hihell")      # the batch is the probe input: probes come from the step itself
    m, t = task.suggested()
    rec = Recorder(spectral=True)
    w0 = build_model(task, m, t).state_dict()["rnn.weight_hh_l0"].double().numpy()
    Trainer(task, m, dataclasses.replace(t, epochs=3), [rec]).run()
    first = rec.history.records[0].probe
    assert first.spectral_radius["h"] == [pytest.approx(np.abs(np.linalg.eigvals(w0)).max(), rel=1e-6)]
    assert all(r.probe.spectral_radius for r in rec.history.records)
