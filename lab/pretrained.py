"""The shipped pretrained models of a lesson, one click away at the top of its page."""
from __future__ import annotations

import streamlit as st

from rnnviz.checkpoint import list_runs

from . import checkpoints
from .lessons import Lesson


def picker(lesson: Lesson) -> None:
    """A row above the lesson: pick a shipped model of the lesson's tasks and open it (no training)."""
    found = [r for r in list_runs(checkpoints.root() / checkpoints.PRETRAINED) if r.get("task") in lesson.tasks]
    if not found:
        return
    names = {r["name"]: r for r in found}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        pick = st.selectbox("a pretrained model", list(names), key=f"{lesson.key}.pretrained",
                            format_func=lambda n: f"{n} ({names[n]['task']}, {names[n]['cell']} H={names[n]['hidden']})",
                            width=360)
        st.button("Open pretrained", key=f"{lesson.key}.load_pretrained", on_click=checkpoints.open_and_go,
                  args=(names[pick]["path"], lesson.key), icon=":material/download_done:",
                  help="Show the trained model's history and views at once; Continue trains it on")
