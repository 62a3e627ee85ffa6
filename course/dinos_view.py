"""The From scratch lesson's dinosaur names: new names sampled from each engine's run with the same
seed, prime and temperature (rnnviz.generate through course.generation)."""
from __future__ import annotations

import streamlit as st

from lab import views
from lab.snapshot import Snapshot

from . import generation


def samples(views_: dict[str, Snapshot], key: str) -> None:
    a, b, c = st.columns(3)
    temperature = a.slider("temperature", 0.1, 2.0, 0.8, 0.05, key=f"{key}.temperature",
                           help="p ∝ exp(logit / T): below 1 safer, more common names; above 1 wilder ones")
    length = b.slider("characters", 50, 600, 200, 50, key=f"{key}.length")
    seed = int(c.number_input("seed", 0, 2**31 - 1, 0, key=f"{key}.seed"))
    texts = {}
    for col, (name, view) in zip(st.columns(len(views_)), views_.items()):
        with col:
            if view.rec is None:
                st.info(f"**{name}**: waiting for its first record…", icon=":material/hourglass_top:")
                continue
            with views.explained(f"{name} cannot sample"):
                epoch, text, _ = generation.sample(view, "\n", length, temperature, 0, seed)
                names = [n for n in text.split("\n") if n]
                texts[name] = text
                st.markdown(f"**{name}**, with the weights of {view.unit} {epoch:,}")
                st.code("\n".join(names), language=None)
    if len(texts) == 2:
        same = len(set(texts.values())) == 1
        st.caption("Both engines drew the same names: the same weights give the same probabilities, and the "
                   "same seed the same draws." if same else
                   "The engines drew different names: their weights differ (a bug injected, other settings, or "
                   "rounding grown over many steps), or they show different epochs.")
    st.caption("Each name starts after a new line (the prime is ⏎); a character is drawn from softmax(logits / T) "
               "and fed back, until the next ⏎ ends the name.")
