"""A lesson's controls: its settings (sidebar) and the run bar (Train, Pause, Stop, Continue, Reset, Save).

`settings(lesson)` draws the task choice and one widget per config field (lab.fields) and returns a
Settings: the RunSpec those widgets describe (or the reason they describe nothing trainable) and the
live knobs. `panel(lesson, settings, body)` draws the buttons (`run_bar`) and the live views (lab.live)
in one fragment. Buttons act in on_click callbacks, before the panel reruns, so every widget in it
already shows the new state; a click reruns the panel, not the page. Core errors
(ValueError, CheckpointError) become messages; the run in progress and the settings are untouched.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, replace

import streamlit as st

from rnnviz.checkpoint import CheckpointError
from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import build_model
from rnnviz.numpy_engine.adapter import NumpyEngine
from rnnviz.numpy_engine.cells import check_bugs
from rnnviz.tasks import TASKS, Task

from . import fields, live, runs
from .jobs import ACK_S, ACTIVE, FIRST_RECORD_S, Job
from .lessons import Lesson

SPEEDS = (2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 0.0)  # record points per second; 0 = full speed
MESSAGES = "lab.messages"


@functools.lru_cache(maxsize=24)
def task_for(name: str, options) -> Task:
    """Tasks are immutable once built: share them between reruns, sessions and jobs."""
    return TASKS[name](options)


@functools.lru_cache(maxsize=64)
def _build_error(name: str, options, mcfg: ModelConfig, tcfg: TrainConfig) -> str:
    try:
        build_model(task_for(name, options), mcfg, tcfg)
        return ""
    except ValueError as e:
        return str(e)


@dataclass(frozen=True)
class RunSpec:
    """What the settings describe: a task and the configs of each run of the lesson."""
    task_name: str
    options: object
    model: ModelConfig
    train: TrainConfig

    @property
    def task(self) -> Task:
        return task_for(self.task_name, self.options)

    def variants(self, lesson: Lesson) -> dict[str, tuple[ModelConfig, TrainConfig]]:
        if not lesson.variants:
            return {self.model.cell: (self.model, self.train)}
        out = {}
        for name, (m, t) in lesson.variants.items():
            mcfg = replace(self.model, **m)
            lstm = mcfg.cell == "lstm"   # side by side, the lstm-only settings reach the lstm run only
            out[name] = (replace(mcfg, peephole=mcfg.peephole and lstm, proj_size=mcfg.proj_size if lstm else 0),
                         replace(self.train, **t))
        return out


@dataclass(frozen=True)
class Settings:
    spec: RunSpec | None
    error: str
    pace: float
    auto_stop: bool
    cells: tuple[str, ...] = ("rnn", "lstm", "gru")   # the cells the runs use (for the equations)
    bugs: tuple[str, ...] = ()     # slips injected into the backward of runs on the NumPy engine (cells.BUGS)


def prefix(lesson: Lesson, task_name: str) -> str:
    return f"{lesson.key}.{task_name}"


def defaults(lesson: Lesson, task_name: str) -> tuple[ModelConfig, TrainConfig]:
    mcfg, tcfg = TASKS[task_name].suggested()
    return replace(mcfg, **lesson.model_defaults), replace(tcfg, **lesson.train_defaults.get(task_name, {}))


def settings(lesson: Lesson) -> Settings:
    """Draw the lesson's settings in the sidebar and return what they describe."""
    with st.sidebar:
        name = lesson.tasks[0]
        if len(lesson.tasks) > 1:
            name = fields.widget(fields.Spec("choice", "task", options=lesson.tasks), f"{lesson.key}.task", name)
        cls, pre = TASKS[name], prefix(lesson, name)
        st.caption(cls.summary)
        mdef, tdef = defaults(lesson, name)
        ctx = {"tokens": cls.tokens, "sequential": cls.sequential, "steps_mode": tdef.steps > 0}
        if "cell" in lesson.fixed:  # side by side: settings of every cell apply to its run
            ctx["cells"] = {m["cell"] for m, _ in lesson.variants.values()}
        if dataclasses.fields(cls.Options):
            with st.expander("Data", expanded=True):
                ovals = fields.form(cls.Options, cls.Options(), pre + ".task", ctx)
        else:
            ovals = {}
        with st.expander("Model", expanded=True):
            mvals = fields.form(ModelConfig, mdef, pre + ".model", ctx, skip=lesson.fixed)
        with st.expander("Training", expanded=True):
            tvals = fields.form(TrainConfig, tdef, pre + ".train", {**ctx, **mvals}, skip=lesson.fixed)
            pace = fields.widget(fields.Spec("steps", "speed limit (record points per second)", options=SPEEDS,
                                             fmt=lambda v: f"{v:g}/s" if v else "full speed",
                                             help="Slow a run down to watch it learn; applies at once, "
                                                  "also to a running run."),
                                 pre + ".live.pace", lesson.pace.get(name, 0.0))
            auto = fields.widget(fields.Spec("bool", "stop when converged", help=(
                "Stop once the training loss has not got 2% better than its best for 20 record points; "
                "applies at once, also to a running run.")), pre + ".live.auto_stop", False)
        st.button("Defaults", icon=":material/restart_alt:", on_click=fields.forget, args=(pre,),
                  help="Back to the suggested settings of this task", key=f"{lesson.key}.defaults")
    try:
        spec = RunSpec(name, cls.Options(**ovals), ModelConfig(**mvals), TrainConfig(**tvals))
        spec.task  # noqa: B018  (builds the data: raises ValueError on bad options)
        for mcfg, tcfg in spec.variants(lesson).values():
            mcfg.validate()
            tcfg.validate()
            if err := _build_error(name, spec.options, mcfg, tcfg):
                raise ValueError(err)
    except (ValueError, TypeError) as e:
        return Settings(None, str(e), pace, auto)
    cells = tuple(dict.fromkeys(m.cell for m, _ in spec.variants(lesson).values()))
    return Settings(spec, "", pace, auto, cells)


