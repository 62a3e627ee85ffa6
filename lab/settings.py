"""A lesson's settings in the sidebar: the task, one widget per config field (lab.fields), the live knobs.

`sidebar(lesson)` draws them and returns a Settings: the Setup those widgets describe (or the reason
they describe nothing trainable), the speed limit and auto-stop, and the bugs to inject. A Setup is
what a run is made of: a task and the configs of each run the lesson trains side by side.
`put_settings` makes the widgets show a given setup (opening a checkpoint, a preset, a link).
"""
from __future__ import annotations

import dataclasses
import functools
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import build_model
from rnnviz.tasks import TASKS, Task
from rnnviz.trainer import record_words

from . import fields, identity, links, registry
from .messages import say
from .lessons import Lesson

SPEEDS = (2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 0.0)  # record points (rnnviz.trainer) per second; 0 = full speed
BUG_KEY = "scratch.bug"                           # the From scratch lesson's injected bug (course.scratch)
PUT = "lab.settings.put"                          # widget values put in code during this run...
PUT_AGAIN = "lab.settings.put_again"              # ...and put once more at the start of the next
_RERUN = st.components.v2.component("rnnviz_rerun", html="",
                                    js=(Path(__file__).parent / "web" / "rerun.js").read_text())


@functools.lru_cache(maxsize=24)
def task_for(name: str, options) -> Task:
    """Tasks are immutable once built: share them between reruns, sessions and runs."""
    return TASKS[name](options)


@functools.lru_cache(maxsize=64)
def _build_error(name: str, options, mcfg: ModelConfig, tcfg: TrainConfig) -> str:
    try:
        build_model(task_for(name, options), mcfg, tcfg)
        return ""
    except ValueError as e:
        return str(e)


@dataclass(frozen=True)
class Setup:
    """What the settings describe: a task and the configs of each run of the lesson."""
    task_name: str
    options: object
    model: ModelConfig
    train: TrainConfig

    @property
    def task(self) -> Task:
        return task_for(self.task_name, self.options)

    def variants(self, lesson: Lesson) -> dict[str, tuple[ModelConfig, TrainConfig]]:
        """name -> configs of each run the lesson trains side by side (one, named after its cell)."""
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
    setup: Setup | None
    error: str
    pace: float
    auto_stop: bool
    cells: tuple[str, ...] = ("rnn", "lstm", "gru")   # the cells the runs use (for the equations)
    bugs: tuple[str, ...] = ()     # slips injected into the backward of runs on the NumPy engine

    def bugs_for(self, tcfg: TrainConfig) -> tuple[str, ...]:
        """Only the NumPy engine's backward has bugs to inject."""
        return tuple(self.bugs) if tcfg.engine == "numpy" else ()


def prefix(lesson: Lesson, task_name: str) -> str:
    return f"{lesson.key}.{task_name}"


def defaults(lesson: Lesson, task_name: str, options=None) -> tuple[ModelConfig, TrainConfig]:
    """The lesson's model and training defaults of the task with these options (None: its defaults)."""
    cls = TASKS[task_name]
    mcfg, tcfg = cls.suggested_for(cls.Options() if options is None else options)
    return replace(mcfg, **lesson.model_defaults), replace(tcfg, **lesson.train_defaults.get(task_name, {}))


def _restore(lesson: Lesson) -> None:
    """The first time a session draws a lesson (a new tab, a reload, a restart) and no link says
    otherwise, its widgets show the settings of the student's run on screen, if there is one."""
    seen = f"{lesson.key}.settings_restored"
    if st.session_state.get(seen):
        return
    st.session_state[seen] = True
    if links.visit(lesson.key):
        return
    runs = registry.get().current(identity.owner(), lesson.key)
    if runs:
        run = next(iter(runs.values()))
        put_settings(lesson, Setup(run.task.name, run.task.options, run.mcfg, run.tcfg), run.bugs, run.pace)


def _put(values: dict) -> None:
    for key, value in values.items():
        st.session_state[key] = value
        fields.forget_refusal(key)
    st.session_state.setdefault(PUT, {}).update(values)


def link_put_values(run_ends: bool) -> None:
    """Keep the address bar the link to what the widgets show. Streamlit writes a value set in code to
    the URL only in a run the browser asked for, and only if the widget was drawn in an earlier one:
    not for a widget drawn for the first time (a reopened tab's restored run, an opened checkpoint or
    preset, another task's settings). So at the end of a run that put values (`run_ends=True`, last
    thing of the script) a tiny component asks the browser for one more run, and at its start
    (`run_ends=False`, before any widget) they are put again, unless the student changed them since."""
    if run_ends:
        if put := st.session_state.pop(PUT, None):
            st.session_state[PUT_AGAIN] = put
            _RERUN(data=[{"ask": secrets.token_hex(4)}], key="lab.settings.rerun", on_ask_change=lambda: None)
        return
    for key, value in st.session_state.pop(PUT_AGAIN, {}).items():
        if key in st.session_state and st.session_state[key] == value:
            st.session_state[key] = value


