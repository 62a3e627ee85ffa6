"""Share this setup: the page's own address (it carries every setting that differs from the default,
lab.links) with a Copy button, and the lesson's presets as links, in a popover beside the title."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from .lessons import Lesson
from .presets import of

CSS = """.rv-share-row { display: flex; gap: .5rem; align-items: center; margin: .3rem 0; }
.rv-share-row label { min-width: 11rem; font-size: .9rem; }
.rv-share-row input { flex: 1; font-family: monospace; font-size: .85rem; padding: .25rem; }"""
_COMPONENT = st.components.v2.component("rnnviz_share", html="", css=CSS,
                                        js=(Path(__file__).parent / "web" / "share.js").read_text())


def base() -> str:
    """This page's address without its query."""
    parts = urlsplit(st.context.url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def button(lesson: Lesson) -> None:
    with st.popover("Share", icon=":material/link:", help="A link to this setup, and to the lesson's presets"):
        st.markdown("The address bar is the link: it carries every setting you changed, so another browser "
                    "opens the same setup. `&present=true` opens it in presenter mode.")
        _COMPONENT(data=[{"this_setup": "this setup", "and_train": "this setup, training at once"}],
                   key=f"{lesson.key}.share")
        for p in of(lesson):
            st.markdown(f"**{p.title}** (opens and trains it)")
            st.code(f"{base()}?preset={p.name}&train=1", language=None, wrap_lines=True)
