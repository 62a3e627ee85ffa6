"""What every page does first: make sure main.py runs it, and the header of a lesson."""
from __future__ import annotations

import streamlit as st

from . import APP_RAN, links, presenter, presets, pretrained, share
from .lessons import BY_KEY, Lesson


def ensure_app() -> None:
    """Pages run inside main.py's st.navigation. When a fresh server's first request is a page's URL,
    Streamlit runs that page alone (legacy pages/ mode); rerun once so that main.py takes over."""
    if not st.session_state.get(APP_RAN) and not st.session_state.get(APP_RAN + ".retried"):
        st.session_state[APP_RAN + ".retried"] = True
        st.rerun()


def lesson(key: str) -> Lesson:
    """The lesson of a page (call it first thing on the page)."""
    ensure_app()
    return BY_KEY[key]


def header(lesson: Lesson) -> None:
    """The lesson's title with the presenter toggle and its link, its presets, its pretrained models.
    The first time a session draws the lesson after opening a link, the link's preset applies here
    (before the settings draw)."""
    with st.container(horizontal=True, vertical_alignment="center"):
        st.title(lesson.heading, width="stretch")
        presenter.toggle()
        share.button(lesson)
    presets.from_link(lesson, links.visit(lesson.key))
    if not presenter.on():             # (presenter mode: under the panel, lab.panel)
        presets.picker(lesson)
        pretrained.picker(lesson)