def reset(lesson: Lesson, task_name: str) -> None:
    """on_click of Defaults: the task's suggested settings (kept out of the URL again)."""
    mdef, tdef = defaults(lesson, task_name)
    put_settings(lesson, Setup(task_name, TASKS[task_name].Options(), mdef, tdef), pace=lesson.pace.get(task_name, 0.0))
    st.session_state[f"{prefix(lesson, task_name)}.live.auto_stop"] = False


def _options_changed(lesson: Lesson, task_name: str) -> None:
    """on_change of a data option the defaults follow (the text task's corpus): the model and training
    widgets show the defaults for the new options."""
    cls, pre = TASKS[task_name], prefix(lesson, task_name)
    stored = {f.name: st.session_state[f"{pre}.task.{f.name}"] for f in dataclasses.fields(cls.Options)
              if f"{pre}.task.{f.name}" in st.session_state}
    mdef, tdef = defaults(lesson, task_name, cls.Options(**stored))
    _put(fields.values(pre + ".model", mdef) | fields.values(pre + ".train", tdef))


def sidebar(lesson: Lesson) -> Settings:
    """Draw the lesson's settings in the sidebar and return what they describe."""
    _restore(lesson)
    with st.sidebar:
        drawn: dict[str, object] = {}
        name = lesson.tasks[0]
        if len(lesson.tasks) > 1:
            name = drawn[f"{lesson.key}.task"] = fields.widget(fields.Spec("choice", "task", options=lesson.tasks),
                                                               f"{lesson.key}.task", name)
        cls, pre = TASKS[name], prefix(lesson, name)
        st.caption(cls.summary)
        ctx = {"tokens": cls.tokens, "sequential": cls.sequential}
        if "cell" in lesson.fixed:  # side by side: settings of every cell apply to its run
            ctx["cells"] = {m["cell"] for m, _ in lesson.variants.values()}
        if dataclasses.fields(cls.Options):
            with st.expander("Data", expanded=True):
                ovals = fields.form(cls.Options, cls.Options(), pre + ".task", ctx, drawn=drawn,
                                    changed=functools.partial(_options_changed, lesson, name))
        else:
            ovals = {}
        mdef, tdef = defaults(lesson, name, cls.Options(**ovals))
        ctx["steps_mode"] = tdef.steps > 0
        with st.expander("Model", expanded=True):
            mvals = fields.form(ModelConfig, mdef, pre + ".model", ctx, skip=lesson.fixed, drawn=drawn)
        with st.expander("Training", expanded=True):
            tvals = fields.form(TrainConfig, tdef, pre + ".train", {**ctx, **mvals}, skip=lesson.fixed,
                                drawn=drawn)
            records, what = record_words(tvals["steps"])
            per = f"{records} per second" + (f"; {what}" if what else "")
            speed = fields.Spec("steps", f"{fields.LIVE_LABELS['pace']} ({per})", options=SPEEDS,
                                fmt=lambda v: f"{v:g}/s" if v else "full speed",
                                help="Slow a run down to watch it learn; applies at once, also to a running run.")
            stop = fields.Spec("bool", fields.LIVE_LABELS["auto_stop"],
                               help=f"Stop once the training loss has not got 2% better than its best for 20 "
                                    f"{records}; applies at once, also to a running run.")
            pace = drawn[pre + ".live.pace"] = fields.widget(speed, pre + ".live.pace", lesson.pace.get(name, 0.0))
            auto = drawn[pre + ".live.auto_stop"] = fields.widget(stop, pre + ".live.auto_stop", False)
        st.button("Defaults", icon=":material/restart_alt:", on_click=reset, args=(lesson, name),
                  help="Back to the suggested settings of this task", key=f"{lesson.key}.defaults")
    if missed := links.left_out(params := links.visit(lesson.key), drawn):
        untrained = " The link's train=1 was not followed." if links.cancel(params, "train") else ""
        say(lesson.key, "warning", "The link's " + ", ".join(missed) + " could not be used here; "
            "those settings are at their defaults." + untrained)
    if refused := fields.error_of(drawn):
        return Settings(None, refused, pace, auto)
    try:
        setup = Setup(name, cls.Options(**ovals), ModelConfig(**mvals), TrainConfig(**tvals))
        setup.task  # noqa: B018  (builds the data: raises ValueError on bad options)
        variants = setup.variants(lesson)
        for mcfg, tcfg in variants.values():
            if err := _build_error(name, setup.options, mcfg, tcfg):
                raise ValueError(err)
    except (ValueError, TypeError) as e:
        return Settings(None, str(e), pace, auto)
    return Settings(setup, "", pace, auto, tuple(dict.fromkeys(m.cell for m, _ in variants.values())))


def put_settings(lesson: Lesson, setup: Setup, bugs: tuple[str, ...] = (), pace: float | None = None) -> None:
    """Make the lesson's widgets show this setup, the bug a run of it was trained with and its speed
    limit (call it before the lesson's page draws)."""
    pre = prefix(lesson, setup.task_name)
    values = fields.values(pre + ".task", setup.options) | fields.values(pre + ".model", setup.model) | \
        fields.values(pre + ".train", setup.train)
    if len(lesson.tasks) > 1:
        values[f"{lesson.key}.task"] = setup.task_name
    if bugs and lesson.key == "scratch":
        values[BUG_KEY] = bugs[0]
    if pace is not None:
        values[pre + ".live.pace"] = pace
    _put(values)
