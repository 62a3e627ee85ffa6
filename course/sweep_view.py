"""The sweep lesson's glue: a grid of runs (a preset, editable), run on the lab's worker processes (or
a Ray cluster: env RNNVIZ_RAY_ADDRESS), its figure filling in as runs finish; a click on a point
opens that run in the gradients lesson.

A student has one sweep at a time (lab-wide, in `_sweeps`). Its table and checkpoints are written to
<runs>/<owner>/sweeps/<stamp>/ as they finish (rnnviz.sweep_out), so the results outlive a restart;
the lab keeps a student's last KEEP sweeps.
"""
from __future__ import annotations

import os
import shutil
import threading
import time

import streamlit as st

from rnnviz import sweep, sweep_exec
from rnnviz.figures.sweep import sweep_figure
from rnnviz.sweep_out import Background, prepare
from rnnviz.sweep_runner import RunnerExecutor

from lab import checkpoints, identity, registry
from lab.messages import say, show_message

KEEP = 3
METRIC_WORDS = {"val_acc": "validation accuracy", "grad_ratio": "‖∂L/∂h_0‖ / ‖∂L/∂h_T‖", "val_loss": "validation loss"}


@st.cache_resource(show_spinner=False)
def _sweeps() -> tuple[dict, threading.Lock]:
    return {}, threading.Lock()


def current() -> Background | None:
    table, lock = _sweeps()
    with lock:
        return table.get(identity.owner())


def _folder():
    root = registry.get().root / identity.owner() / "sweeps"
    old = sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []
    for p in old[:max(0, len(old) - KEEP + 1)]:      # the lab's own folders: the oldest go
        shutil.rmtree(p, ignore_errors=True)
    return root / time.strftime("%Y%m%d-%H%M%S")


def _executor():
    """Ray where the server names a cluster, else the lab's own worker processes."""
    if os.environ.get(sweep_exec.RAY_ENV, "").strip():
        return sweep_exec.executor_from_env()
    return RunnerExecutor(registry.get().runner, identity.owner())


def start(preset: str, grid_text: dict[str, str], epochs: int) -> None:
    """on_click of Run: plan the grid (every setting checked first), then run it in the background."""
    running = current()
    if running is not None and not running.done:
        return say("sweep", "warning", "Your sweep is still running: stop it first.")
    try:
        grid = sweep.parse_grid(sweep.PRESETS[preset]["task"], [f"{k}={v}" for k, v in grid_text.items()])
        specs = sweep.from_preset(preset, grid=grid, epochs=epochs)
        out = prepare(_folder(), specs, about={"preset": preset})
        bg = Background(specs, _executor(), out=out, about={"preset": preset})
    except (ValueError, OSError) as e:   # SweepError is a ValueError
        return say("sweep", "error", f"Could not start the sweep: {e}")
    bg.out, bg.preset = out, preset
    table, lock = _sweeps()
    with lock:
        table[identity.owner()] = bg


def stop() -> None:
    if (bg := current()) is not None:
        bg.stop()


def editor() -> tuple[str, dict[str, str], int]:
    preset = st.selectbox("preset", list(sweep.PRESETS), key="sweep.preset",
                          format_func=lambda p: f"{p}: {sweep.PRESETS[p]['summary']}")
    p = sweep.PRESETS[preset]
    varied = {k: v for k, v in p["grid"].items() if len(v) > 1}
    cols = st.columns(len(varied) + 1)
    text = {k: col.text_input(k, ",".join(str(x) for x in v), key=f"sweep.grid.{preset}.{k}", max_chars=200)
            for col, (k, v) in zip(cols, varied.items())}
    epochs = cols[-1].number_input("epochs per run", 1, 2000, p["epochs"], key=f"sweep.epochs.{preset}")
    fixed = ", ".join(f"{k} {v[0]}" for k, v in p["grid"].items() if len(v) == 1)
    st.caption(f"Task **{p['task']}**; every run also has {fixed}. Runs execute on {_executor().describe()}.")
    return preset, text, int(epochs)


def progress_text(rows: list[dict], done: bool) -> str:
    """The sweep's progress line: its state and how its runs ended, as what happened to each
    ("3 of 12 runs done: 2 finished, 1 stopped"), never "failed" for a run the student stopped."""
    ended = [r for r in rows if r["status"] != "not run"]
    state = "stopped" if done and len(ended) < len(rows) else "finished" if done else "running"
    how = sweep.status_counts(ended)
    line = f"sweep {state}: {len(ended)} of {len(rows)} runs done"
    return line + (f": {how}" if ended and any(r["status"] != "finished" for r in ended) else "")


def run_at(done: dict, trace: str, x) -> str | None:
    """The first run of a point of sweep_figure(x="lag", line="cell"): its trace is named "cell=<cell>"
    and its x is the lag as a category (a string)."""
    return next((n for n, r in done.items() if trace == f"cell={r.spec.values.get('cell')}"
                 and str(x) == str(r.spec.values.get("lag"))), None)


def results(bg: Background | None) -> None:
    show_message("sweep")
    if bg is None:
        return st.info("Press **Run sweep**: each point of the figure fills in as its runs finish.",
                       icon=":material/grid_on:")
    rows = [r.as_dict() for r in bg.rows]
    ended = sum(r["status"] != "not run" for r in rows)
    st.progress(ended / max(len(rows), 1), text=progress_text(rows, bg.done))
    if bg.error:
        st.error(f"The sweep failed: {bg.error}")
    metric = st.radio("metric", list(METRIC_WORDS), format_func=METRIC_WORDS.get, horizontal=True,
                      key="sweep.metric")
    chance = 1 / 3 if metric == "val_acc" else None    # the memory preset copies 3 symbols
    fig = sweep_figure(rows, metric, x="lag", line="cell", chance=chance)
    event = st.plotly_chart(fig, theme=None, key="sweep.figure", on_select="rerun", selection_mode="points")
    done = {r.spec.name: r for r in bg.rows if r.status in ("finished", "diverged")}
    points = event.selection.points if event is not None else []
    if points and done:     # a click on a point picks its first finished run below
        point = points[0]
        if hit := run_at(done, fig.data[point.get("curve_number", 0)].name, point.get("x")):
            st.session_state["sweep.pick"] = hit
    if done:
        with st.container(horizontal=True, vertical_alignment="bottom"):
            pick = st.selectbox("a run (or click a point of the figure)", list(done), key="sweep.pick")
            if st.button("Open it in the gradients lesson", icon=":material/open_in_new:", key="sweep.open"):
                checkpoints.open_and_go(str(bg.out / "runs" / pick), None)
                st.rerun()      # the whole page, not only this fragment: main.py then switches to the lesson
    st.dataframe(rows, hide_index=True, width="stretch")
