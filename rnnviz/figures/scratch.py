"""Figures of the NumPy engine against PyTorch: gradient-check errors and how far two loss histories
drift apart. Pure functions (no streamlit); every bar and point is the number passed in or measured
from the records passed in.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..config import counted
from ..recorder import EpochRecord
from .style import MONO_FAMILY, PALETTE, RIGHT, WRONG, empty_figure, epoch_gap_note, styled

X_TITLES = {"epoch": "epoch", "step": "optimizer step"}


def gradcheck_figure(errors: dict[str, float], tol: float, title: str = "Gradient check",
                     axis_title: str = "parameter", horizontal: bool = True) -> go.Figure:
    """One bar per entry (a parameter, or a time step of dL/dh_t) on a log axis: its max relative error
    between the analytic gradient and central finite differences. Green at or below `tol`, red above;
    the tolerance is a dashed line (named in the notes: a label at the line would cover the notes
    or the bars). The bar lengths are the errors passed in, unchanged; an error of
    exactly 0 has no place on a log axis and the figure says so. horizontal: names on the y axis
    (readable for long parameter names); else on the x axis (time steps)."""
    if not errors:
        return empty_figure("nothing checked", title)
    names = list(errors)
    values = [float(errors[n]) for n in names]
    ok = [v <= tol for v in values]          # nan counts as failed
    bar = {"type": "bar", "marker": {"color": [RIGHT if good else WRONG for good in ok]},
           "customdata": ["ok" if good else "WRONG" for good in ok]}
    err_axis, name_axis = ("xaxis", "yaxis") if horizontal else ("yaxis", "xaxis")
    line = {"color": "#222222", "dash": "dash", "width": 2}
    if horizontal:  # the tolerance as fig.add_vline(x=tol) would draw it
        bar.update(y=names, x=values, orientation="h",
                   hovertemplate="<b>%{y}</b><br>max relative error %{x:.3e}<br>%{customdata}<extra></extra>")
        shape = {"x0": tol, "x1": tol, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"}
    else:           # ... and as fig.add_hline(y=tol)
        bar.update(x=names, y=values,
                   hovertemplate="<b>%{x}</b><br>max relative error %{y:.3e}<br>%{customdata}<extra></extra>")
        shape = {"x0": 0, "x1": 1, "xref": "x domain", "y0": tol, "y1": tol, "yref": "y"}
    finite = [v for v in values if v > 0 and math.isfinite(v)]    # the axis always shows 1 and the tolerance
    lo, hi = min(finite + [tol]) / 30, max(finite + [1.0]) * 3
    layout = {"shapes": [{"type": "line", "line": line, **shape}],
              err_axis: {"type": "log", "exponentformat": "power", "title": {"text": "max relative error"},
                         "range": [math.log10(lo), math.log10(hi)]},
              name_axis: {"title": {"text": axis_title}, "tickfont": {"family": MONO_FAMILY}}}
    if horizontal:
        layout["yaxis"]["autorange"] = "reversed"
    failed = sum(not g for g in ok)
    zeros = sum(v == 0 for v in values)
    notes = [f"dashed line: the tolerance, {tol:.0e}",
             f"{len(values) - failed} of {len(values)} below the tolerance" if not failed
             else f"{failed} of {len(values)} above the tolerance: the backward pass is wrong there",
             f"{counted(zeros, 'exact zero')} not drawn on the log axis" if zeros else ""]
    return styled([bar], layout, title, notes, height=max(300, 140 + 34 * len(names)) if horizontal else 380)


def relative_differences(a: list[EpochRecord], b: list[EpochRecord]) -> tuple[list[int], list[float]]:
    """(epochs, |loss_a - loss_b| / |loss_b|) at every epoch (or step) recorded in both histories."""
    theirs = {r.epoch: r.loss for r in b}
    epochs, rel = [], []
    for r in a:
        if r.epoch in theirs:
            other = theirs[r.epoch]
            epochs.append(r.epoch)
            rel.append(abs(r.loss - other) / abs(other) if other else (0.0 if r.loss == other else math.inf))
    return epochs, rel


def max_relative_difference(a: list[EpochRecord], b: list[EpochRecord]) -> float | None:
    """The largest relative difference of the two loss histories so far (None: nothing in common yet;
    nan when a loss is not finite)."""
    _, rel = relative_differences(a, b)
    if not rel:
        return None
    arr = np.asarray(rel, dtype=float)
    return float("nan") if np.isnan(arr).any() else float(arr.max())


def loss_difference_figure(a: list[EpochRecord], b: list[EpochRecord], names: tuple[str, str] = ("numpy", "torch"),
                           x: str = "epoch", thinned: bool = False) -> go.Figure:
    """|loss_a - loss_b| / |loss_b| per recorded epoch on a log axis: how far the two engines drift apart.
    Exact zeros (the same float) are not drawn on the log axis; the figure says how many there were."""
    title = f"Relative difference of the loss: {names[0]} vs {names[1]}"
    epochs, rel = relative_differences(a or [], b or [])
    if not epochs:
        return empty_figure("no epoch recorded by both runs yet", title)
    arr = np.asarray(rel, dtype=float)
    keep = np.isfinite(arr) & (arr > 0)
    line = {"type": "scatter", "x": np.asarray(epochs)[keep], "y": arr[keep],
            "mode": "lines+markers" if keep.sum() <= 60 else "lines", "line": {"color": PALETTE[0], "width": 3},
            "marker": {"size": 7}, "name": "relative difference",
            "hovertemplate": f"{X_TITLES.get(x, x)} %{{x}}<br>relative difference %{{y:.3e}}<extra></extra>"}
    drawn = arr[keep]
    lo, hi = (math.floor(math.log10(drawn.min())), math.ceil(math.log10(drawn.max()))) if drawn.size else (-17, -15)
    layout = {"yaxis": {"type": "log", "exponentformat": "power", "title": {"text": "|Δ loss| / loss (log scale)"},
                        "dtick": 1,  # whole decades: no crowded minor labels
                        "range": [lo - 0.2, max(hi, lo + 2) + 0.2]},
              "xaxis": {"title": {"text": X_TITLES.get(x, x)}}}
    zeros, bad = int((arr == 0).sum()), int((~np.isfinite(arr)).sum())
    notes = [f"max {np.nanmax(arr):.3g}" if np.isfinite(arr).any() else "",
             f"{counted(zeros, 'epoch')} with identical losses (0) not drawn" if zeros else "",
             f"{counted(bad, 'non-finite value')} not drawn" if bad else "",
             epoch_gap_note([[e for e in epochs]], thinned)]
    return styled([line], layout, title, notes, height=340)
