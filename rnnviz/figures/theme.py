"""The figures on a dark page: a dark template, and the few colours figures set themselves swapped.

Figures are built for a light page (style.TEMPLATE). `themed(fig, "dark")` returns a copy for a dark
page: the dark template (Streamlit's dark background, light text and grid) and every explicit "ink"
colour (black lines, dark-grey annotations, white separators) swapped for its dark-page counterpart.
Data colours (the palette, RIGHT / WRONG, colour scales) stay: they were chosen to read on both.

HTML blocks (tables, the headline) do not pick a theme: their secondary text inherits the page's text
colour and is muted with MUTED_STYLE, which reads on both of Streamlit's themes (PAGE).
"""
from __future__ import annotations

import copy

import plotly.graph_objects as go
import plotly.io as pio

from .style import LAYOUT, SUBTITLE_SIZE

# Streamlit 1.67's two built-in themes (its frontend's bgColor and bodyText): page background, text
PAGE = {"light": {"bg": "#FFFFFF", "text": "#2F2D2B"}, "dark": {"bg": "#171614", "text": "#EDEBE8"}}
MUTED_OPACITY = 0.7                      # secondary text: the page's text colour, faded
MUTED_STYLE = f"opacity:{MUTED_OPACITY}"

DARK_BG = PAGE["dark"]["bg"]
DARK_LAYOUT = dict(
    font=dict(color="#EEEEEE"),
    title=dict(subtitle=dict(font=dict(size=SUBTITLE_SIZE, color="#BBBBBB"))),
    xaxis=dict(gridcolor="#34322E", zerolinecolor="#5E5B56", linecolor="#5E5B56"),
    yaxis=dict(gridcolor="#34322E", zerolinecolor="#5E5B56", linecolor="#5E5B56"),
    scene={a: dict(backgroundcolor=DARK_BG, gridcolor="#34322E", zerolinecolor="#5E5B56")
           for a in ("xaxis", "yaxis", "zaxis")},
    hoverlabel=dict(bgcolor="#2D2B27", font=dict(color="#EDEBE8")),
    plot_bgcolor=DARK_BG,
    paper_bgcolor=DARK_BG,
)
TEMPLATE_DARK = go.layout.Template(layout=copy.deepcopy(pio.templates["plotly_dark"].layout))
TEMPLATE_DARK.layout.update(LAYOUT)
TEMPLATE_DARK.layout.update(DARK_LAYOUT)
TEMPLATE_DARK_DICT = TEMPLATE_DARK.to_plotly_json()

# colours a figure sets for lines and text that must stand out from a light page -> on a dark page
INK = {"black": "#EEEEEE", "#000000": "#EEEEEE", "#222222": "#DDDDDD", "#555555": "#BBBBBB",
       "#666666": "#AAAAAA", "white": DARK_BG, "#ffffff": DARK_BG}


def _swap(node):
    """Swap INK colours in place in a figure's dict (values of keys ending in 'color', and lists of them)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k.endswith("color") and isinstance(v, str):
                node[k] = INK.get(v.lower(), v)
            elif k.endswith("color") and isinstance(v, list) and all(isinstance(c, str) for c in v):
                node[k] = [INK.get(c.lower(), c) for c in v]
            elif isinstance(v, (dict, list)):
                _swap(v)
    elif isinstance(node, list):
        for v in node:
            if isinstance(v, (dict, list)):
                _swap(v)


def themed(fig: go.Figure, theme: str | None) -> go.Figure:
    """`fig` for a page of Streamlit's theme `theme` ("light", "dark" or None = unknown): a dark copy
    for "dark", the figure itself otherwise."""
    if theme != "dark":
        return fig
    d = fig.to_dict()
    d["layout"].pop("template", None)
    _swap(d)
    d["layout"]["template"] = TEMPLATE_DARK_DICT   # go.Figure deep-copies it
    return go.Figure(data=d.get("data", []), layout=d["layout"], _validate=False)

