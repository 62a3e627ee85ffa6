"""Messages shown once, under a lesson's run bar or on a page: what a click did, or why it could not."""
from __future__ import annotations

import streamlit as st

_KEY = "lab.messages"


def say(where: str, kind: str, text: str) -> None:
    """kind: success | info | warning | error; `where`: a lesson's key or a page's name."""
    st.session_state.setdefault(_KEY, {}).setdefault(where, []).append((kind, text))


def show_message(where: str) -> None:
    for kind, text in st.session_state.get(_KEY, {}).pop(where, []):
        getattr(st, kind)(text)
