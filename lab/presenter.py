"""Presenter mode: for a projector. The sidebar and the lessons' explanations step aside, text and
charts grow, and the main chart fits a 1280x720 screen without scrolling. A toggle on every lesson,
kept in the URL (`?present=true`), so a teacher's link opens in it."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

KEY = "present"
FONT = 17            # chart text, in px (the figures' own is 12-13)
CHART_HEIGHT = 360   # px: the main chart, under the title and the scrubber (the run bar is under the views)
TABLE_ROWS = 3       # epochs in the table of predictions (first, middle, last): it and the run bar fit 720 px
PAGE_WIDTH = 1110    # px: a chart across the page at 1280 px (presenter.css: no sidebar, the full width)
# keys that press the run bar's Train, Pause / Resume and Stop wherever the page is scrolled (here the bar
# is under the charts); Streamlit ignores them while a text field has the focus
KEYS = {"train": "T", "pause": "P", "stop": "S"}
_CSS = (Path(__file__).parent / "web" / "presenter.css").read_text()
_KEYS = st.components.v2.component("rnnviz_keys", html="", js=(Path(__file__).parent / "web" / "keys.js").read_text())


def on() -> bool:
    return bool(st.session_state.get(KEY))


def toggle() -> None:
    """The toggle; its page's style when it is on."""
    st.toggle("presenter mode", key=KEY, bind="query-params", persist_state="session",
              help="For a projector: no sidebar or explanations, larger text and charts (in the link too); "
                   "the run bar is under the charts, and the keys {train}, {pause} and {stop} train, pause or "
                   "resume, and stop".format(**KEYS))
    if on():
        st.html(f"<style>{_CSS}</style>")


def keys() -> None:
    """The (invisible) component that lets KEYS press their buttons also while a toggle, a radio button
    or a slider has the focus (web/keys.js)."""
    _KEYS(data=[list(KEYS.values())], key="lab.presenter.keys")


def chart_layout(fig) -> None:
    """Larger chart text, and a height that fits the screen (a figure's own height is for a desk)."""
    if on():
        fig.update_layout(font_size=FONT, height=min(fig.layout.height or CHART_HEIGHT, CHART_HEIGHT))


def side_by_side(n: int) -> tuple[list, float]:
    """n places for the runs' charts, side by side, and the share of the page's width each gets; in
    presenter mode one under the other, across the page (in half of it a chart's legend has no row of
    its own: it stacks under the plot and squeezes it)."""
    if on():
        return [st.container() for _ in range(n)], 1.0
    return st.columns(n), 1 / n
