"""What the server keeps of its students' runs in memory (lab.registry): an earlier run keeps what
Compare draws of it, and ended runs leave memory, least recently seen first, while all kept runs hold
more than the budget; they read back from disk, and nothing that trains or is not on disk leaves."""
from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import pytest
from figure_inputs import make_probe
from test_checkpoint import ThinnedWhileRead

from lab import compare, registry, views
from lab.snapshot import Snapshot, latest_probed
from rnnviz import run_store
from rnnviz.callbacks import Callback, Recorder
from rnnviz.figures import figure_text, grad_heatmap, spectral_radius_figure
from rnnviz.recorder import EpochRecord
from rnnviz.run import Run
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer


class NoRunner:
    """The registry's runner for runs trained here, in the test: nothing is ever training there."""
    on_end = None

    def stop(self, run, reason=""):
        raise AssertionError(f"stop({run.name}) of a run that is not training")

    def submit(self, run):
        raise AssertionError("nothing is submitted here")


class KeepWeights(Callback):
    """Copies of the weights at every record point, as the runner keeps them from the worker's reports."""

    def __init__(self, run: Run):
        self.run = run

    def on_record(self, trainer, rec) -> None:
        self.run.weights.keep(rec.epoch, {k: v.clone() for k, v in trainer.engine.state_dict().items()})


def trained_in(reg: registry.Registry, owner: str, lesson: str, epochs: int = 6) -> Run:
    """A copy-task lstm placed on the student's lesson and trained here with a probe at every record,
    as a worker would; then handed to the registry as the runner hands an ended run."""
    task = make_task("copy")
    m, t = task.suggested()
    run = Run(task, m, dataclasses.replace(t, epochs=epochs))
    reg.place(owner, lesson, {"lstm": run})
    trainer = Trainer(task, m, run.tcfg, [Recorder(run.history, probe_every=1), KeepWeights(run)])
    run.state = trainer.run()
    run.reason, run.resume, run.done, run.step = trainer.reason, trainer.resume_state(), trainer.done, trainer.step
    reg._ended(run)
    return run


@pytest.fixture
def reg(tmp_path):
    return registry.Registry(NoRunner(), tmp_path)


def test_an_earlier_run_keeps_every_record_and_only_its_newest_probe_and_weights(reg):
    first = trained_in(reg, "a", "gradients")
    losses = [r.loss for r in first.history.records]
    assert len(first.history.probed()) == 6 and len(first.weights.epochs) == 6
    newest_probe = first.history.probed()[-1].probe
    second = trained_in(reg, "a", "gradients")
    assert reg.groups("a", "gradients") == [{"lstm": second}, {"lstm": first}]
    assert [r.loss for r in first.history.records] == losses
    assert [r.probe for r in first.history.probed()] == [newest_probe]
    assert first.history.probe_bytes == newest_probe.nbytes()
    assert first.weights.epochs == [6] and first.weights.nbytes * 6 == second.weights.nbytes
    assert len(second.history.probed()) == 6                 # the run on screen keeps everything


def test_a_runs_size_counts_the_optimizer_state_kept_for_continue(reg):
    """Adam's two moments are twice the weights (128 MB for the largest model); nbytes left them out,
    so the memory budget undercounted every ended run."""
    run = trained_in(reg, "a", "gradients")
    tensors, meta = run.resume.optimizer
    assert meta["optimizer"] == "adam"
    moments = sum(t.numel() * t.element_size() for k, t in tensors.items() if not k.endswith(":step"))
    weights = sum(t.numel() * t.element_size() for t in run.resume.weights.values())
    assert moments == 2 * weights
    held = sum(t.numel() * t.element_size() for t in tensors.values())
    assert run.nbytes == run.history.probe_bytes + run.weights.nbytes + held
    run.resume = dataclasses.replace(run.resume, optimizer=None)       # no optimizer state (a shipped checkpoint)
    assert run.nbytes == run.history.probe_bytes + run.weights.nbytes


def test_over_the_budget_the_least_recently_seen_lessons_leave_memory_and_read_back(reg, monkeypatch):
    old = trained_in(reg, "a", "gradients")
    mine = trained_in(reg, "b", "gradients")
    assert old.nbytes + mine.nbytes > 2**20
    now = time.time()
    old.seen, mine.seen = now - 300, now - 200
    monkeypatch.setattr(registry, "MEMORY_MB", 1)
    reg.sweep(now)
    assert reg.runs_of("a").get(old.id) is None and reg.runs_of("b").get(mine.id) is mine    # under budget again
    (back,) = reg.current("a", "gradients").values()                         # read back from disk
    assert back is not old and back.state == old.state == "finished"
    assert [r.loss for r in back.history.records] == [r.loss for r in old.history.records]
    assert back.resume.counters() == old.resume.counters()


