"""One look for every figure: a projector-friendly template, colour-blind-safe colours, small helpers.

Every figure module assembles its traces and layout as plain dicts and ends with
`styled(traces, layout, title, notes)`. Notes (what was projected, thinned, dropped or left out) go in
the subtitle, so the figure itself says what it shows.

Why dicts: the Streamlit server rebuilds figures many times a second while runs train and sessions
poll, and plotly's object API (add_trace, update_layout, make_subplots) validates every assignment:
15-80 ms a figure. The dicts here hold what that API would have stored (named colour scales expanded,
titles as {"text": ...}, python scalars), and the figure is wrapped once without validation: a few ms.
tests/test_figures.py checks that every figure still validates under plotly (go.Figure(fig.to_dict()))
and comes out the same. (Plotly does not validate later changes to such a figure either: make none.)
"""
from __future__ import annotations

import copy
import functools

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from .fit import NOTE_SEP, PAGE_WIDTH, STEP_TITLE, TITLE_X, fit_title, ordinal, time_title

FONT_SIZE = 16
FONT_FAMILY = "Open Sans, Helvetica, Arial, sans-serif"
TITLE_SIZE, SUBTITLE_SIZE = FONT_SIZE + 6, FONT_SIZE - 1
MONO_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, Courier New, monospace"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
RIGHT = "#009E73"      # bluish green
WRONG = "#D55E00"      # vermillion
NO_TARGET = "#DDDDDD"  # light grey
HEADER = "#4D4D4D"     # dark grey (the target row of the prediction table)
DIVERGING = "RdBu_r"   # blue negative, white 0, red positive
SEQUENTIAL = "Viridis"
# what the colours are called in captions and legends: name them with color_name(), never by hand
COLOR_NAMES = {"#0072B2": "blue", "#E69F00": "orange", "#009E73": "green", "#D55E00": "red-orange",
               "#CC79A7": "pink", "#56B4E9": "sky blue", "#F0E442": "yellow", "#000000": "black",
               NO_TARGET: "light grey", HEADER: "dark grey"}

LAYOUT = dict(
    font=dict(size=FONT_SIZE, family=FONT_FAMILY, color="#222222"),
    title=dict(font=dict(size=TITLE_SIZE), x=TITLE_X, xanchor="left",
               subtitle=dict(font=dict(size=SUBTITLE_SIZE, color="#555555"))),
    colorway=PALETTE,
    hoverlabel=dict(font=dict(size=FONT_SIZE, family=MONO_FAMILY)),
    legend=dict(font=dict(size=FONT_SIZE)),
    xaxis=dict(title=dict(font=dict(size=FONT_SIZE + 2)), tickfont=dict(size=FONT_SIZE),
               gridcolor="#E5E5E5", zerolinecolor="#BBBBBB", automargin=True),
    yaxis=dict(title=dict(font=dict(size=FONT_SIZE + 2)), tickfont=dict(size=FONT_SIZE),
               gridcolor="#E5E5E5", zerolinecolor="#BBBBBB", automargin=True),
    margin=dict(l=70, r=30, t=70, b=60),
    plot_bgcolor="white",
    paper_bgcolor="white",
)

# plotly_white's layout only: its per-trace defaults make every assignment ~3x slower (plotly validates
# the whole template each time), and every trace here sets its own colours anyway
TEMPLATE = go.layout.Template(layout=copy.deepcopy(pio.templates["plotly_white"].layout))
TEMPLATE.layout.update(LAYOUT)
TEMPLATE_DICT = TEMPLATE.to_plotly_json()  # what layout.template holds once TEMPLATE is assigned (do not mutate)


def styled(traces: list[dict], layout: dict | None = None, title: str | None = None, notes=(),
           height: int | None = None, extra_top: int = 0) -> go.Figure:
    """The figure of `traces` (dicts with "type") and `layout` (a dict) in the shared style: template,
    title, notes as subtitle (as apply_style), extra_top more pixels of top margin. Wrapped without
    validation: the dicts must hold what plotly would have stored (see the module docstring)."""
    layout = style_layout(layout if layout is not None else {}, title, notes, height)
    layout["margin"]["t"] += extra_top
    return go.Figure(data=traces, layout=layout, _validate=False)


def style_layout(layout: dict, title: str | None = None, notes=(), height: int | None = None) -> dict:
    """Template, title and notes (as subtitle), both wrapped to the layout's width (PAGE_WIDTH when it
    has none: rnnviz.figures.fit), the top margin they need, and height set in `layout`. Returns it."""
    notes = [n for n in notes if n]
    layout["template"] = TEMPLATE_DICT  # not copied here: go.Figure deep-copies its layout
    top = fit_title(layout, title, notes, layout.get("width") or PAGE_WIDTH, TITLE_SIZE, SUBTITLE_SIZE)
    layout.setdefault("margin", {})["t"] = top
    if height is not None:
        layout["height"] = height
    return layout


