"""A run's life in the registry across what memory and disk do to it (lab.registry): a lesson read back
from disk can leave memory again, a run leaves memory or drops its probes only once where it stands is
on disk, the disk budget never deletes the group on screen, and Reset outlives a restart."""
from __future__ import annotations

import dataclasses
import time

import pytest
from test_registry_memory import NoRunner, reg, trained_in  # noqa: F401  (reg: a fixture)

from lab import registry
from rnnviz import run_store
from rnnviz.callbacks import Recorder
from rnnviz.run import Run
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer


def over_budget(monkeypatch) -> float:
    """Every kept run is over the memory budget; the time now."""
    monkeypatch.setattr(registry, "MEMORY_MB", 0)
    return time.time()


def trained_on(run: Run, more: int) -> None:
    """Continue: `more` epochs from where the run stands, as a worker trains them."""
    run.continued(run.tcfg, run.stands + more)
    trainer = Trainer(run.task, run.mcfg, run.tcfg, [Recorder(run.history, probe_every=1)], resume=run.resume)
    run.state = trainer.run()
    run.resume, run.done, run.step = trainer.resume_state(), trainer.done, trainer.step


def test_a_lesson_read_back_from_disk_can_leave_memory_again(reg, monkeypatch):  # noqa: F811
    run = trained_in(reg, "a", "gradients")
    now = over_budget(monkeypatch)
    run.seen = now - 10 * registry.RECENT_S
    reg.sweep(now)
    assert reg.runs_of("a").get(run.id) is None
    (back,) = reg.current("a", "gradients").values()           # the student looks again: read from disk
    back.seen = now - 10 * registry.RECENT_S
    reg.sweep(now)
    assert reg.runs_of("a").get(back.id) is None                       # it is on disk: it may go again
    monkeypatch.setattr(registry, "MEMORY_MB", 10**6)
    (again,) = reg.current("a", "gradients").values()
    reg.sweep(time.time() + 2 * registry.IDLE_S)
    assert reg.runs_of("a").get(again.id) is None                      # and when idle, under the budget


def test_an_idle_lesson_with_an_opened_checkpoint_among_its_runs_leaves_memory(reg, monkeypatch):  # noqa: F811
    trained = trained_in(reg, "a", "gradients")
    opened = Run(trained.task, trained.mcfg, trained.tcfg, resume=trained.resume, state="loaded")
    reg.place("a", "gradients", {"lstm": opened})                 # as lab.checkpoints opens one
    now = over_budget(monkeypatch)
    trained.seen = opened.seen = now - 10 * registry.RECENT_S
    reg.sweep(now)
    assert reg.runs_of("a").get(opened.id) is opened                   # over the budget: it would not read back
    reg.sweep(now + 2 * registry.IDLE_S)
    assert reg.runs_of("a").get(opened.id) is None and reg.runs_of("a").get(trained.id) is None


def test_a_continued_run_whose_write_failed_stays_in_memory(reg, monkeypatch):  # noqa: F811
    run = trained_in(reg, "a", "gradients")
    trained_on(run, 3)

    def disk_full(run, root):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(run_store, "save", disk_full)
    with pytest.raises(OSError):
        reg._ended(run)                                         # (the runner logs it)
    now = over_budget(monkeypatch)
    run.seen = now - 10 * registry.IDLE_S
    reg.sweep(now)
    assert reg.runs_of("a").get(run.id) is run and run.last_epoch == 9      # the disk has only its first 6 epochs
    assert len(run.history.probed()) == 9                            # nor are its probes dropped


def test_a_run_moved_off_screen_while_it_is_written_is_written_whole(reg, monkeypatch):  # noqa: F811
    """The student clicks Train as the run finishes: the page thread moves it off screen while the
    runner's thread writes it down."""
    task = make_task("copy")
    m, t = task.suggested()
    run = Run(task, m, dataclasses.replace(t, epochs=6))
    reg.place("a", "gradients", {"lstm": run})
    trainer = Trainer(task, m, run.tcfg, [Recorder(run.history, probe_every=1)])
    run.state = trainer.run()
    run.resume, run.done, run.step = trainer.resume_state(), trainer.done, trainer.step
    save = run_store.save

    def click_train_then_save(r, root):
        reg.place("a", "gradients", {"lstm": Run(task, m, t)})
        return save(r, root)
    monkeypatch.setattr(run_store, "save", click_train_then_save)
    reg._ended(run)
    on_disk = run_store.load(run_store.folder(reg.root, run))
    assert len(on_disk.history.probed()) == 6 and not on_disk.history.thinned
    assert len(run.history.probed()) == 1                      # off screen, once written: only the newest


