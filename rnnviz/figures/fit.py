"""Titles and notes that fit the figure's width, and legends that keep clear of the axes.

Plotly draws a title and its subtitle on one line each and cuts them off at the figure's edge; the
notes in the subtitle say what a figure projects, thins or leaves out, so they must stay whole. Here
they are wrapped onto lines ("<br>") by an estimate of the text's width in px, and the top margin is
the height of those lines: the title is pinned to the top of the figure (yref "container") so that
the lines always sit inside the margin, whatever the width the browser gives the chart.

A figure does not know the width it will be drawn at: the builders wrap for PAGE_WIDTH (a chart across
the page) and `refit` wraps a built figure again for a narrower column or a wider screen. The wrapping
can be undone (a line break inside a note is "<br>", one between notes "<br>· "), so refit works on
the figure alone.
"""
from __future__ import annotations

import copy
import math
import textwrap

import plotly.graph_objects as go

PAGE_WIDTH = 790      # px: a chart across Streamlit's centered page (46rem of 17 px, less its padding)
CHAR_EM = 0.52        # a character's advance in em, an overestimate (titles and notes measure ~0.45 em)
LINE = 1.3            # plotly's line spacing, in font sizes
TITLE_X = 0.02        # the title's left edge, a fraction of the figure's width (the template's)
RIGHT_PAD = 24        # px kept free at the right edge
TOP_PAD = 14          # px above the title
BELOW = 20            # px under the last subtitle line (plotly sets a one-line subtitle ~10 px lower)
PLOTLY_HEIGHT = 450   # px: plotly's height of a figure that sets none
MONO_EM = 0.62        # a monospaced character's advance in em (DejaVu Sans Mono: 0.60), with room
COLORBAR = 105        # px a heatmap's colour bar takes from the plot's width (measured: 80-103)
TIME_TITLE = "time step t (input token)"
STEP_TITLE = "time step t"   # a time axis without the inputs (style.step_axis)
NOTE_SEP = "  ·  "
BREAK, NOTE_BREAK = "<br>", "<br>· "   # inside a note, between notes


def chars_per_line(width: float, size: float) -> int:
    """How many characters of a font of `size` px fit on one line of a title `width` px wide (at least 12)."""
    return max(12, int((width * (1 - TITLE_X) - RIGHT_PAD) / (CHAR_EM * size)))


def wrap_words(text: str, n: int) -> list[str]:
    """`text` as lines of at most n characters, broken at spaces (a longer word is a line of its own)."""
    return textwrap.wrap(text, n, break_long_words=False, break_on_hyphens=False) or [""]


def subtitle_text(notes: list[str], n: int) -> tuple[str, int]:
    """The notes as a subtitle of lines of at most about n characters, and its number of lines: notes
    joined by NOTE_SEP while they fit, a new line starting "· " where the next does not, a note
    longer than a line wrapped at its spaces."""
    lines: list[str] = []
    for note in notes:
        if lines and len(lines[-1]) + len(NOTE_SEP) + len(note) <= n:
            lines[-1] += NOTE_SEP + note
        else:
            lines += wrap_words(("· " if lines else "") + note, n)
    return BREAK.join(lines), len(lines)


def notes_of(subtitle: str) -> list[str]:
    """The notes a subtitle_text() was made of (undoes the wrapping)."""
    return subtitle.replace(NOTE_BREAK, NOTE_SEP).replace(BREAK, " ").split(NOTE_SEP)


def top_margin(title_lines: int, title_size: float, sub_lines: int, sub_size: float) -> int:
    """px of top margin that hold the title's and the subtitle's lines."""
    if not title_lines and not sub_lines:
        return 30
    return math.ceil(TOP_PAD + LINE * (title_lines * title_size + sub_lines * sub_size) + BELOW)


