"""Figures of a sweep: a metric against one setting (lag), one line per another (cell), the runs that
differ only in the others (seeds) drawn as one point with its spread; and the same as a heatmap.

Input: the results table's rows (dicts, as in results.json or sweep_out.Row.as_dict()). Only finished
runs with a measured value are drawn; the figure says how many runs each point is and what was left out.
"""
from __future__ import annotations

import math
from collections import defaultdict

import plotly.graph_objects as go

from ..config import counted
from ..sweep import status_counts
from .fit import legend_below
from .style import PALETTE, SEQUENTIAL, colorbar, colorscale, empty_figure, styled

LABELS = {"val_acc": "validation accuracy", "val_loss": "validation loss",
          "grad_ratio": "‖∂L/∂h_0‖ / ‖∂L/∂h_T‖"}
LOG = {"grad_ratio"}   # spans orders of magnitude: log axis, geometric mean
META = {"index", "name", "status", "val_acc", "val_loss", "grad_ratio", "epochs_done", "steps_done",
        "seconds", "error"}
def _key(v):
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))


def aggregate(rows: list[dict], metric: str, by: tuple[str, ...]) -> tuple[dict, dict]:
    """{(values of `by`): {"n", "mean", "low", "high", "values"}} over the runs that share them, and
    what was left out: {"unfinished": the rows of runs not finished (stopped, failed, diverged, not run),
    "missing": finished without a value, "zero": ...}."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    left = {"unfinished": [], "missing": 0, "zero": 0}
    for r in rows:
        v = r.get(metric)
        if r.get("status") != "finished":
            left["unfinished"].append(r)
        elif v is None or not math.isfinite(v):
            left["missing"] += 1
        elif metric in LOG and v <= 0:
            left["zero"] += 1
        else:
            groups[tuple(r.get(k) for k in by)].append(float(v))
    out = {}
    for k, vals in groups.items():
        if metric in LOG:
            mean = math.exp(sum(math.log(v) for v in vals) / len(vals))
        else:
            mean = sum(vals) / len(vals)
        out[k] = {"n": len(vals), "mean": mean, "low": min(vals), "high": max(vals), "values": vals}
    return out, left


def _notes(rows: list[dict], groups: dict, left: dict, metric: str, shown: tuple[str, ...]) -> list[str]:
    settings = [k for k in (rows[0] if rows else {}) if k not in META]
    pooled = [k for k in settings if k not in shown and len({repr(r.get(k)) for r in rows}) > 1]
    ns = sorted({g["n"] for g in groups.values()})
    count = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]} to {ns[-1]}"
    over = f" ({', '.join(pooled)})" if pooled else ""
    how = "geometric mean" if metric in LOG else "mean"
    notes = [f"each point: {how} of {count} run{'s' if ns[-1] > 1 else ''}{over}; bars: lowest to highest"]
    if left["unfinished"]:
        notes.append(f"not finished, so not drawn: {status_counts(left['unfinished'])}")
    if left["missing"]:
        notes.append(f"{counted(left['missing'], 'run')} without a {metric}: not drawn")
    if left["zero"]:
        notes.append(f"{counted(left['zero'], 'run')} with {metric} = 0: not drawn on the log axis")
    return notes


def sweep_figure(rows: list[dict], metric: str = "val_acc", x: str = "lag", line: str = "cell",
                 chance: float | None = None) -> go.Figure:
    """`metric` against setting `x`, one line per value of setting `line`; the runs that share both
    (different seeds) are one point: their mean, with bars from the lowest to the highest.
    chance: a dashed line at the accuracy of guessing (e.g. 1 / n_symbols)."""
    label = LABELS.get(metric, metric)
    title = f"{label} against {x}"
    groups, left = aggregate(rows, metric, (line, x))
    if not groups:
        return empty_figure(f"no finished run with a {metric} yet", title)
    # one colour per value of `line` in the grid's order, over every row (finished or not): a line keeps
    # its colour while the sweep fills in, and rnn, lstm, gru have the colours of the other lessons
    order = list(dict.fromkeys(r.get(line) for r in rows))
    lines = [lv for lv in order if any(k[0] == lv for k in groups)]
    xs = sorted({k[1] for k in groups}, key=_key)
    traces = []
    for lv in lines:
        pts = [(xv, groups[(lv, xv)]) for xv in xs if (lv, xv) in groups]
        color = PALETTE[order.index(lv) % len(PALETTE)]
        traces.append({
            "type": "scatter", "mode": "lines+markers", "name": f"{line}={lv}",
            "x": [str(xv) for xv, _ in pts], "y": [g["mean"] for _, g in pts],
            "error_y": {"type": "data", "symmetric": False, "array": [g["high"] - g["mean"] for _, g in pts],
                        "arrayminus": [g["mean"] - g["low"] for _, g in pts], "color": color, "thickness": 2,
                        "width": 6},
            "line": {"color": color, "width": 3}, "marker": {"size": 9, "color": color},
            "customdata": [[counted(g["n"], "run"), g["low"], g["high"]] for _, g in pts],
            "hovertemplate": f"<b>{line}={lv}</b><br>{x} = %{{x}}<br>{metric} = %{{y:.4g}}<br>"
                             "lowest %{customdata[1]:.4g}, highest %{customdata[2]:.4g}<br>%{customdata[0]}"
                             "<extra></extra>"})
    layout = {"xaxis": {"title": {"text": x}, "type": "category", "categoryorder": "array",
                        "categoryarray": [str(v) for v in xs]},
              "yaxis": {"title": {"text": label + (" (log scale)" if metric in LOG else "")}},
              "legend": legend_below(), "hovermode": "closest"}
    if metric in LOG:
        layout["yaxis"].update(type="log", exponentformat="power")
    if chance is not None:
        layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": chance, "y1": chance,
                             "line": {"dash": "dash", "color": "#777777", "width": 2}}]
        # under the line at the left: the short lags sit high above chance; the long ones end on it at the right
        layout["annotations"] = [{"text": f"chance {chance:.3g}", "xref": "paper", "x": 0, "xanchor": "left",
                                  "y": chance, "yanchor": "top", "showarrow": False,
                                  "font": {"color": "#555555"}}]
    return styled(traces, layout, title, _notes(rows, groups, left, metric, (line, x)))


def sweep_heatmap(rows: list[dict], metric: str = "val_acc", x: str = "lag", y: str = "cell") -> go.Figure:
    """The same means as a grid of cells: `x` across, `y` down; each cell says its value and its runs."""
    label = LABELS.get(metric, metric)
    title = f"{label}: {y} by {x}"
    groups, left = aggregate(rows, metric, (y, x))
    if not groups:
        return empty_figure(f"no finished run with a {metric} yet", title)
    ys = sorted({k[0] for k in groups}, key=_key)
    xs = sorted({k[1] for k in groups}, key=_key)
    cell = [[groups.get((yv, xv)) for xv in xs] for yv in ys]
    z = [[(math.log10(g["mean"]) if metric in LOG else g["mean"]) if g else None for g in row] for row in cell]
    text = [[f"{g['mean']:.3g}<br>({g['n']})" if g else "" for g in row] for row in cell]
    trace = {"type": "heatmap", "x": [str(v) for v in xs], "y": [str(v) for v in ys], "z": z, "text": text,
             "texttemplate": "%{text}", "colorscale": colorscale(SEQUENTIAL),
             "colorbar": colorbar(f"log10 {metric}" if metric in LOG else metric),
             "hovertemplate": f"{y} = %{{y}}<br>{x} = %{{x}}<br>{metric} %{{text}}<extra></extra>"}
    layout = {"xaxis": {"title": {"text": x}, "type": "category"},
              "yaxis": {"title": {"text": y}, "type": "category", "autorange": "reversed"}}
    notes = _notes(rows, groups, left, metric, (y, x))
    notes[0] = notes[0].replace("each point", "each cell").replace("; bars: lowest to highest", "; (runs) in brackets")
    return styled([trace], layout, title, notes)
