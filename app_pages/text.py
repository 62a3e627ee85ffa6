"""Lesson 8: text generation. A character-level language model on Shakespeare, dinosaur names or
your own text; samples while it trains."""
import streamlit as st

from course import directions, equations, generation
from lab import page, panel, views
from lab.settings import sidebar

lesson = page.lesson("text")
PRIMES = {"shakespeare": "First Citizen:", "dinos": "a"}

page.header(lesson)
settings = sidebar(lesson)
equations.explain(
    "The model reads the text in windows of *sequence length* characters and learns the next character "
    "everywhere (the hidden state is carried from window to window). To **generate**, feed it a *prime*, "
    "draw the next character from its softmax — sharpened or flattened by the **temperature** $T$ "
    "($p_i \\propto e^{z_i / T}$), optionally only among the **top-k** — and feed the drawn character "
    "back in. Early samples are letter soup; then come spaces and word shapes, then words, then "
    "line structure. Paste or upload your own text under *Data → corpus: custom*.",
    *settings.cells, "loss")


def samples(view):
    task = view.task
    a, b, c, d = st.columns([2, 1, 1, 1])
    first = PRIMES.get(task.options.corpus, task.text[:1]).replace("\n", "\\n")
    prime = a.text_input("prime (\\n = new line)", first, key=f"text.prime.{task.options.corpus}")
    prime = prime.replace("\\n", "\n")
    temperature = b.slider("temperature", 0.1, 2.0, 0.8, 0.05, key="text.temperature")
    top_k = c.slider("top-k (0 = all)", 0, len(task.vocab), 0, key="text.top_k")
    length = d.slider("characters", 50, 1000, 200, 50, key="text.length")
    with views.explained("Cannot sample"):
        epoch, text, cps = generation.sample(view, prime, length, temperature, top_k)
        st.markdown(f"**Sample with the weights of {view.unit} {epoch:,}**")
        st.code(prime + text, language=None, wrap_lines=True)
        reads = view.run.steps_per_second * task.options.batch_size * task.options.seq_len
        st.caption(f"generated at {cps:,.0f} characters per second"
                   + (f" · training reads {reads:,.0f} characters per second" if view.run.active else ""))
        if st.toggle("earlier samples", value=True, key="text.history"):
            earlier = generation.sample_history(view, prime, length, temperature, top_k)
            for e, old in earlier:
                st.markdown(f"{view.unit} {e:,}")
                st.code(prime + old, language=None, wrap_lines=True)
            if not earlier and view.run.active:
                st.caption("Earlier samples show here as the run trains.")
            elif not earlier and len(view.run.weights.epochs) > 1:
                st.caption(f"No earlier sample up to {view.unit} {epoch:,}: drag the scrubber further right.")
            elif not earlier:
                st.caption(f"No earlier sample: this run keeps the weights of {view.unit} {epoch:,} only (an "
                           f"opened checkpoint keeps those of its last {view.unit}); Continue, and the samples "
                           "along the way stay here.")


def loss(runs, view):
    views.loss(runs, "text")
    unigram = view.task.unigram_entropy()
    shown = ""
    if view.rec is not None and view.rec.val_loss is not None:
        v = view.rec.val_loss
        shown = (f" This run's validation loss at {view.unit} {view.rec.epoch:,}: {v:.3f}, "
                 + ("below it." if v < unigram else "not below it."))
    st.caption(f"A model that knows only how often each character occurs scores {unigram:.3f} nats per character "
               "on the training text (the entropy of its character counts); below that, a model has learnt "
               "context." + shown)


def body(runs):
    (view,) = runs.values()
    views.tabs("text.tabs", {
        "Samples": lambda: samples(view),
        "Loss": lambda: loss(runs, view),
        "Predictions": lambda: views.predictions(view, "text"),
        "Inside": lambda: views.gates(view, "text", direction=directions.choice(view, "text.direction")),
    })


panel.show(lesson, settings, body)