def fit_title(layout: dict, title: str | None, notes: list[str], width: float, title_size: float,
              sub_size: float) -> int:
    """Set `layout`'s title (wrapped) and subtitle (the notes, wrapped) for a figure `width` px wide,
    pinned to the top of the figure; the top margin they need (px)."""
    t_lines = s_lines = 0
    if title is not None or notes:
        t = layout.setdefault("title", {})
        t.update(yref="container", y=1, yanchor="top", pad={"t": TOP_PAD})
    if title is not None:
        lines = wrap_words(title, chars_per_line(width, title_size))
        layout["title"]["text"] = BREAK.join(lines)
        t_lines = len(lines)
        # plotly centres a title of several lines on where its first line would be: move it down by as much
        layout["title"]["pad"]["t"] = TOP_PAD + round((t_lines - 1) * LINE * title_size / 2)
    if notes:
        text, s_lines = subtitle_text(notes, chars_per_line(width, sub_size))
        layout["title"]["subtitle"] = {"text": text}
        t_lines = max(t_lines, 1)       # plotly leaves the title's line even when the title is empty
    return top_margin(t_lines, title_size, s_lines, sub_size)


def ordinal(n: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def time_title(every: int) -> str:
    """The title of a time axis (style.time_axis) that labels every `every`-th step."""
    return TIME_TITLE + (f", every {ordinal(every)} labelled" if every > 1 else "")


def fit_time_axes(d: dict, width: float) -> None:
    """Thin the tick labels of the time axes (style.time_axis) of figure dict `d`, drawn `width` px wide,
    to as many as fit side by side (plotly turns crowded labels on end), and say so in the axis' title."""
    lay = d["layout"]
    margin = {**lay.get("template", {}).get("layout", {}).get("margin", {}), **lay.get("margin", {})}
    inner = width - margin.get("l", 80) - margin.get("r", 80)
    inner -= COLORBAR if any(t.get("type") == "heatmap" and t.get("showscale", True) for t in d.get("data", [])) else 0
    for name, axis in lay.items():
        vals, text = (axis.get("tickvals"), axis.get("ticktext")) if name.startswith("xaxis") else (None, None)
        if not vals or len(vals) < 2 or not str(axis.get("title", {}).get("text", "")).startswith(TIME_TITLE):
            continue
        lo, hi = axis.get("domain", (0, 1))
        label = (max(len(str(t)) for t in text) + 1) * MONO_EM * axis.get("tickfont", {}).get("size", 14)
        k = math.ceil(len(vals) / max(1, int(inner * (hi - lo) // label)))
        if k > 1:
            axis["tickvals"], axis["ticktext"] = list(vals)[::k], list(text)[::k]
            axis["title"]["text"] = time_title((vals[1] - vals[0]) * k)


def refit(fig: go.Figure, width: float) -> go.Figure:
    """A copy of `fig` (built by rnnviz.figures) with its title and notes wrapped for `width` px, and its
    top margin and height changed by as much as their lines' height changed (a builder's extra top
    margin stays); its time axes labelled as densely as fits."""
    d = fig.to_dict()
    fit_time_axes(d, width)
    lay = d["layout"]
    title = lay.get("title", {})
    text, sub = title.get("text"), title.get("subtitle", {}).get("text")
    if text is None and sub is None:
        return go.Figure(data=d.get("data", []), layout=lay, _validate=False)
    tpl = lay["template"]["layout"]["title"]
    t_size, s_size = tpl["font"]["size"], tpl["subtitle"]["font"]["size"]
    t_lines = max(text.count(BREAK) + 1 if text is not None else 0, 1 if sub is not None else 0)
    before = top_margin(t_lines, t_size, sub.count(BREAK) + 1 if sub is not None else 0, s_size)
    title.pop("subtitle", None)
    after = fit_title(lay, text.replace(BREAK, " ") if text is not None else None,
                      notes_of(sub) if sub is not None else [], width, t_size, s_size)
    lay["margin"]["t"] += after - before
    if after != before:     # the plot keeps its height: a column's extra lines do not squeeze it
        lay["height"] = (lay.get("height") or PLOTLY_HEIGHT) + after - before
    return go.Figure(data=d.get("data", []), layout=lay, _validate=False)


def legend_below(**extra) -> dict:
    """A horizontal legend at the bottom of the figure, under the x axis's title whatever the height of
    its tick labels: placed in the figure (yref "container"), so plotly reserves its height below the
    margin the axes push out for themselves (a legend at a paper y such as -0.2 overlaps them)."""
    return {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left",
            **copy.deepcopy(extra)}