def test_nothing_that_trains_was_looked_at_just_now_or_is_not_on_disk_leaves(reg, monkeypatch):
    training = trained_in(reg, "a", "gradients")
    training.state = "running"
    unsaved = trained_in(reg, "b", "gradients")
    unsaved.saved = 0.0                                      # its write failed: memory is its only copy
    recent = trained_in(reg, "c", "gradients")
    now = time.time()
    training.seen = unsaved.seen = now - 10 * registry.IDLE_S
    recent.seen = now - registry.RECENT_S / 2
    monkeypatch.setattr(registry, "MEMORY_MB", 1)
    reg.sweep(now)
    assert reg.runs_of("a").get(training.id) is training
    assert reg.runs_of("b").get(unsaved.id) is unsaved
    assert reg.runs_of("c").get(recent.id) is recent
    recent.seen = now - registry.RECENT_S * 2
    reg.sweep(now)
    assert reg.runs_of("c").get(recent.id) is None


def test_an_opened_checkpoint_leaves_memory_only_when_idle(reg, monkeypatch):
    run = trained_in(reg, "a", "gradients")
    run.state, run.saved = "loaded", 0.0          # as lab.checkpoints opens one: it is not in the run store
    now = time.time()
    run.seen = now - 10 * registry.RECENT_S
    monkeypatch.setattr(registry, "MEMORY_MB", 1)
    reg.sweep(now)
    assert reg.runs_of("a").get(run.id) is run           # over the budget: it would not read back
    reg.sweep(now + registry.IDLE_S * 2)
    assert reg.runs_of("a").get(run.id) is None


def test_under_the_budget_only_idle_lessons_leave(reg):
    run = trained_in(reg, "a", "gradients")
    now = time.time()
    reg.sweep(now + registry.IDLE_S / 2)
    assert reg.runs_of("a").get(run.id) is run
    reg.sweep(now + registry.IDLE_S * 2)
    assert reg.runs_of("a").get(run.id) is None


def test_a_look_at_any_lesson_lets_idle_lessons_leave_memory_at_most_every_sweep_s(reg, monkeypatch):
    idle = trained_in(reg, "a", "gradients")              # (its end swept just now)
    idle.seen = time.time() - 2 * registry.IDLE_S
    reg.groups("b", "gradients")
    assert reg.runs_of("a").get(idle.id) is idle
    monkeypatch.setattr(registry, "SWEEP_S", 0)
    reg.groups("b", "gradients")
    assert reg.runs_of("a").get(idle.id) is None


def test_past_the_disk_budget_a_students_oldest_earlier_runs_go_and_no_one_elses(reg, monkeypatch):
    theirs = trained_in(reg, "b", "gradients")
    first = trained_in(reg, "a", "gradients")
    other_lesson = trained_in(reg, "a", "sine")
    second = trained_in(reg, "a", "gradients")
    size = sum(f.stat().st_size for f in run_store.folder(reg.root, second).iterdir())
    # room for about three runs: the next end deletes the oldest earlier group (first), nothing else
    monkeypatch.setattr(registry, "STUDENT_RUNS_MB", 3.5 * size / 2**20)
    third = trained_in(reg, "a", "gradients")
    assert not run_store.folder(reg.root, first).exists()
    assert reg.groups("a", "gradients") == [{"lstm": third}, {"lstm": second}]
    for kept in (second, third, other_lesson, theirs):
        assert (run_store.folder(reg.root, kept) / "config.json").is_file()
    # over the budget with nothing earlier left: each lesson's newest group stays
    monkeypatch.setattr(registry, "STUDENT_RUNS_MB", 0)
    trained_in(reg, "a", "gradients")
    assert [g["lstm"] for g in reg.groups("a", "gradients")][1:] == []
    assert (run_store.folder(reg.root, other_lesson) / "config.json").is_file()


# ---- a record thinned while a view reads it (test_checkpoint.ThinnedWhileRead) -----------------------
def thinned_while_read(n: int = 3) -> list:
    return [ThinnedWhileRead(epoch=e, step=e, loss=1.0, probe=make_probe(seed=e)) for e in range(1, n + 1)]


def test_views_read_each_probe_once_while_the_run_is_thinned():
    """They read r.probe twice (is it None? then use it): a drop between the two gave the PCA basis no
    probe, Compare no gradient, and raised AttributeError in the figures of probes over epochs."""
    recs = thinned_while_read()
    view = Snapshot("lstm", SimpleNamespace(id="thinned"), recs, recs, recs[-1], recs[-1])
    basis = views._basis(view, -1)
    assert basis is not None and basis.n_probes == 3
    newest = thinned_while_read()[-1]
    assert compare.newest_probe([newest]) is not None
    assert "no probe" not in figure_text(grad_heatmap(thinned_while_read()))
    assert "not measured" not in figure_text(spectral_radius_figure(thinned_while_read()))


def test_the_shown_probe_stays_when_the_history_is_thinned_after_the_scrubber_chose_it():
    """The scrubber picks the latest probed record; the views read its probe a moment later, after the
    runner's thread may have thinned the history (EpochRecord.probe = None): they drew "no probe"."""
    recs = [EpochRecord(epoch=e, step=e, loss=1.0, probe=make_probe(seed=e) if e % 2 else None) for e in range(1, 5)]
    shown = latest_probed(recs)
    recs[2].probe = None                   # History._thin_probes, Run.lighten
    assert shown.epoch == 3 and shown.probe is not None
    assert latest_probed([EpochRecord(epoch=1, step=1, loss=1.0)]) is None