def apply_style(fig: go.Figure, title: str | None = None, notes=(), height: int | None = None) -> go.Figure:
    """The shared template, a title, and the notes (joined) as subtitle of a figure built with plotly's
    object API (the figures here use `styled`). Returns fig."""
    layout = style_layout({}, title, notes, height)
    del layout["template"]
    fig.update_layout(template=TEMPLATE, **layout)
    return fig


def merge(into: dict, *updates: dict) -> dict:
    """Merge nested dicts into `into` (what update_layout / update_xaxes do to a layout). Returns it."""
    for upd in updates:
        for k, v in upd.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            else:
                into[k] = copy.deepcopy(v) if isinstance(v, dict) else v
    return into


def plain(seq) -> list:
    """A list of plain python scalars (what plotly stores for a list of numpy scalars)."""
    return seq.tolist() if isinstance(seq, np.ndarray) else [v.item() if isinstance(v, np.generic) else v for v in seq]


@functools.lru_cache(maxsize=None)
def _colorscale(name: str) -> tuple:
    return tuple(tuple(p) for p in go.Heatmap(colorscale=name).to_plotly_json()["colorscale"])


def colorscale(name: str) -> list:
    """A named plotly colour scale ("Viridis", "RdBu_r") as the [[position, colour], ...] pairs plotly
    stores for it (asked of plotly once per name)."""
    return [list(p) for p in _colorscale(name)]


def colorbar(title: str, **extra) -> dict:
    """A colour bar with its title beside it, along the bar: on top (plotly's default) a title wider than
    the bar lies over the top tick's label."""
    return {"title": {"text": title, "side": "right"}, **extra}


@functools.lru_cache(maxsize=None)
def _rows_grid(rows: int, spacing: float) -> dict:
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=spacing,
                        subplot_titles=[str(r) for r in range(rows)])
    layout = fig.layout.to_plotly_json()
    return {k: v for k, v in layout.items() if k != "template"}


def rows_grid(rows: int, spacing: float, titles: list[str]) -> dict:
    """The layout of make_subplots(rows, 1, shared_xaxes=True, vertical_spacing, subplot_titles)
    (axes with their domains, title annotations), from plotly once per shape and cached. A fresh copy."""
    layout = copy.deepcopy(_rows_grid(rows, spacing))
    for a, text in zip(layout["annotations"], titles):
        a["text"] = text
    return layout


@functools.lru_cache(maxsize=None)
def _secondary_y_grid() -> dict:
    layout = make_subplots(specs=[[{"secondary_y": True}]]).layout.to_plotly_json()
    return {k: v for k, v in layout.items() if k != "template"}


def secondary_y_grid() -> dict:
    """The layout of make_subplots(specs=[[{"secondary_y": True}]]): axes y (left) and y2 (right). A copy."""
    return copy.deepcopy(_secondary_y_grid())


def empty_figure(message: str, title: str | None = None) -> go.Figure:
    """A blank figure that says why it is blank (no data yet, wrong kind of task, ...)."""
    layout = {"annotations": [{"font": {"color": "#555555", "size": FONT_SIZE + 2}, "showarrow": False,
                               "text": message, "x": 0.5, "xref": "paper", "y": 0.5, "yref": "paper"}],
              "xaxis": {"visible": False}, "yaxis": {"visible": False}}
    return styled([], layout, title, height=300)


def figure_text(fig: go.Figure) -> str:
    """Title, subtitle and annotations of a figure as one string (what the figure says in words)."""
    parts = [fig.layout.title.text or "", fig.layout.title.subtitle.text or ""]
    parts += [a.text or "" for a in fig.layout.annotations]
    return "\n".join(parts)


def show_token(tok) -> str:
    """A token as it should appear in a cell or tick: visible space, newline and tab; '' for None."""
    if tok is None:
        return ""
    s = str(tok)
    return s.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥") if s else "∅"


def color_name(color: str) -> str:
    """The plain word for one of the figures' colours ("red-orange" for WRONG); KeyError for others."""
    return COLOR_NAMES[color.upper()]


def fmt(v) -> str:
    """A number with enough digits to be exact for reading off (hover text)."""
    return "–" if v is None else f"{float(v):.6g}"