def put_settings(lesson: Lesson, task: Task, mcfg: ModelConfig, tcfg: TrainConfig) -> None:
    """Make the lesson's widgets show these settings (call it before the lesson's page draws)."""
    if len(lesson.tasks) > 1:
        st.session_state[f"{lesson.key}.task"] = task.name
    pre = prefix(lesson, task.name)
    fields.put(pre + ".task", task.options)
    fields.put(pre + ".model", mcfg)
    fields.put(pre + ".train", tcfg)


# ---- the run bar -----------------------------------------------------------------------------------
def say(lesson_key: str, kind: str, text: str) -> None:
    """A message shown once, under the run bar of the lesson (kind: success | info | warning | error)."""
    st.session_state.setdefault(MESSAGES, {})[lesson_key] = (kind, text)


def show_message(key: str) -> None:
    if msg := st.session_state.get(MESSAGES, {}).pop(key, None):
        getattr(st, msg[0])(msg[1])


def _eq(a, b) -> bool:
    """Configs equal field by field (a class identity check would fail after Streamlit re-imports
    the modules of the app because a source file changed)."""
    return type(a).__name__ == type(b).__name__ and dataclasses.asdict(a) == dataclasses.asdict(b)


def _same(job: Job, spec: RunSpec, mcfg: ModelConfig, tcfg: TrainConfig | None) -> bool:
    """Does the job run these settings? tcfg None: the same model (what Continue needs); lr is live."""
    same_model = job.task.name == spec.task_name and _eq(job.task.options, spec.options) and _eq(job.mcfg, mcfg)
    return same_model and (tcfg is None or _eq(replace(job.tcfg, lr=0.1), replace(tcfg, lr=0.1)))


def _bugs(s: Settings, tcfg: TrainConfig) -> tuple[str, ...]:
    """The bugs a run of these settings gets: only the NumPy engine's backward has them."""
    return tuple(s.bugs) if tcfg.engine == "numpy" else ()


def _engine(s: Settings, mcfg: ModelConfig, tcfg: TrainConfig):
    """The engine of a new run: None lets the trainer build it from tcfg; with bugs, a NumPy engine."""
    if not (bugs := _bugs(s, tcfg)):
        return None
    check_bugs(mcfg.cell, mcfg.nonlinearity, bugs)      # ValueError: a bug this cell cannot have
    return NumpyEngine(s.spec.task, mcfg, tcfg, bugs=bugs)


def _train(lesson: Lesson, s: Settings) -> None:
    try:
        new = {name: Job(lesson.key, name, s.spec.task, m, t, engine=_engine(s, m, t))
               for name, (m, t) in s.spec.variants(lesson).items()}
    except (ValueError, RuntimeError) as e:
        return say(lesson.key, "error", f"Could not start training: {e}")
    _launch(lesson, s, new)


def _continue(lesson: Lesson, s: Settings) -> None:
    variants = s.spec.variants(lesson)
    try:
        new = {name: Job.successor(job, variants[name][1], _bugs(s, variants[name][1]))
               for name, job in runs.current(lesson.key).items()}
    except (ValueError, RuntimeError, KeyError) as e:
        return say(lesson.key, "error", f"Could not continue: {e}")
    _launch(lesson, s, new)


