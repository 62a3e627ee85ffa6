"""The run bar of a lesson: Train, Pause / Resume, Stop, Continue (for N more epochs), Reset, Save.

Each button acts in its on_click callback, before the panel reruns, and what it does is done when the
callback returns: a run's phase (lab: Run.phase) follows the click at once, whatever its worker
process answers later, so the panel's redraw already shows the next buttons. Errors a student can
cause (bad settings, a bug this cell cannot have, a checkpoint that cannot be written) become one
message under the bar; the runs and the settings are untouched.
"""
from __future__ import annotations

import dataclasses
import time

import streamlit as st

from rnnviz.checkpoint import CheckpointError
from rnnviz.export import history_csv
from rnnviz.numpy_engine.cells import check_bugs
from rnnviz.run import Run

from . import checkpoints, identity, presenter, registry
from .messages import say, show_message
from .lessons import Lesson
from .settings import Settings

FIRST_RECORD_S = 0.5      # the Train click's redraw waits this long at most for the runs' first records
PAUSE_WIDTH = 124         # px: Pause and Resume (120 px with its icon and key) alike, so the buttons after stay put


def lesson_runs(lesson: Lesson) -> dict[str, Run]:
    """This student's runs of the lesson on screen."""
    return registry.get().current(identity.owner(), lesson.key)


def _same(lesson: Lesson, run: Run, s: Settings, name: str, training_too: bool) -> bool:
    """Does `run` have these settings? The same model is what Continue needs; with training_too, the
    same training settings as well, but for the live learning rate and the length."""
    mcfg, tcfg = s.setup.variants(lesson)[name]
    same_model = (run.task.name == s.setup.task_name and run.task.options == s.setup.options and run.mcfg == mcfg
                  and run.bugs == s.bugs_for(tcfg))
    if not training_too:
        return same_model
    ignore = {"lr": 0.1, f"{run.unit}s": 1}
    return same_model and dataclasses.replace(run.tcfg, **ignore) == dataclasses.replace(tcfg, **ignore)


def _runs_for(lesson: Lesson, s: Settings) -> dict[str, Run]:
    runs = {}
    for name, (mcfg, tcfg) in s.setup.variants(lesson).items():
        bugs = s.bugs_for(tcfg)
        if bugs:
            check_bugs(mcfg.cell, mcfg.nonlinearity, bugs)      # ValueError: a bug this cell cannot have
        runs[name] = Run(s.setup.task, mcfg, tcfg, bugs=bugs, pace=s.pace, auto_stop=s.auto_stop)
    return runs


def _wait_first_records(runs: dict[str, Run]) -> None:
    """A ready worker records within a fraction of a second: this very redraw then shows the first
    point, instead of "waiting" and a second later."""
    deadline = time.perf_counter() + FIRST_RECORD_S
    while time.perf_counter() < deadline and not all(r.history.last or r.ended.is_set() for r in runs.values()):
        time.sleep(0.01)


def train(lesson: Lesson, s: Settings) -> None:
    """Start the lesson's runs of these settings (the Train button, a preset, a link's train=1)."""
    try:
        runs = _runs_for(lesson, s)
    except ValueError as e:
        return say(lesson.key, "error", f"Could not start training: {e}")
    try:
        registry.get().start(identity.owner(), lesson.key, runs)
    except registry.RunsFull as e:
        return say(lesson.key, "error", f"Could not start training: {e}")
    _wait_first_records(runs)


def _continue(lesson: Lesson, s: Settings, n: int, to: bool) -> None:
    """Train the runs `n` more epochs each, or (`to`) on to epoch n; a run already there stays."""
    runs = lesson_runs(lesson)
    variants = s.setup.variants(lesson)
    until = n if to else max((r.stands for r in runs.values()), default=0) + n
    going = {name: run for name, run in runs.items() if run.stands < until}
    try:     # the run furthest behind first: when it is refused (more than 100,000 to go), none has changed
        for name, run in sorted(going.items(), key=lambda named: named[1].stands):
            run.continued(variants[name][1], until)
    except (ValueError, KeyError) as e:
        return say(lesson.key, "error", f"Could not continue: {e}")
    for run in going.values():
        registry.get().runner.submit(run)
    _wait_first_records(going)


def _each(lesson: Lesson, action: str) -> None:
    """Pause, resume or stop the lesson's active runs."""
    runner = registry.get().runner
    for run in lesson_runs(lesson).values():
        if run.active:
            getattr(runner, action)(run)


def _save(lesson: Lesson) -> None:
    runs = lesson_runs(lesson)
    try:
        names = checkpoints.save_runs(lesson, runs)
    except (OSError, ValueError, CheckpointError) as e:
        return say(lesson.key, "error", f"Could not save: {e}")
    # which epoch each holds: the latest kept one, not the one a rewound scrubber shows
    at = {run.checkpoint[2]: f" ({run.unit} {run.checkpoint[0]:,})" for run in runs.values() if run.checkpoint}
    say(lesson.key, "success", "Saved " + ", ".join(f"`{n}`{at.get(n, '')}" for n in names)
        + " (see the Checkpoints page)")


