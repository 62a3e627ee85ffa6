"""Presets: named setups of a lesson a teacher clicks, each with one line of what to
notice. A click puts the preset's settings in the sidebar and trains it at once; `?preset=<name>` in a
lesson's URL does the same (lab.links), so every preset is also a link.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import streamlit as st

from rnnviz.config import shown
from rnnviz.tasks import TASKS
from rnnviz.tasks.chars import COURSE_FINAL_LOSS, tanh_logit_floor

from . import links
from .lessons import Lesson
from .messages import say
from .run_bar import train
from .settings import Settings, Setup, defaults, put_settings

NOTICE = "lab.preset.notice"


@dataclass(frozen=True)
class Preset:
    name: str                 # its id in links: lower case and dashes
    title: str                # the button
    notice: str               # one line: what to look at
    task: str
    options: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    pace: float | None = None   # record points per second (None: the lesson's)

    def setup(self, lesson: Lesson) -> Setup:
        options = TASKS[self.task].Options(**self.options)
        mdef, tdef = defaults(lesson, self.task, options)
        return Setup(self.task, options, replace(mdef, **self.model), replace(tdef, **self.train))


P = Preset
PRESETS: dict[str, tuple[Preset, ...]] = {
    "chars": (
        P("hihell", "hihell → ihello", "A few epochs in it repeats one letter; then the easy transitions; only the "
          "hidden state can tell the first h (→ i) from the second (→ e).", "hihell"),
        # deck 001's program, exactly: nn.RNN(5, 5) whose h_t is the logits, Adam lr 0.1, 100 epochs. The deck
        # fixes no seed; with seed 2 its program (and this preset) ends at the deck's 0.458 reading ihello.
        P("hihell-course", "hihell as in the course", "The course's first version: no Linear head, h_t itself is "
          f"the logits (hidden size 5 = the letters). Each logit is a tanh in [-1, 1], so the loss stops above "
          f"{tanh_logit_floor(5):.3f}; it ends at the course's {COURSE_FINAL_LOSS}, reading ihello.", "hihell",
          model={"cell": "rnn", "hidden_size": 5, "num_layers": 1, "embedding_dim": 0, "head": False},
          train={"optimizer": "adam", "lr": 0.1, "weight_decay": 0.0, "epochs": 100, "steps": 0, "clip": 0.0,
                 "init": "default", "seed": 2, "dtype": "float32", "engine": "torch"}),
        P("seoul", "a whole sentence", "Which words does it learn first? The frequent letters come long before "
          "'capital'.", "seoul"),
    ),
    "inside": (
        P("hihell-lstm", "hihell with an LSTM", "Gates: the forget gate f decides what the cell keeps; look at the "
          "cell state c carry the count of the l's.", "hihell", model={"cell": "lstm"}),
        P("hihell-gru", "…then with a GRU", "The same task with a GRU: its update gate z plays the forget gate's "
          "part, with no separate cell state.", "hihell", model={"cell": "gru"}),
    ),
    "gradients": (
        # what each notice says is measured by bench/copy_lesson.py and tested by
        # tests/test_lesson_claims_copy.py, at the lesson's defaults (rnnviz.tasks.memory.Copy)
        P("lag-5", "lag 5", "A short lag: all three cells learn to copy, and ||dL/dh_t|| reaches the first steps.",
          "copy", options={"lag": 5}),
        P("lag-40", "lag 40", "A long lag: the RNN's gradient vanishes geometrically before it reaches the "
          "symbols (a straight falling line on the log axis); its accuracy stays near chance (0.25) through the "
          "first half of the run and ends far below the LSTM's and the GRU's, whose gradients survive: they learn to copy.",
          "copy", options={"lag": 40}),
        P("orthogonal", "orthogonal init", "W_hh starts with spectral radius 1: the RNN's gradient decays much "
          "more slowly at first.", "copy", options={"lag": 40}, train={"init": "orthogonal"}),
        P("big-lr", "large learning rate, no clipping", "lr 0.1 without clipping: at seed 0 the RNN's gradient "
          "norm spikes by orders of magnitude (Clipping tab); other seeds may not spike.", "copy", train={"lr": 0.1, "clip": 0.0}),
        P("big-lr-clipped", "…and with clipping", "The same lr 0.1, gradients clipped at norm 1: the steps "
          "taken are cut to norm 1 however far the gradient spikes (Clipping tab).", "copy",
          train={"lr": 0.1, "clip": 1.0}),
    ),
    "sine": (
        P("carry-or-reset", "carry h or reset it", "The carried run sees the wave continue across windows; the "
          "reset one starts each window from zero and gets the first steps of every window wrong.", "sine"),
    ),
    "text": (
        P("dinos", "dinosaur names", "Short names, fast: within a minute the samples end in -saurus.", "text",
          options={"corpus": "dinos"}),
    ),
}


def of(lesson: Lesson) -> tuple[Preset, ...]:
    return PRESETS.get(lesson.key, ())


def apply(lesson: Lesson, preset: Preset) -> Setup:
    """Put the preset's settings in the lesson's widgets (before they draw)."""
    setup = preset.setup(lesson)
    setup.task  # noqa: B018  (builds the data: ValueError on bad options, before any widget changes)
    put_settings(lesson, setup, pace=preset.pace)
    st.session_state[NOTICE] = (lesson.key, preset)
    return setup


def run(lesson: Lesson, preset: Preset) -> None:
    """on_click: apply the preset and train it."""
    try:
        setup = apply(lesson, preset)
    except (ValueError, TypeError) as e:
        return say(lesson.key, "error", f"Could not open the preset: {e}")
    pace = preset.pace if preset.pace is not None else lesson.pace.get(preset.task, 0.0)
    train(lesson, Settings(setup, "", pace, False))


def from_link(lesson: Lesson, params) -> None:
    """A link's `preset=<name>`: apply it (it trains when the link also says train=1)."""
    name = links.wanted(params, "preset")
    found = next((p for p in of(lesson) if p.name == name), None)
    if found is not None:
        apply(lesson, found)
    elif name is not None:
        untrained = " The link's train=1 was not followed." if links.cancel(params, "train") else ""
        say(lesson.key, "warning", f"This lesson has no preset called {shown(name)}; it opened with its "
                                   f"defaults.{untrained}")


def picker(lesson: Lesson) -> None:
    """A row of the lesson's presets; each button trains its setup. What to notice shows under it."""
    found = of(lesson)
    if not found:
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown("**Presets:**")
        for p in found:
            st.button(p.title, key=f"{lesson.key}.preset.{p.name}", on_click=run, args=(lesson, p),
                      icon=":material/science:", help=f"Train it now. {p.notice}")
    notice = st.session_state.get(NOTICE)
    if notice and notice[0] == lesson.key:
        st.caption(f":material/visibility: **{notice[1].title}** — what to notice: {notice[1].notice}")
