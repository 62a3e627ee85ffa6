"""Who a browser is: a random token the browser keeps in a cookie (no login), and the owner id of it.

The first page a browser opens gets a new token (128 random bits) and a tiny component stores it in a
cookie; every later connection of that browser sends it, so a reload, a second tab or the next day
finds the same runs and checkpoints. The token itself stays between the browser and the server (the
progress route gets it in a header); folders and registries use `owner`, a hash of it, so a name on
disk or in a log cannot be replayed as someone's token. Without cookies a browser is a new student
at every page load.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

import streamlit as st

COOKIE = "rnnviz_id"
MAX_AGE_S = 365 * 24 * 3600
_KEY = "lab.identity"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_COMPONENT = st.components.v2.component("rnnviz_identity", html="",
                                        js=(Path(__file__).parent / "web" / "identity.js").read_text())


def valid(token) -> bool:
    return isinstance(token, str) and bool(_TOKEN.match(token))


def owner_of(token: str) -> str:
    """The owner id of a token: what folders and the run registry are keyed by."""
    return hashlib.sha256(f"rnnviz-owner:{token}".encode()).hexdigest()[:20]


def token() -> str:
    """This session's token: kept in session state, from the browser's cookie or new."""
    tok = st.session_state.get(_KEY)
    if not valid(tok):
        tok = st.context.cookies.get(COOKIE)
        st.session_state[_KEY] = tok = tok if valid(tok) else secrets.token_hex(16)
    return tok


def owner() -> str:
    return owner_of(token())


def keep_in_browser() -> None:
    """Draw the (invisible) component that stores the token in the browser's cookie."""
    _COMPONENT(data=[{"name": COOKIE, "token": token(), "max_age": MAX_AGE_S}], key="lab.identity.cookie")