def _continue_box(runs: dict[str, Run], s: Settings) -> tuple[bool, int, int, int]:
    """Continue's box: (to an epoch, not N more; least, most, offered). Runs that stand at one epoch
    train N more each (offered: the rest of a run stopped early, else the settings' length). Runs side
    by side that stand at different epochs (one finished first, or one still waited at Stop) train on
    to one epoch, so that they compare again (offered: the end they were to reach, else the settings'
    length past the furthest)."""
    length = (s.setup.train.steps or s.setup.train.epochs) if s.setup else 100
    stands = [r.stands for r in runs.values()] or [0]
    end = max((r.total for r in runs.values()), default=0)
    if min(stands) == max(stands):
        return False, 1, 100_000, end - stands[0] if end > stands[0] else length
    low = min(stands)
    return True, low + 1, low + 100_000, min(end if end > low else max(stands) + length, low + 100_000)


def draw(lesson: Lesson, s: Settings, runs: dict[str, Run]) -> None:
    """The buttons for the lesson's runs on screen, and the live knobs passed on to those that train."""
    reg, k = registry.get(), lesson.key
    active = [r for r in runs.values() if r.active]
    paused = bool(active) and all(r.held for r in active)
    names = set(s.setup.variants(lesson)) if s.setup else set()
    mine = bool(runs) and s.setup is not None and set(runs) <= names
    changed = bool(runs) and s.setup is not None and not (mine and all(_same(lesson, r, s, n, True) for n, r in runs.items()))
    can_continue = mine and any(r.resume is not None for r in runs.values()) and all(
        _same(lesson, r, s, n, False) and r.can_continue for n, r in runs.items())
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.button("Train", type="primary", icon=":material/play_arrow:", key=f"{k}.train", on_click=train,
                  args=(lesson, s), disabled=s.setup is None, shortcut=presenter.KEYS["train"],
                  help="Start a new run with these settings")
        if paused:
            st.button("Resume", icon=":material/resume:", key=f"{k}.resume", on_click=_each, args=(lesson, "resume"),
                      shortcut=presenter.KEYS["pause"], width=PAUSE_WIDTH)
        else:
            st.button("Pause", icon=":material/pause:", key=f"{k}.pause", on_click=_each, args=(lesson, "pause"),
                      disabled=not active, shortcut=presenter.KEYS["pause"], width=PAUSE_WIDTH)
        st.button("Stop", icon=":material/stop:", key=f"{k}.stop", on_click=_each, args=(lesson, "stop"),
                  disabled=not active, shortcut=presenter.KEYS["stop"])
        first = next(iter(runs.values()), None)
        unit = first.unit if first else ("step" if s.setup and s.setup.train.steps else "epoch")
        group = first.group if first else ""
        to, least, most, offered = _continue_box(runs, s)
        more = st.number_input(f"to {unit}" if to else f"more {unit}s", least, most, offered, width=110,
                               key=f"{k}.more.{group}.{max((r.done for r in runs.values()), default=0)}.{to}",
                               disabled=not can_continue,
                               help=f"The runs stand at different {unit}s: Continue trains each on to this one"
                               if to else f"How many {unit}s Continue trains on for")
        st.button("Continue", icon=":material/fast_forward:", key=f"{k}.continue", on_click=_continue,
                  args=(lesson, s, int(more), to), disabled=not can_continue,
                  help="Train on from where the run stands: its weights, its optimizer's state and its step count")
        st.button("Reset", icon=":material/delete_sweep:", key=f"{k}.reset", on_click=reg.shelve,
                  args=(identity.owner(), k), disabled=not runs,
                  help="Stop the run and clear the screen (it stays among your earlier runs; your settings stay)")
        st.button("Save checkpoint", icon=":material/save:", key=f"{k}.save", on_click=_save, args=(lesson,),
                  disabled=not runs, help="Save the weights and the history up to the latest recorded epoch "
                                          "(in step mode: the latest record)")
        st.download_button("CSV", data=lambda: history_csv({n: r.history.snapshot() for n, r in runs.items()}),
                           file_name=f"rnnviz-{k}-history.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:", key=f"{k}.csv", disabled=not runs,
                           help="The runs' history, every record point (epoch, step, loss, validation loss, "
                                "accuracy, gradient norm, clipped, ...). Each chart's camera icon saves it as PNG.")
    if s.error:
        st.error(f"These settings cannot be trained: {s.error}", icon=":material/error:")
    elif changed:
        st.info("Settings changed — **Train** starts a new run; the run below keeps its own settings.",
                icon=":material/tune:")
    show_message(k)
    for name, run in runs.items():   # the live knobs reach running runs at once
        if run.active:
            reg.runner.set_live(run, s.pace, s.auto_stop)
            if s.setup is not None and name in names:
                reg.runner.set_lr(run, s.setup.variants(lesson)[name][1].lr)
