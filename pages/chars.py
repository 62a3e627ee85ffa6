"""Lesson 1: character prediction. Read 'hihell', predict 'ihello': one character at a time."""
from lab import equations, page, panel, views
from lab.settings import sidebar

lesson = page.lesson("chars")
page.header(lesson)
settings = sidebar(lesson)
equations.explain(
    "The network reads a sentence one character at a time (one-hot: `h` = [1, 0, 0, 0, 0]) and at every "
    "step guesses the **next** character. With `hihell` the input is *h i h e l l* and the target is "
    "*i h e l l o*. Press **Train** and watch the prediction row by row: at first it repeats one letter, "
    "then it learns the easy transitions, and only the hidden state can tell the first `h` (→ i) from "
    "the second (→ e), and the first `l` (→ l) from the second (→ o).",
    *settings.cells, "bptt", "loss")


def body(runs):
    (view,) = runs.values()
    views.tabs("chars.tabs", {
        "Predictions": lambda: views.predictions(view, "chars"),
        "Top-k probabilities": lambda: views.topk(view, "chars"),
        "Loss": lambda: views.loss(runs, "chars", accuracy=True),
        "Hidden state": lambda: views.hidden_state(view, "chars"),
    })


panel.show(lesson, settings, body)
