"""The From scratch lesson's "One step by hand": one time step of the run's cell on the probe input,
with the weights of the shown epoch, each line of NumPy next to the numbers it gave
(rnnviz.numpy_engine.step_by_hand; the lines shown are the ones that ran)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from rnnviz import figures as F
from rnnviz.numpy_engine import network
from rnnviz.numpy_engine.step_by_hand import one_step

from lab.snapshot import Snapshot


def show(views_: dict[str, Snapshot], key: str) -> None:
    name = "numpy" if "numpy" in views_ else next(iter(views_))
    view = views_[name]
    got = view.run.weights.at(view.rec.epoch) if view.rec else None
    if got is None:
        st.info("Waiting for the run's first record…", icon=":material/hourglass_top:")
        return
    kept, state = got
    task, mcfg = view.task, view.run.mcfg
    params = network.params_from_state_dict(state)
    cfg = network.NetConfig.from_model_config(mcfg, task.input_size, task.output_size, task.kind)
    batch = task.probe()
    x = batch.x[0].numpy()
    labels = task.probe_labels()
    t = st.slider("time step t", 0, len(x) - 1, 0, key=f"{key}.step_t",
                  help="The step worked out below; h_{t-1} is what the engine's forward over the steps before left.")
    entries = one_step(params, cfg, x, t)
    st.html(F.step_table_html(entries, t, labels[t] if t < len(labels) else None))
    h = next(e.value for e in reversed(entries) if e.layer == mcfg.num_layers - 1 and e.source.startswith("h = "))
    _, cache = network.forward(params, cfg, x[None, :t + 1])    # the engine, all steps up to t at once
    diff = float(np.abs(h - cache.hidden[-1, -1, 0]).max())
    st.caption(f"With the weights of the **{name}** run at {view.unit} {kept:,} ({next(iter(params.values())).dtype}). "
               f"The engine's own forward over x_0 … x_{t} gives the same h_{t}: largest difference {diff:.1e}.")