class Clock:
    """The server's clock, 1 ms later at each look from a whole second on; and os, whose random bytes
    fall from one group's name to the next."""

    def __init__(self):
        self.now, self.bytes = 2_000_000_000.0, iter([b"\xff\xff", b"\x00\x00"])

    def time(self) -> float:
        self.now += 0.001
        return self.now

    def localtime(self, t=None):
        return time.localtime(self.time() if t is None else t)

    def strftime(self, fmt: str, t=None) -> str:
        return time.strftime(fmt, self.localtime() if t is None else t)

    def urandom(self, n: int) -> bytes:
        return next(self.bytes)[:n]

    def monotonic(self) -> float:
        return time.monotonic()


def test_two_groups_placed_in_one_second_read_back_in_their_order(reg, monkeypatch):  # noqa: F811
    """Train clicked twice in a second: after a restart the second group is the one on screen."""
    clock = Clock()
    monkeypatch.setattr(registry, "time", clock)
    monkeypatch.setattr(registry, "os", clock)
    first = trained_in(reg, "a", "gradients")
    second = trained_in(reg, "a", "gradients")
    assert first.group[:15] == second.group[:15]                # the same second
    restarted = registry.Registry(NoRunner(), reg.root)
    assert [g["lstm"].group for g in restarted.groups("a", "gradients")] == [second.group, first.group]


class SetBack:
    """The server's clock, set back by an hour after the first group (the end of summer time, or a
    clock corrected): a later group's name sorts before an earlier one's."""

    def __init__(self):
        self.stamps = iter(["20300101-020000-", "20300101-013000-", "20300101-013001-"])

    def strftime(self, fmt: str, t=None) -> str:
        return next(self.stamps)

    time, localtime, monotonic = staticmethod(time.time), staticmethod(time.localtime), staticmethod(time.monotonic)


def test_the_disk_budget_never_deletes_the_group_on_screen(reg, monkeypatch):  # noqa: F811
    monkeypatch.setattr(registry, "time", SetBack())
    earlier = trained_in(reg, "a", "gradients")
    shown = trained_in(reg, "a", "gradients")
    monkeypatch.setattr(registry, "STUDENT_RUNS_MB", 0)
    assert reg.groups("a", "text") == []                       # a lesson looked at, never trained
    trained_in(reg, "a", "sine")                               # another lesson's run ends: the budget is applied
    assert reg.current("a", "gradients") == {"lstm": shown}
    assert (run_store.folder(reg.root, shown) / "config.json").is_file()
    assert earlier.group > shown.group


def test_reset_outlives_a_restart_and_leaving_memory(reg, monkeypatch):  # noqa: F811
    run = trained_in(reg, "a", "gradients")
    reg.shelve("a", "gradients")
    restarted = registry.Registry(NoRunner(), reg.root)
    assert restarted.current("a", "gradients") == {}
    (earlier,) = [g for g in restarted.groups("a", "gradients") if g]
    assert earlier["lstm"].group == run.group                   # still among the earlier runs
    now = over_budget(monkeypatch)
    run.seen = now - 10 * registry.RECENT_S
    reg.sweep(now)
    assert reg.runs_of("a").get(run.id) is None and reg.current("a", "gradients") == {}
    new = trained_in(reg, "a", "gradients")                     # Train again: the new run is on screen
    assert registry.Registry(NoRunner(), reg.root).current("a", "gradients")["lstm"].group == new.group


def test_a_group_deleted_while_its_run_is_written_stays_deleted(reg, monkeypatch):  # noqa: F811
    """Train replaced the group and its run is still stopping; the student deletes that earlier group
    while the runner's thread writes the run's end: the write must not bring it back from disk."""
    first = trained_in(reg, "a", "gradients")
    trained_in(reg, "a", "gradients")                           # `first` is now an earlier group
    trained_on(first, 3)
    save = run_store.save

    def deleted_meanwhile(run, root):
        reg.forget("a", "gradients", 1)                         # the page thread, in the middle of the write
        save(run, root)
    monkeypatch.setattr(run_store, "save", deleted_meanwhile)
    reg._ended(first)
    assert not run_store.folder(reg.root, first).exists()
    assert reg.runs_of("a").get(first.id) is None
    after_restart = registry.Registry(NoRunner(), reg.root)
    assert len(after_restart.groups("a", "gradients")) == 1
