"""What every page does first."""
from __future__ import annotations

import streamlit as st

from . import APP_RAN
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