def _launch(lesson: Lesson, s: Settings, new: dict[str, Job]) -> None:
    """Make `new` the lesson's runs and start them with the live settings (pace, auto-stop)."""
    runs.replace(lesson.key, new)
    for job in new.values():
        job.pace, job.auto_stop = s.pace, s.auto_stop
        job.start()
    # a ready worker records within a fraction of a second: this very redraw then shows the first
    # point, instead of "waiting" and a poll later (the first chart came ~0.4 s later without this)
    deadline = time.perf_counter() + FIRST_RECORD_S
    for job in new.values():
        job.wait_first_record(max(0.0, deadline - time.perf_counter()))


SETTLED = {"pause": lambda job: job.state != "running", "resume": lambda job: job.state != "paused",
           "stop": lambda job: not job.active}


def _each(lesson_key: str, action: str) -> None:
    """Pause, resume or stop the lesson's active runs, and wait (at most ACK_S) until their workers say
    so: the panel's redraw that follows the click then shows the new buttons, and the bars see no phase
    change that needs a second redraw (a click during that one could be lost). A step longer than
    ACK_S (a big model) still gets that second redraw, from the bars."""
    acted = [job for job in runs.current(lesson_key).values() if job.active]
    for job in acted:
        getattr(job, action)()
    deadline = time.perf_counter() + ACK_S
    while not all(SETTLED[action](job) for job in acted) and time.perf_counter() < deadline:
        time.sleep(0.01)


def _save(lesson: Lesson) -> None:
    from .checkpoints import save_runs
    try:
        paths = save_runs(lesson, runs.current(lesson.key))
    except (OSError, ValueError, CheckpointError) as e:
        return say(lesson.key, "error", f"Could not save: {e}")
    say(lesson.key, "success", "Saved " + ", ".join(f"`{p}`" for p in paths) + " (see the Checkpoints page)")


def panel(lesson: Lesson, s: Settings, body) -> None:
    """The run bar and the live views (`body(views)`, see lab.live) of the lesson's runs, in one fragment."""
    @st.fragment
    def runs_panel():
        run_bar(lesson, s)
        live.live(lesson, body)
    runs_panel()


def run_bar(lesson: Lesson, s: Settings) -> None:
    jobs = runs.current(lesson.key)
    states = live.drawn(lesson.key, jobs)    # read once: the buttons and the live part's polling agree
    active = [j for n, j in jobs.items() if states[n] in ACTIVE]
    # a run waiting for a trainer that was paused counts as paused: it starts paused, and Resume lets it go
    paused = bool(active) and all(states[n] == "paused" or (states[n] == "queued" and jobs[n].held)
                                  for n in jobs if states[n] in ACTIVE)
    variants = s.spec.variants(lesson) if s.spec else {}
    mine = bool(jobs) and s.spec is not None and set(jobs) <= set(variants)   # runs of these settings' kind
    changed = bool(jobs) and s.spec is not None and not (
        mine and all(_same(j, s.spec, *variants[n]) and j.bugs == _bugs(s, variants[n][1]) for n, j in jobs.items()))
    can_continue = mine and not active and all(
        _same(j, s.spec, variants[n][0], None) and j.history.last is not None for n, j in jobs.items())
    k = lesson.key
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("Train", type="primary", icon=":material/play_arrow:", key=f"{k}.train", on_click=_train,
                  args=(lesson, s), disabled=s.spec is None, help="Start a new run with these settings")
        if paused:
            st.button("Resume", icon=":material/resume:", key=f"{k}.resume", on_click=_each, args=(k, "resume"))
        else:
            st.button("Pause", icon=":material/pause:", key=f"{k}.pause", on_click=_each, args=(k, "pause"),
                      disabled=not active)
        st.button("Stop", icon=":material/stop:", key=f"{k}.stop", on_click=_each, args=(k, "stop"),
                  disabled=not active)
        st.button("Continue", icon=":material/fast_forward:", key=f"{k}.continue", on_click=_continue,
                  args=(lesson, s), disabled=not can_continue,
                  help="Train further from the current weights with the training settings; the history goes on")
        st.button("Reset", icon=":material/delete_sweep:", key=f"{k}.reset", on_click=runs.clear, args=(k,),
                  disabled=not jobs, help="Stop and forget the run (your settings stay)")
        st.button("Save checkpoint", icon=":material/save:", key=f"{k}.save", on_click=_save, args=(lesson,),
                  disabled=not jobs, help="Save the weights and history of the latest record point")
    if s.error:
        st.error(f"These settings cannot be trained: {s.error}", icon=":material/error:")
    elif changed:
        st.info("Settings changed — **Train** starts a new run; the run below keeps its own settings.",
                icon=":material/tune:")
    show_message(k)
    for name, job in jobs.items():   # the live knobs reach running jobs at once
        job.pace, job.auto_stop = s.pace, s.auto_stop
        if job.active and name in variants:
            job.set_lr(variants[name][1].lr)