def layer_index(n_layers: int, layer: int) -> int:
    """Normalise a (possibly negative) layer index; raises IndexError like a list would."""
    if not -n_layers <= layer < n_layers:
        raise IndexError(f"layer {layer} out of range for {n_layers} layer(s)")
    return layer % n_layers


def layer_name(n_layers: int, li: int) -> str:
    return f"layer {li + 1} of {n_layers}" if n_layers > 1 else ""


def time_labels(labels, T: int) -> list[str]:
    """One readable label per time step (falls back to the step number where labels are missing)."""
    labels = list(labels) if labels is not None else []
    return [show_token(labels[t]) if t < len(labels) else str(t) for t in range(T)]


def time_axis(labels: list[str], max_ticks: int = 60) -> dict:
    """An x axis of positions 0..T-1 with the input tokens as tick text (tokens repeat, so positions are
    the x values): the dict to merge into the layout's x axis."""
    T = len(labels)
    every = max(1, int(np.ceil(T / max_ticks)))
    vals = list(range(0, T, every))
    size = FONT_SIZE if T <= 40 else max(10, int(FONT_SIZE * 40 / min(T, max_ticks)))
    return {"tickmode": "array", "tickvals": vals, "ticktext": [labels[v] for v in vals],
            "tickfont": {"size": size, "family": MONO_FAMILY}, "title": {"text": time_title(every)}}


def step_axis() -> dict:
    """An x axis of positions 0..T-1 numbered as time steps (plotly's own ticks), for inputs that are not
    tokens (the hover says them): the dict to merge into the layout's x axis."""
    return {"title": {"text": STEP_TITLE}}


def label_every(labels: list[str], max_chars: int = 72) -> int:
    """Label every k-th point of a scatter so that about max_chars characters of labels are drawn
    (labels written beside points overlap when there are many, or long ones); 1 = all."""
    if not labels:
        return 1
    width = max(len(lab) for lab in labels) + 1
    return max(1, int(np.ceil(len(labels) * width / max_chars)))


def even_indices(n: int, k: int) -> np.ndarray:
    """k evenly spaced indices into range(n), first and last included (all of them when n <= k)."""
    if n <= k:
        return np.arange(n)
    if k <= 1:
        return np.array([n - 1])
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


def epoch_gap_note(epochs, thinned: bool) -> str:
    """Say that a history was thinned, with the widest spacing between kept epochs.

    epochs: the kept epoch numbers of one run, or a list of such lists (several runs)."""
    if not thinned:
        return ""
    runs = epochs if epochs and isinstance(epochs[0], (list, tuple, np.ndarray)) else [epochs]
    gap = 1
    for e in runs:
        e = np.sort(np.asarray([x for x in e if x is not None], dtype=float))
        if len(e) > 1:
            gap = max(gap, int(np.max(np.diff(e))))
    return ("history thinned: older epochs shown only every " + ordinal(gap)) if gap > 1 \
        else "history thinned: some epochs not kept"


def log_ticks(values) -> dict:
    """Tick settings for a log axis of `values`: under two decades, ticks at 1, 2 and 5 of each decade
    labelled as plain numbers (plotly's own within a decade are 1, 1.2, 1.4, ..., which crowd at the
    decade's top, or single digits that read as 2 and 5 for 0.2 and 0.5); across more, plotly's own
    (decades). The dict to merge into the axis."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size or np.log10(v.max() / v.min()) >= 2:
        return {}
    lo, hi = int(np.floor(np.log10(v.min()))) - 1, int(np.ceil(np.log10(v.max()))) + 1
    vals = [float(f"{m}e{k}") for k in range(lo, hi + 1) for m in (1, 2, 5)]
    return {"tickmode": "array", "tickvals": vals, "ticktext": [f"{x:g}" for x in vals]}


def symmetric_range(z: np.ndarray, default: float = 1.0) -> tuple[float, float, str]:
    """[-default, default] when every finite value fits in it, else the true symmetric range + a note."""
    finite = np.asarray(z, dtype=float)[np.isfinite(z)] if np.size(z) else np.zeros(0)
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    if m <= default:
        return -default, default, ""
    return -m, m, f"colour range ±{m:.3g} (values exceed ±{default:g})"


def unit_range(z: np.ndarray) -> tuple[float, float, str]:
    """[0, 1] for sigmoid gates, widened to the true range (with a note) if anything falls outside."""
    finite = np.asarray(z, dtype=float)[np.isfinite(z)] if np.size(z) else np.zeros(0)
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    hi = max(1.0, float(finite.max())) if finite.size else 1.0
    note = "" if (lo, hi) == (0.0, 1.0) else f"colour range [{lo:.3g}, {hi:.3g}] (values outside [0, 1])"
    return lo, hi, note
