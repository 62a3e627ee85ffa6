"""The From scratch lesson's injected bugs in words: their titles, and what each did to training with the
lesson's default setup, filled in from the measurements (rnnviz.numpy_engine.bug_effects.MEASURED,
made by scripts/measure_bug_effects.py). tests/test_bug_effects.py checks that the measurements are
of today's defaults, trains a few again, and checks every claim the sentences make about the numbers.
"""
from __future__ import annotations

import dataclasses
import math

from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.numpy_engine import bug_effects, cells
from rnnviz.tasks import TASKS, Task

from lab.lessons import Lesson
from lab.settings import Setup, defaults

BUG_TITLES = {"none": "no bug (the engine as written)",
              "output_sign": "wrong sign of the output gradient",
              "forget_derivative": "forget gate: sigmoid derivative missing (LSTM)",
              "tanh_derivative": "tanh derivative taken at the wrong place",
              "no_bptt": "no backpropagation through time"}
# the seeds scripts/measure_bug_effects.py trains each bug with, per task of the lesson
MEASURED_SEEDS = {"anbn": (0, 1), "hihell": (0,)}


def applies(bug: str, cell: str, nonlinearity: str) -> bool:
    """Whether this cell can have the bug ("none" always)."""
    try:
        cells.check_bugs(cell, nonlinearity, () if bug == "none" else (bug,))
        return True
    except ValueError:
        return False


def lesson_setup(lesson: Lesson, task_name: str) -> tuple[Task, ModelConfig, TrainConfig]:
    """(task, model, train config) of the lesson's numpy run with its default settings: what the
    effects shown were measured with."""
    mcfg, tcfg = defaults(lesson, task_name)
    setup = Setup(task_name, TASKS[task_name].Options(), mcfg, tcfg)
    return (setup.task, *setup.variants(lesson)["numpy"])


# Fields: {start} {end} {acc} {text} {steps} of the bug's runs, {none_end} {none_acc} of the runs without
# a bug; one value per seed, joined by " / ". tests/test_bug_effects.py checks each sentence's claims.
SENTENCES = {
    "anbn": {
        "none": "Without a bug the loss fell from {start} to {end} and the accuracy reached **{acc}**.",
        "output_sign": "Every step climbs the loss instead of descending it: it rose from {start} to {end} and "
                       "the accuracy was **{acc}**. The gradient check fails for every parameter: the analytic "
                       "gradient is exactly minus the true one.",
        "forget_derivative": "Only the size of the forget gate's gradient is wrong, not its direction, so training "
                             "still makes progress, just less: loss {start} → {end}, accuracy **{acc}** (no bug: "
                             "{none_acc}). Where it ends is sensitive to rounding: on another CPU the same settings end at "
                             "another loss and accuracy, still short of the run without the bug. The gradient check "
                             "catches it at once.",
        "tanh_derivative": "The slope is wrong wherever a tanh is used, but mostly points the right way: loss "
                           "{start} → {end}, accuracy **{acc}** (no bug: {none_acc}).",
        "no_bptt": "No step learns from the errors of later steps, so what the count needs from earlier steps "
                   "is not learnt: loss → {end}, accuracy **{acc}** (no bug: {none_acc}). In the dL/dh_t "
                   "check only the last step is right.",
    },
    "hihell": {
        "none": "Without a bug the loss fell from {start} to {end} and the run reads *{text}*.",
        "output_sign": "The loss climbed from {start} to {end} and the run reads *{text}*.",
        "tanh_derivative": "For the RNN 1 − tanh(h)² is larger than 1 − h², so every step is too big: the run "
                           "diverged at step {steps} (the trainer stopped it and restored the last good weights: "
                           "loss {end}, reading *{text}*).",
        "no_bptt": "Here it hardly matters: loss {end} ({none_end} without the bug), reading *{text}*. The next "
                   "letter of *hihello* depends on at most one step back, which the gradient of W_hh at each "
                   "step teaches without any backprop through time. The gradient check still fails.",
    },
}


def loss_text(v: float) -> str:
    """A loss as the sentences show it: three significant digits, thousands separated."""
    if not math.isfinite(v):
        return str(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 0.1 else f"{v:.3f}"


def _fields(runs: list[dict]) -> dict[str, str]:
    join = lambda f: " / ".join(f(r) for r in runs)  # noqa: E731
    return {"start": join(lambda r: loss_text(r["loss_start"])), "end": join(lambda r: loss_text(r["loss_end"])),
            "acc": join(lambda r: "–" if r["accuracy"] is None else f"{r['accuracy']:.2f}"),
            "text": join(lambda r: r["text"]), "steps": join(lambda r: str(r["steps"]))}


def describe(entry: dict, bug: str) -> str | None:
    """The lesson's sentence about `bug` with the numbers measured for `entry` (None: nothing to say)."""
    template = SENTENCES.get(entry["task"], {}).get(bug)
    if template is None or bug not in entry["effects"]:
        return None
    none = {f"none_{k}": v for k, v in _fields(entry["effects"]["none"]).items()}
    return template.format(**_fields(entry["effects"][bug]), **none)


def setup_line(entry: dict) -> str:
    """How the entry was measured, read from its stored configs: 'anbn, LSTM H=50, SGD lr 1, …'."""
    m, t, seeds = entry["model"], entry["train"], entry["seeds"]
    length = f"{t['steps']} steps" if t["steps"] else f"{t['epochs']} epochs"
    unit = "record point" if t["steps"] else "epoch"
    acc = entry["effects"]["none"][0]["accuracy_of"]
    return (f"{entry['task']}, {m['cell'].upper()} H={m['hidden_size']}, {t['optimizer'].upper()} lr {t['lr']:g}, "
            f"{t['dtype']}, {length}, seed{'s' if len(seeds) > 1 else ''} {' / '.join(map(str, seeds))}, NumPy "
            f"engine; loss: mean training loss of the first and the last {unit}; accuracy: {acc} accuracy "
            "at the end")


def is_measured_setup(entry: dict, mcfg: ModelConfig, tcfg: TrainConfig, options) -> bool:
    """Whether these settings are the ones the entry was measured with (any seed)."""
    return (dataclasses.asdict(options) == entry["options"] and dataclasses.asdict(mcfg) == entry["model"]
            and dataclasses.asdict(dataclasses.replace(tcfg, seed=entry["train"]["seed"])) == entry["train"])


def effect_text(task_name: str, bug: str, setup: Setup | None, lesson: Lesson) -> str:
    """What the lesson says about `bug`: the measured sentence and how it was measured, or that it was
    not measured; with a word when the settings on screen are not the measured ones."""
    entry = bug_effects.load().get(task_name)
    effect = describe(entry, bug) if entry else None
    if effect is None:
        return "Not measured for this task and cell."
    text = f"{effect} *(measured: {setup_line(entry)}.)*"
    if setup is not None and setup.task_name == task_name:
        mcfg, tcfg = setup.variants(lesson)["numpy"]
        if not is_measured_setup(entry, mcfg, tcfg, setup.options):
            text += " Your settings differ from the measured ones, so your run may do otherwise."
    return text
