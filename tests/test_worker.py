"""Training in worker processes (rnnviz.worker): the same run as in-process, mirrored, controllable."""
import dataclasses
import time

import numpy as np
import pytest
import torch

from rnnviz.callbacks import Recorder
from rnnviz.tasks import make_task
from rnnviz.trainer import Callback, Trainer
from rnnviz.worker import Pool, RemoteRun


def until(cond, timeout=20.0):
    end = time.time() + timeout
    while not cond():
        assert time.time() < end, "timed out"
        time.sleep(0.02)


def ready_pool() -> Pool:
    p = Pool(1).start()
    until(lambda: p._workers[0].ready, 60)    # runs go to the process, not the stand-in thread
    return p


@pytest.fixture(scope="module")
def pool():
    p = ready_pool()
    yield p
    p.close()


def endless_seoul(callback: Callback) -> RemoteRun:
    """seoul for a million epochs (the test stops it), not submitted yet."""
    task = make_task("seoul")
    m, t = task.suggested()
    return RemoteRun(task, m, dataclasses.replace(t, epochs=10**6), callbacks=[callback])


class Ends(Callback):
    def __init__(self):
        self.started = self.ended = 0

    def on_start(self, run):
        self.started += 1

    def on_end(self, run):
        self.ended += 1


def test_a_run_in_a_worker_equals_the_same_run_here(pool):
    task = make_task("hihell")
    m, t = task.suggested()
    here, there, ends = Recorder(spectral=True), Recorder(), Ends()
    Trainer(task, m, t, [here]).run()
    run = pool.submit(RemoteRun(task, m, t, callbacks=[there, ends], spectral=True))
    assert run._worker.process is not None
    assert run.wait(60) and run.status == "finished" and run.reason == "finished 100 epochs"
    a, b = here.history.records, there.history.records
    assert [r.loss for r in a] == [r.loss for r in b] and len(b) == 100
    assert b[-1].prediction["text"] == a[-1].prediction["text"] == "ihello"
    assert np.array_equal(a[-1].probe.hidden, b[-1].probe.hidden)
    assert a[-1].probe.spectral_radius == b[-1].probe.spectral_radius != {}
    assert (run.step, run.epoch, run.done) == (100, 100, 100) and ends.started == ends.ended == 1
    assert run.weights is not None          # the final record always brings its weights
    for k, v in run.engine.state_dict().items():   # ... which are the weights the run ended with
        assert torch.equal(v, run.weights[k])


def test_pause_resume_learning_rate_and_stop_reach_the_worker(pool):
    task = make_task("seoul")
    m, t = task.suggested()
    rec = Recorder()
    run = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=10**6), callbacks=[rec]))
    until(lambda: run.step >= 5)
    run.pause()
    until(lambda: run.status == "paused")
    frozen = len(rec.history.records)
    time.sleep(0.3)
    assert len(rec.history.records) == frozen             # nothing trains while paused
    run.set_lr(0.003)
    run.resume()
    until(lambda: run.status == "running" and rec.history.last.lr == 0.003)
    run.set_live(pace=20.0, auto_stop=False)               # at most 20 records per second
    time.sleep(0.3)
    n0 = len(rec.history.records)
    time.sleep(1.0)
    assert len(rec.history.records) - n0 <= 25
    run.stop()
    assert run.wait(10) and run.status == "stopped" and run.reason == "stopped by user"
    assert run.done < 10**6


def test_controls_given_before_a_worker_has_the_run_go_with_it(pool):
    """A run waiting for a trainer (not submitted yet) that is paused starts paused, with the learning
    rate and speed limit asked meanwhile; told to go on, it trains with them."""
    rec = Recorder()
    run = endless_seoul(rec)
    run.pause()
    run.set_lr(0.004)
    run.set_live(pace=30.0, auto_stop=False)
    pool.submit(run)
    until(lambda: run.status == "paused")
    time.sleep(0.3)
    assert rec.history.records == [] and run.step == 0 and run.held   # not one step
    run.resume()
    until(lambda: len(rec.history.records) >= 5)
    assert run.status == "running" and not run.held
    assert {r.lr for r in rec.history.records} == {0.004}
    n0, t0 = len(rec.history.records), time.perf_counter()
    time.sleep(1.0)
    assert (len(rec.history.records) - n0) / (time.perf_counter() - t0) <= 36     # at most 30 a second
    run.stop()
    assert run.wait(10) and run.status == "stopped"


def test_a_pause_does_not_wait_out_the_speed_limit(pool):
    """At 0.5 records a second a run waits 2 s after each record; a pause asked for meanwhile pauses it
    at once (at 2 records a second, a Pause took half a second to show)."""
    rec = Recorder()
    run = endless_seoul(rec)
    run.set_live(pace=0.5, auto_stop=False)
    pool.submit(run)
    until(lambda: len(rec.history.records) >= 2)     # (the first record has no predecessor to wait for)
    asked, n = time.perf_counter(), len(rec.history.records)
    run.pause()
    until(lambda: run.status == "paused")
    assert time.perf_counter() - asked < 1.0 and len(rec.history.records) == n
    run.stop()
    assert run.wait(10) and run.status == "stopped"


