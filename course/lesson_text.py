"""Lesson texts that follow the chosen task: what to look at, worded from the task's own data."""
from __future__ import annotations

import streamlit as st

from rnnviz.config import ModelConfig
from rnnviz.tasks import TASKS
from rnnviz.tasks.chars import COURSE_FINAL_LOSS, CharSentence, show_token, tanh_logit_floor

from lab.lessons import Lesson
from lab.settings import Settings, task_for

HIHELL = ("The network reads a sentence one character at a time (one-hot: `h` = [1, 0, 0, 0, 0]) and at every "
          "step guesses the **next** character. With `hihell` the input is *h i h e l l* and the target is "
          "*i h e l l o*. Press **Train** and watch the prediction row by row: at first it repeats one letter, "
          "then it learns the easy transitions, and only the hidden state can tell the first `h` (→ i) from "
          "the second (→ e), and the first `l` (→ l) from the second (→ o). ")


def hihell_setup(model: ModelConfig | None) -> str:
    """Which of the two hihell setups the settings are: the course's (h_t as the logits) or the lab's."""
    floor = tanh_logit_floor(5)
    if model is not None and not model.head:
        return (f"**Shown: the course's first version** — no Linear head, so $h_t$ itself is the 5 letters' "
                f"logits. Every logit is a tanh in [-1, 1], so the loss cannot fall below "
                f"log(1 + 4/e²) = {floor:.3f}; the course's run ends at {COURSE_FINAL_LOSS}.")
    return ("**Shown: the lab's default** — a Linear head turns $h_t$ into the letters' logits, so the loss can "
            f"fall towards 0, below the course's final {COURSE_FINAL_LOSS}. The course's first version used $h_t$ "
            "itself as the logits (its loss stops above "
            f"{floor:.3f}): the preset *hihell as in the course* runs it exactly.")


def chosen(lesson: Lesson, settings: Settings):
    """The task the settings describe, or (when they describe nothing trainable) the chosen task with
    its default options."""
    if settings.setup is not None:
        return settings.setup.task
    name = st.session_state.get(f"{lesson.key}.task", lesson.tasks[0])
    return task_for(name, TASKS[name].Options())


def chars(task: CharSentence, model: ModelConfig | None = None) -> str:
    """The character lesson's text for hihell, seoul or ship (`model`: the settings' model, None when
    they describe nothing trainable)."""
    if task.name == "hihell":
        return HIHELL + hihell_setup(model)
    ambiguous = task.ambiguous()
    # the letter with the most different successors (a space is hard to read in the text)
    c, nexts = max(ambiguous.items(), key=lambda kv: (kv[0] != " ", len(kv[1])))
    shown = ", ".join(f"`{show_token(n)}`" for n in nexts[:4]) + (", …" if len(nexts) > 4 else "")
    text = (f"The network reads the sentence *{task.sentence.strip()}* one character at a time (one-hot: "
            f"{len(task.vocab)} numbers, one per distinct character, all 0 but a 1 at the character's place) and "
            f"at every step guesses the **next** one. {len(ambiguous)} characters are followed by different "
            f"ones at different places — `{c}` by {shown} — so the current character alone cannot tell what "
            "comes next: the hidden state must remember where in the sentence the network is. ")
    if task.name == "ship":
        k = task.options.seq_len
        return text + (f"It trains on windows of **{k}** characters sliding along the sentence, each read from a "
                       f"zero state, so it never sees more than {k} characters of context; its validation reads "
                       "the whole sentence in one pass, which is harder: watch the gap between training and "
                       "validation loss, and try a longer *seq_len*.")
    return text + ("Nothing is held out (it is one sentence to memorise): the training accuracy says how much of "
                   "it the network knows. Press **Train** and watch the prediction row by row.")
