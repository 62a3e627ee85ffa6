"""Lesson 3: word prediction. Two words in, the third out: 'i like' -> 'dogs'."""
import streamlit as st

from course import equations, generation
from lab import page, panel, views
from lab.settings import sidebar
from rnnviz.figures import topk_figure

lesson = page.lesson("words")
page.header(lesson)
settings = sidebar(lesson)
equations.explain(
    "Six sentences of three words — *i like dogs, i love coffee, i hate milk, you like cats, you love milk, "
    "you hate coffee*. Each word is one token (a one-hot vector of 9). The network reads the first two "
    "words and only its answer after the second word is scored (the first step has no target, shown grey; "
    "the table's first row is what it reads). "
    "*like* alone cannot tell *dogs* from *cats*: the hidden state must still remember *i* or *you*. "
    "Type your own two words under **Try it**.",
    *settings.cells, "loss")


def try_it(view):
    text = st.text_input("two words (from: i, you · like, love, hate)", "you love", key="words.try")
    with views.explained("Cannot read that"):
        epoch, described = generation.describe_text(view, text)
        st.caption(f"with the weights of {view.unit} {epoch}")
        views.chart(topk_figure(described), "words.try.chart")


def body(runs):
    (view,) = runs.values()
    views.tabs("words.tabs", {
        "Predictions": lambda: views.predictions(view, "words", with_inputs=True),
        "Try it": lambda: try_it(view),
        "Top-k probabilities": lambda: views.topk(view, "words"),
        "Loss and accuracy": lambda: views.loss(runs, "words", accuracy=True),
    })


panel.show(lesson, settings, body)
