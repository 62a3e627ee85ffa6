"""Lesson 1: character prediction. Read 'hihell', predict 'ihello': one character at a time."""
from course import equations, lesson_text
from lab import page, panel, views
from lab.settings import sidebar

lesson = page.lesson("chars")
page.header(lesson)
settings = sidebar(lesson)
model = settings.setup.model if settings.setup else None
equations.explain(lesson_text.chars(lesson_text.chosen(lesson, settings), model), *settings.cells, "bptt", "loss")


def body(runs):
    (view,) = runs.values()
    views.tabs("chars.tabs", {
        "Predictions": lambda: views.predictions(view, "chars"),
        "Top-k probabilities": lambda: views.topk(view, "chars"),
        "Loss and accuracy": lambda: views.loss(runs, "chars", accuracy=True),
        "Hidden state": lambda: views.hidden_state(view, "chars"),
    })


panel.show(lesson, settings, body)
