"""Share this setup: the page's own URL (its settings are in it, lab.links) and the presets' links,
with a copy button, in a popover beside the lesson's title."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from .lessons import Lesson
from .presets import of


def base() -> str:
    """This page's address without its query (st.context.url: what the browser opened)."""
    parts = urlsplit(st.context.url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def button(lesson: Lesson) -> None:
    with st.popover("Share", icon=":material/link:", help="Links to this setup and to the lesson's presets"):
        st.markdown("**This setup**: the address bar is the link (it carries every setting you changed). "
                    "Add `&train=1` to start training when it opens, `&present=true` for presenter mode.")
        st.code(st.context.url or base(), language=None, wrap_lines=True)
        for p in of(lesson):
            st.markdown(f"**{p.title}** — opens and trains it")
            st.code(f"{base()}?preset={p.name}&train=1", language=None, wrap_lines=True)
