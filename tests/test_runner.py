"""Training in worker processes (rnnviz.runner): the same run as here, controllable, queued fairly."""
import dataclasses
import os
import signal
import time
import types

import numpy as np
import pytest
import torch

from rnnviz.callbacks import Recorder
from rnnviz.run import Run
from rnnviz import worker
from rnnviz.runner import Runner
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer


def until(cond, timeout=30.0):
    end = time.time() + timeout
    while not cond():
        assert time.time() < end, "timed out"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def runner():
    r = Runner(workers=1, slots=4, per_owner=3)
    yield r
    r.close()


def run_of(task_name="hihell", owner="a", **train):
    task = make_task(task_name)
    m, t = task.suggested()
    return Run(task, m, dataclasses.replace(t, **train), owner=owner)


def endless(owner="a", **train):
    return run_of("seoul", owner, epochs=10**6, **train)


def test_a_run_in_a_worker_equals_the_same_run_here(runner):
    run = runner.submit(run_of())
    here = Recorder(spectral=True)
    Trainer(run.task, run.mcfg, run.tcfg, [here]).run()
    assert run.ended.wait(60) and run.state == "finished" and run.reason == "finished 100 epochs"
    a, b = here.history.records, run.history.snapshot()
    assert [r.loss for r in a] == [r.loss for r in b] and len(b) == 100
    assert b[-1].prediction["text"] == a[-1].prediction["text"] == "ihello"
    assert np.array_equal(a[-1].probe.hidden, b[-1].probe.hidden)
    assert a[-1].probe.spectral_radius == b[-1].probe.spectral_radius != {}
    assert (run.step, run.done, run.resume.step, run.resume.done) == (100, 100, 100, 100)
    kept_epoch, kept = run.weights.at(100)     # the last record's weights are the run's final ones
    assert kept_epoch == 100
    for k, v in run.resume.weights.items():
        assert torch.equal(v, kept[k])


def test_pause_resume_learning_rate_speed_and_stop_reach_the_worker(runner):
    run = runner.submit(endless())
    until(lambda: run.step >= 5)
    runner.pause(run)
    assert run.phase == "paused"                    # at once, before the worker answers
    until(lambda: run.state == "paused")
    frozen = len(run.history.snapshot())
    time.sleep(0.3)
    assert len(run.history.snapshot()) == frozen    # nothing trains while paused
    runner.set_lr(run, 0.003)
    runner.resume(run)
    until(lambda: run.state == "running" and run.history.last.lr == 0.003)
    runner.set_live(run, 20.0, False)               # at most 20 records per second
    time.sleep(0.3)
    n0 = len(run.history.snapshot())
    time.sleep(1.0)
    assert len(run.history.snapshot()) - n0 <= 25
    runner.stop(run)
    assert run.ended.wait(10) and run.state == "stopped" and run.reason == "stopped by the user"
    assert run.resume is not None and run.resume.done == run.last_epoch


def test_controls_given_while_a_run_waits_go_with_it(runner):
    run = endless()
    runner.pause(run)
    runner.set_lr(run, 0.004)
    runner.set_live(run, 30.0, False)
    runner.submit(run)
    until(lambda: run.state == "paused")
    time.sleep(0.3)
    assert run.history.snapshot() == [] and run.step == 0
    runner.resume(run)
    until(lambda: len(run.history.snapshot()) >= 5)
    assert {r.lr for r in run.history.snapshot()} == {0.004}
    n0, t0 = len(run.history.snapshot()), time.perf_counter()
    time.sleep(1.0)
    assert (len(run.history.snapshot()) - n0) / (time.perf_counter() - t0) <= 36
    runner.stop(run)
    assert run.ended.wait(10)


def test_a_pause_does_not_wait_out_the_speed_limit(runner):
    run = endless(owner="slow")
    runner.set_live(run, 0.5, False)                # 2 s after each record
    runner.submit(run)
    until(lambda: len(run.history.snapshot()) >= 1)
    t0 = time.perf_counter()
    runner.pause(run)
    until(lambda: run.state == "paused", 5)
    assert time.perf_counter() - t0 < 1.0
    runner.stop(run)
    assert run.ended.wait(10)


def test_weights_come_with_paced_records_and_at_most_20_times_a_second_at_full_speed(runner):
    paced = endless(owner="p")
    runner.set_live(paced, 30.0, False)
    fast = endless(owner="f")
    for r in (paced, fast):
        runner.submit(r)
    until(lambda: len(paced.history.snapshot()) >= 20 and fast.steps_per_second > 0)
    t0, kept0 = time.perf_counter(), len(fast.weights.epochs)
    time.sleep(1.0)
    kept = len(fast.weights.epochs) - kept0
    # weights come with a fast record at most every WEIGHT_EVERY_S, by the records' own clock (a loaded
    # machine makes fewer records, not closer weights)
    at = {r.epoch: r.seconds for r in fast.history.snapshot()}
    assert np.diff(sorted(at[e] for e in fast.weights.epochs if e in at)).min() >= 0.9 * worker.WEIGHT_EVERY_S
    assert kept <= 24 * (time.perf_counter() - t0)
    assert {r.epoch for r in paced.history.snapshot()} <= set(paced.weights.epochs)   # every paced record
    # measured in the limit's unit: record points a second, as the records' own clock counts them (a loaded
    # machine may train slower than the limit, never faster)
    got = paced.history.snapshot()
    assert paced.records_per_second == pytest.approx((len(got) - 1) / (got[-1].seconds - got[0].seconds), rel=0.25)
    assert paced.records_per_second < 33
    for r in (paced, fast):
        runner.stop(r)
        assert r.ended.wait(10)