class WeightsSeen(Callback):
    """(epoch, whether weights came with it) of every record, as the parent hears them."""

    def __init__(self):
        self.seen = []

    def on_record(self, run, rec):
        self.seen.append((rec.epoch, run.weights is not None))


def test_weights_come_at_most_20_times_a_second_and_before_a_pause(pool):
    """A copy of the weights with every record made a full-speed run 7-13% slower: they come at most every
    WEIGHT_EVERY_S, and always with the record before a pause (generation there uses that run's weights)."""
    from rnnviz.worker import WEIGHT_EVERY_S
    task = make_task("seoul")
    m, t = task.suggested()
    got = WeightsSeen()
    run = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=10**6), callbacks=[got]))
    until(lambda: run.step >= 5)
    t0, n0 = time.time(), len(got.seen)
    time.sleep(1.0)
    window = got.seen[n0:]
    with_weights = sum(w for _, w in window)
    assert len(window) > 2 * with_weights and 1 <= with_weights <= (time.time() - t0) / WEIGHT_EVERY_S + 2
    run.pause()
    until(lambda: run.status == "paused")
    time.sleep(0.2)
    assert got.seen[-1][1], "the record before the pause came without weights"
    paused = {k: v.clone() for k, v in run.weights.items()}
    run.stop()
    assert run.wait(10) and run.status == "stopped"
    for k, v in run.engine.state_dict().items():   # the weights the run stopped with: those of that record
        assert torch.equal(v, paused[k])


def test_every_record_of_a_paced_run_brings_its_weights(pool):
    """A paced run waits after each record: a pause asked for then must still find that record's weights."""
    got = WeightsSeen()
    run = endless_seoul(got)
    run.set_live(pace=60.0, auto_stop=False)
    pool.submit(run)
    for _ in range(3):
        until(lambda: run.status == "running" and len(got.seen) >= 5)
        run.pause()
        until(lambda: run.status == "paused")
        time.sleep(0.1)
        assert got.seen and all(w for _, w in got.seen), got.seen[-5:]
        got.seen.clear()
        run.resume()
    run.stop()
    assert run.wait(10)


def test_auto_stop_ends_a_converged_run(pool):
    task = make_task("hihell")
    m, t = task.suggested()
    run = RemoteRun(task, m, dataclasses.replace(t, epochs=5000))
    run.set_live(0.0, auto_stop=True)
    pool.submit(run)
    assert run.wait(60) and run.status == "stopped" and run.reason.startswith("converged")
    assert run.epoch < 5000


def test_a_dead_worker_ends_its_runs_with_a_reason():
    pool = ready_pool()
    try:
        task = make_task("seoul")
        m, t = task.suggested()
        run = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=10**6)))
        until(lambda: run.step > 0)
        pool._workers[0].process.kill()
        assert run.wait(10) and run.status == "error" and "ended unexpectedly" in run.reason
        again = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=3)))   # the pool goes on (a new process, or meanwhile a thread)
        assert again.wait(60) and again.status == "finished"
    finally:
        pool.close()


def test_bad_settings_are_refused_before_anything_starts():
    task = make_task("hihell")
    m, t = task.suggested()
    with pytest.raises(ValueError):
        RemoteRun(task, m, dataclasses.replace(t, lr=-1.0))


def test_runs_before_the_processes_are_ready_train_here_one_at_a_time():
    pool = Pool(1)    # not started: submit starts the process, which takes seconds to be ready
    try:
        task = make_task("hihell")
        m, t = task.suggested()
        first = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=10**6)))
        second = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=5)))
        assert first._worker is pool._local and first._worker.process is None      # a thread here
        assert second._worker is pool._workers[0]                                  # waits for the process
        until(lambda: first.step > 0)
        assert second.wait(60) and second.status == "finished" and pool._workers[0].ready
        first.stop()
        assert first.wait(10) and first.status == "stopped"
        third = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=2)))
        assert third._worker is pool._workers[0] and third.wait(30)
    finally:
        pool.close()


def test_worker_processes_start_one_after_the_other():
    pool = Pool(2, spare_after=0.5).start()
    try:
        assert len(pool._workers) == 1                    # the second waits for the first to be ready
        until(lambda: len(pool._workers) == 2 and all(w.ready for w in pool._workers), 90)
    finally:
        pool.close()


def test_the_next_process_waits_unless_every_ready_one_is_busy():
    """After the first process is ready the next one waits (a click just after the page loaded gets the
    cores), but a run that finds every ready process busy starts it at once."""
    pool = Pool(2, spare_after=3600).start()
    try:
        until(lambda: pool._workers[0].ready, 90)
        task = make_task("hihell")
        m, t = task.suggested()
        first = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=10**6)))
        assert first._worker is pool._workers[0] and len(pool._workers) == 1
        second = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=10**6)))
        assert len(pool._workers) == 2 and second._worker is pool._workers[0]    # it trains meanwhile
        until(lambda: pool._workers[1].ready, 90)
        third = pool.submit(RemoteRun(task, m, dataclasses.replace(t, epochs=3)))
        assert third._worker is pool._workers[1] and third.wait(30) and third.status == "finished"
        for run in (first, second):
            run.stop()
            assert run.wait(10)
    finally:
        pool.close()
