"""Lesson 4: the language a^n b^n a^n EOS. Counting the a's, then writing the count back twice."""
import streamlit as st

from course import equations, generation
from lab import page, panel, views
from lab.settings import sidebar
from rnnviz.tasks.anbn import read_prefix

lesson = page.lesson("anbn")
page.header(lesson)
settings = sidebar(lesson)
equations.explain(
    "Sequences like *a a b b a a EOS* or *a a a b b b a a a EOS*: n a's, n b's, n a's again. Before the "
    "first *b* the next token is a guess (another *a*, or the first *b*?), but once a *b* is seen n is fixed "
    "and every later token is determined — accuracy is measured on those positions only, and only they are "
    "coloured right or wrong under **Predictions** and **Generate** (the guesses are faded). To get them right "
    "the network must **count** in its hidden state. Type a prefix under **Generate** and see how it "
    "continues; look at **Hidden state** to see the counter as a path through state space.",
    *settings.cells, "loss")


def generate(view):
    prefix = st.text_input("prefix (a's and b's separated by spaces)", "a a b", key="anbn.prefix", max_chars=600)
    with views.explained("Cannot continue that prefix"):
        tokens = read_prefix(prefix)
        epoch, continued = generation.continuation(view, " ".join(tokens))
        views.continuation(tokens, continued)
        st.caption(f"greedy continuation (the most likely token each step) with the weights of {view.unit} {epoch}")


def body(runs):
    (view,) = runs.values()
    views.tabs("anbn.tabs", {
        "Generate": lambda: generate(view),
        "Predictions": lambda: views.predictions(view, "anbn"),
        "Loss and accuracy": lambda: views.loss(runs, "anbn", accuracy=True),
        "Hidden state": lambda: views.hidden_state(view, "anbn"),
    })


panel.show(lesson, settings, body)
