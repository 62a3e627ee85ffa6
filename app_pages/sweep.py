"""Lesson 10: sweeps. The classic memory experiment as a grid of runs: as the lag grows, a vanilla RNN
stops learning to copy while an LSTM and a GRU go on."""
import streamlit as st

from course import equations, sweep_view
from lab import page, presenter

lesson = page.lesson("sweep")
page.header(lesson)
equations.explain(
    "One run says little; the result every RNN course cites is a curve over many: train an **RNN**, an "
    "**LSTM** and a **GRU** to copy a few symbols across a growing *lag*, several seeds each, and plot "
    "what each learned against the lag. The RNN's gradient through time shrinks geometrically with the "
    "lag (switch the metric to $\\lVert\\partial L/\\partial h_0\\rVert / \\lVert\\partial L/\\partial h_T\\rVert$: "
    "orders of magnitude), so at long lags it stays near chance while the gated cells bridge it. Edit "
    "the grid, press **Run sweep**, and watch the points fill in as runs finish.",
    "bptt", "lstm")
preset, grid, epochs = sweep_view.editor()
with st.container(horizontal=True):
    st.button("Run sweep", type="primary", icon=":material/play_arrow:", key="sweep.run",
              on_click=sweep_view.start, args=(preset, grid, epochs), shortcut=presenter.KEYS["train"])
    st.button("Stop", icon=":material/stop:", key="sweep.stop", on_click=sweep_view.stop,
              shortcut=presenter.KEYS["stop"], disabled=(bg := sweep_view.current()) is None or bg.done)


running = bg is not None and not bg.done


@st.fragment(run_every=2.0 if running else None)
def live():
    now = sweep_view.current()
    sweep_view.results(now)
    if running and (now is None or now.done):
        st.rerun()      # the whole page: Stop is disabled and this fragment's timer ends with the sweep


live()