def test_runs_wait_for_a_slot_and_a_student_gets_at_most_their_share():
    r = Runner(workers=1, slots=3, per_owner=2)
    try:
        mine = [r.submit(endless(owner="greedy")) for _ in range(3)]
        other = r.submit(endless(owner="other"))
        until(lambda: mine[0].state == mine[1].state == other.state == "running")
        assert mine[2].state == "waiting" and "2 of your runs" in mine[2].reason
        late = r.submit(endless(owner="late"))        # 3 slots taken
        assert late.state == "waiting" and "free trainer" in late.reason
        r.stop(late)
        assert late.state == "stopped" and late.reason == "stopped before it started" and late.ended.is_set()
        r.stop(mine[0])
        until(lambda: mine[2].state == "running")     # its owner's share is free again
    finally:
        r.close()
    assert all(run.ended.is_set() for run in mine + [other])


def test_a_dead_worker_ends_its_runs_with_a_reason_and_is_replaced():
    r = Runner(workers=1, slots=2)
    try:
        run = r.submit(endless())
        until(lambda: run.state == "running")
        os.kill(r._workers[0].process.pid, signal.SIGKILL)
        assert run.ended.wait(10)
        assert run.state == "error" and "ended unexpectedly" in run.reason
        again = r.submit(run_of(epochs=3))
        assert again.ended.wait(60) and again.state == "finished"
    finally:
        r.close()


def test_close_stops_every_run_and_hands_each_to_on_end():
    saved = []
    r = Runner(workers=1, slots=2, on_end=lambda run: saved.append((run.id, run.state, run.resume is not None)))
    runs = [r.submit(endless(owner=str(i))) for i in range(2)]
    waiting = r.submit(endless(owner="2"))
    until(lambda: all(x.state == "running" for x in runs))
    r.close()
    assert sorted(saved) == sorted((x.id, "stopped", True) for x in runs)
    assert waiting.state == "stopped" and waiting.ended.is_set()


def test_continuing_in_a_worker_equals_one_longer_run(runner):
    task = make_task("copy", lag=3, batches_per_epoch=4, val_size=32)
    m, t = task.suggested()
    t = dataclasses.replace(t, epochs=12)
    here = Recorder()
    Trainer(task, m, t, [here]).run()
    run = runner.submit(Run(task, m, dataclasses.replace(t, epochs=5)))
    assert run.ended.wait(60) and run.state == "finished"
    run.continued(t, 12)                                     # 7 more
    assert run.total == 12
    runner.submit(run)
    assert run.ended.wait(60) and run.state == "finished"
    got = run.history.snapshot()
    assert [r.epoch for r in got] == list(range(1, 13))
    np.testing.assert_allclose([r.loss for r in got], [r.loss for r in here.history.records], rtol=1e-6)


def test_a_paced_run_sends_its_weights_within_the_byte_rate(monkeypatch):
    """A paced run brings the weights with every record, for generation at each epoch, but no faster
    than WEIGHT_RATE: a large model at 60 records a second would push about 1 GB/s to the server."""
    task = make_task("hihell")
    m, t = task.suggested()
    trainer = Trainer(task, m, dataclasses.replace(t, epochs=20), [])
    size = sum(v.numel() * v.element_size() for v in trainer.engine.state_dict().values())
    sent: list = []
    reporter = worker.Reporter("r", worker.Start(task, m, t, pace=1000.0), sent.append)

    def records(rate: float) -> list:
        monkeypatch.setattr(worker, "WEIGHT_RATE", rate)
        sent.clear()
        reporter.weights_sent, reporter.weight_bytes = -1e9, None
        for epoch in range(1, 21):
            trainer.done = epoch - 1
            reporter.on_record(trainer, types.SimpleNamespace(epoch=epoch))
        return [(rec.epoch, w is not None) for msg in sent for rec, w in msg[3]]

    assert records(1e12) == [(e, True) for e in range(1, 21)]                 # a small model: every record
    slow = records(size / 10.0)                                                # 10 s per copy at this rate
    assert [e for e, _ in slow] == list(range(1, 21))                          # every record still travels
    assert [e for e, w in slow if w] == [1, 20]                                # the weights: first and last
