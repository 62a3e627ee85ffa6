"""One look for every figure: a projector-friendly template, colour-blind-safe colours, small helpers.

Every figure module builds its figure and ends with `apply_style(fig, title, notes)`. Notes (what was
projected, thinned, dropped or left out) go in the subtitle, so the figure itself says what it shows.
"""
from __future__ import annotations

import copy

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

FONT_SIZE = 16
FONT_FAMILY = "Open Sans, Helvetica, Arial, sans-serif"
MONO_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, Courier New, monospace"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
RIGHT = "#009E73"      # bluish green
WRONG = "#D55E00"      # vermillion
NO_TARGET = "#DDDDDD"  # light grey
HEADER = "#4D4D4D"     # dark grey (the target row of the prediction table)
DIVERGING = "RdBu_r"   # blue negative, white 0, red positive
SEQUENTIAL = "Viridis"
NOTE_SEP = "  ·  "

LAYOUT = dict(
    font=dict(size=FONT_SIZE, family=FONT_FAMILY, color="#222222"),
    title=dict(font=dict(size=FONT_SIZE + 6), x=0.02, xanchor="left",
               subtitle=dict(font=dict(size=FONT_SIZE - 1, color="#555555"))),
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


def apply_style(fig: go.Figure, title: str | None = None, notes=(), height: int | None = None) -> go.Figure:
    """The shared template, a title, and the notes (joined) as subtitle. Returns fig."""
    notes = [n for n in notes if n]
    fig.update_layout(template=TEMPLATE)
    if title is not None:
        fig.update_layout(title_text=title)
    if notes:
        fig.update_layout(title_subtitle_text=NOTE_SEP.join(notes))
    top = 70 + (30 * (1 + sum(len(n) // 110 for n in notes)) if notes else 0)
    fig.update_layout(margin_t=top if title is not None or notes else 30)
    if height is not None:
        fig.update_layout(height=height)
    return fig


def empty_figure(message: str, title: str | None = None) -> go.Figure:
    """A blank figure that says why it is blank (no data yet, wrong kind of task, ...)."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=FONT_SIZE + 2, color="#555555"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return apply_style(fig, title, height=300)


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


def time_axis(fig: go.Figure, labels: list[str], max_ticks: int = 60, **axis_kw) -> None:
    """x = positions 0..T-1, tick text = input tokens (tokens repeat, so positions are the x values)."""
    T = len(labels)
    every = max(1, int(np.ceil(T / max_ticks)))
    vals = list(range(0, T, every))
    size = FONT_SIZE if T <= 40 else max(10, int(FONT_SIZE * 40 / min(T, max_ticks)))
    title = "time step t (input token)" + (f", every {every}th labelled" if every > 1 else "")
    fig.update_xaxes(tickmode="array", tickvals=vals, ticktext=[labels[v] for v in vals],
                     tickfont=dict(size=size, family=MONO_FAMILY), title_text=title, **axis_kw)


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
    return ("history thinned: older epochs shown only every " + _ordinal(gap)) if gap > 1 \
        else "history thinned: some epochs not kept"


def _ordinal(n: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(n, f"{n}th")


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
