"""Links that open a setup. A lesson's URL carries its task and every setting that differs from its
default: the settings' widgets are bound to the URL's query parameters (lab.fields), so the address
bar is always the link to what is on screen. Besides those, a link may say
    preset=<name>   open one of the lesson's presets (lab.presets)
    train=1         start training once it is open
    present=true    presenter mode (lab.presenter)
What a link asks for that cannot be shown (an old setting's name, a value the widget refuses, a
parameter the app does not know) is left out and taken off the address bar, and the lesson says so in
one line; nothing else happens to it. (Streamlit's own embed and embed_options never reach
st.query_params.)
"""
from __future__ import annotations

import streamlit as st

from rnnviz.config import clipped

from . import fields, presenter
from .lessons import BY_KEY

ARRIVED = "lab.link.arrived"      # the query parameters the session's first page came with, not yet taken
CONSUMED = "lab.link.consumed"    # the lessons that have taken their link's preset / train / notes
VISIT = "lab.link.visit"          # (lesson, its link's parameters) during this script run only
ACTIONS = ("preset", "train")     # besides the lesson's settings, what a link may ask of a lesson
OTHERS = (presenter.KEY,)         # what else the app keeps in the address bar
NAMED = 6                         # a note names at most this many of a link's left-out settings


def remember_arrival() -> None:
    """Call first thing on every run: keeps the URL the browser opened, before widgets take it."""
    if ARRIVED not in st.session_state:
        st.session_state[ARRIVED] = {k: st.query_params.get_all(k) for k in st.query_params}
    st.session_state[VISIT] = None


def _lesson_of(key: str) -> str | None:
    """The lesson whose setting a parameter names ("<lesson>.<task>.model.hidden_size"), if any."""
    lesson = key.split(".", 1)[0]
    return lesson if "." in key and lesson in BY_KEY else None


def visit(lesson_key: str) -> dict[str, list[str]] | None:
    """The link's parameters for this lesson (its settings, preset, train, and any parameter the app
    does not know) during the script run that first draws the lesson after the link opened; None
    otherwise (and for any other lesson). The first lesson drawn takes them: a later one does not
    train, open a preset or say what was left out again."""
    if st.session_state.get(VISIT) is None:
        done = st.session_state.setdefault(CONSUMED, set())
        mine = None
        if lesson_key not in done:
            done.add(lesson_key)
            arrived = st.session_state.get(ARRIVED, {})
            mine = {k: v for k, v in arrived.items() if _lesson_of(k) in (lesson_key, None) and not _kept(k, v)}
            st.session_state[ARRIVED] = {k: v for k, v in arrived.items() if k not in mine}   # taken once
            mine = mine or None
        st.session_state[VISIT] = (lesson_key, mine)
    key, params = st.session_state[VISIT]
    return params if key == lesson_key else None


def _kept(key: str, values: list[str]) -> bool:
    """A parameter the app keeps in the address bar (presenter mode), with a value its toggle takes."""
    return key in OTHERS and values[-1].lower() in ("true", "false", "")


def wanted(params: dict[str, list[str]] | None, name: str) -> str | None:
    """The value of an action parameter of the link (the last, if repeated), and off the URL with it."""
    if not params or name not in params:
        return None
    if name in st.query_params:
        del st.query_params[name]
    return params[name][-1]


def cancel(params: dict[str, list[str]] | None, name: str) -> bool:
    """Take an action off the link (what it asked for cannot be done as asked); whether it was on it."""
    asked = wanted(params, name) is not None
    if asked:
        params.pop(name)
    return asked


def left_out(params: dict[str, list[str]] | None, shown: dict[str, object], taken=ACTIONS) -> list[str]:
    """The link's settings that the widgets did not take (`shown` is key -> value as drawn), each named
    as the sidebar names it (a parameter the app does not know: as written) and its value cut at 40
    characters, the first NAMED of them and how many more: a note stays one line. `taken`: the actions
    the lesson does itself (not named)."""
    out = []
    for key, values in (params or {}).items():
        if key in taken:
            continue
        raw = values[-1]
        said = f"{clipped(fields.label_of(key) if _lesson_of(key) else key, 40)}={clipped(raw, 40)}"
        if key not in shown:
            out.append(f"{said} (true or false)" if key in OTHERS else f"{said} (no such setting)")
            if key in st.query_params:
                del st.query_params[key]
        elif not _same(raw, shown[key]):
            out.append(said)
    return out if len(out) <= NAMED else [*out[:NAMED - 1], f"and {len(out) - NAMED + 1} more"]


def _same(raw: str, value) -> bool:
    if isinstance(value, bool):
        return raw.lower() in ("true", "1") if value else raw.lower() in ("false", "0")
    if isinstance(value, (int, float)):
        try:
            return float(raw) == float(value)
        except ValueError:
            return False
    return raw == str(value)
