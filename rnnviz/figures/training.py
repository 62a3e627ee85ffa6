"""Figures of a run's progress: loss and accuracy curves, predictions per epoch, gradient clipping."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..config import counted
from ..recorder import EpochRecord
from .fit import legend_below
from .style import (MONO_FAMILY, NO_TARGET, PALETTE, color_name, empty_figure, epoch_gap_note, fmt, log_ticks, plain,
                    secondary_y_grid, show_token, styled)
from .tables import CODE_COLORS, TITLE, prediction_table

X_TITLES = {"epoch": "epoch", "step": "optimizer step", "seconds": "wall time (s)"}


DOTTED = {"solid": "dot", "dash": "dashdot"}   # a dotted run's training and validation curves


def _curves(runs, fields, x, log_y, thinned, title, y_title, y_range=None, dotted=()) -> go.Figure:
    """Shared body of loss_figure / accuracy_figure: fields = [(attr, label, dash), ...]."""
    runs = {k: v for k, v in (runs or {}).items() if v}
    if not runs:
        return empty_figure("no epochs recorded yet", title)
    traces, dropped, drawn = [], 0, set()      # drawn: the labels (train, val) with points
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(runs)}
    for name in sorted(runs, key=lambda n: n in dotted):       # the dotted runs on top
        recs, color = runs[name], colors[name]
        for attr, label, dash in fields:
            dash = DOTTED[dash] if name in dotted else dash
            pts = [(getattr(r, x), getattr(r, attr)) for r in recs if getattr(r, attr) is not None]
            if log_y:
                dropped += sum(1 for _, v in pts if not v > 0)
                pts = [(a, v) for a, v in pts if v > 0]
            if not pts:
                continue
            drawn.add(label)
            xs, ys = zip(*pts)
            traces.append({
                "type": "scatter", "x": plain(xs), "y": plain(ys), "name": f"{name} {label}", "legendgroup": name,
                "mode": "lines+markers" if len(pts) <= 40 else "lines",
                "line": {"color": color, "dash": dash, "width": 3}, "marker": {"size": 7},
                "hovertemplate": f"<b>{name} {label}</b><br>{X_TITLES.get(x, x)} %{{x}}<br>"
                                 f"{y_title} %{{y:.6g}}<extra></extra>"})
    yaxis = {"title": {"text": y_title}, "type": "log" if log_y else "linear", "exponentformat": "power",
             **(log_ticks(y for t in traces for y in t["y"]) if log_y else {})}
    if y_range is not None:
        yaxis["range"] = list(y_range)
    layout = {"xaxis": {"title": {"text": X_TITLES.get(x, x)}}, "yaxis": yaxis, "hovermode": "closest",
              "legend": legend_below()}
    notes = [epoch_gap_note([[r.epoch for r in recs] for recs in runs.values()], thinned),
             f"{counted(dropped, 'value')} ≤ 0 not drawn on the log axis" if dropped else "",
             # the line styles are said only where both are drawn (hihell has no validation data)
             "solid = training, dashed = validation" if {"train", "val"} <= drawn else ""]
    if any(n in dotted for n in runs):      # short: a subtitle is one line
        dots = ", ".join(f"{n} ({color_name(colors[n])})" for n in runs if n in dotted)
        notes.append(f"{dots}: dotted / dash-dot, on top")
    return styled(traces, layout, title, notes)


def loss_figure(runs: dict[str, list[EpochRecord]], log_y: bool = False, thinned: bool = False,
                x: str = "epoch", dotted: tuple[str, ...] = (), loss_name: str = "loss") -> go.Figure:
    """Training loss (solid) and validation loss (dashed, where measured) of each run, one colour per run.

    runs: {"lstm": records, "gru": records} or a single run; x: "epoch" | "step" | "seconds".
    thinned: the History dropped old records (History.thinned); the figure then says so.
    dotted: runs drawn dotted (training) and dash-dot (validation), so that a run whose curve
    coincides with another's still shows (later runs are drawn on top).
    loss_name: what the loss is (tasks.base.LOSS_NAMES: cross-entropy, MSE), on the y axis.
    """
    return _curves(runs, [("loss", "train", "solid"), ("val_loss", "val", "dash")], x, log_y, thinned,
                   "Loss", f"{loss_name} (mean over counted steps)", dotted=dotted)


def accuracy_figure(runs: dict[str, list[EpochRecord]], thinned: bool = False, x: str = "epoch",
                    dotted: tuple[str, ...] = ()) -> go.Figure:
    """Training (solid) and validation (dashed) accuracy per run: fraction of counted positions right.
    dotted: as loss_figure."""
    return _curves(runs, [("train_acc", "train", "solid"), ("val_acc", "val", "dash")], x, False, thinned,
                   "Accuracy", "fraction right", y_range=[0, 1.02], dotted=dotted)


def prediction_table_figure(records: list[EpochRecord], max_rows: int = 15) -> go.Figure:
    """The prediction table (tables.prediction_table) as a heatmap: RIGHT = right, WRONG = wrong, NO_TARGET
    = not scored at this position, the target in the first row. The app shows tables.prediction_table_html,
    which a browser draws far faster; this one is for notebooks and exported figures."""
    t = prediction_table(records, max_rows)
    if t.empty:
        return empty_figure(t.empty, TITLE)
    k = len(CODE_COLORS)
    scale = []
    for code in range(k):
        scale += [[code / k, CODE_COLORS[code]], [(code + 1) / k, CODE_COLORS[code]]]
    T = len(t.rows[0].texts)
    text_size = int(np.clip(900 / max(T, 1), 10, 22))
    heatmap = {"type": "heatmap", "z": [r.codes for r in t.rows], "text": [r.texts for r in t.rows],
               "customdata": [["<br>".join(h) for h in r.hovers] for r in t.rows], "y": [r.label for r in t.rows],
               "x": list(range(T)), "texttemplate": "%{text}",
               "textfont": {"family": MONO_FAMILY, "size": text_size}, "colorscale": scale, "zmin": -0.5,
               "zmax": k - 0.5, "showscale": False, "xgap": 2, "ygap": 2,
               "hovertemplate": "%{customdata}<extra></extra>"}
    layout = {"yaxis": {"autorange": "reversed", "type": "category", "tickfont": {"family": MONO_FAMILY}},
              "xaxis": {"title": {"text": "position in the probe sequence"}, "showgrid": False, "zeroline": False}}
    return styled([heatmap], layout, TITLE, t.notes, height=130 + 38 * len(t.rows))


def topk_figure(prediction: dict | None) -> go.Figure:
    """Top-k predicted probabilities at each position of one epoch's probe (stacked bars).

    x: position, labelled 'input → target'; each bar segment is one of the k most likely tokens (its
    token written inside); the grey top segment is all other tokens together (1 - sum of the top k).
    The segment whose token is the target has a thick black outline.
    """
    title = "Top-k predicted probabilities"
    if not prediction or prediction.get("kind") != "tokens" or not prediction.get("topk"):
        return empty_figure("no token predictions to show", title)
    topk, target, inputs = prediction["topk"], prediction["target"], prediction.get("input", [])
    T, k = len(topk), max(len(s) for s in topk)
    target = list(target or []) + [None] * (T - len(target or []))
    has_target = any(t is not None for t in target)  # free text (no targets): ticks are the inputs only
    ticks = [f"{show_token(inputs[t]) if t < len(inputs) else t}" + (
             f"→{show_token(target[t]) if target[t] is not None else '·'}" if has_target else "") for t in range(T)]
    traces = [_rank_bars(rank, topk, target, ticks) for rank in range(k)]
    traces += [{"type": "bar", "x": [None], "y": [None], "name": f"rank {rank + 1}", "showlegend": True,
                "marker": {"color": _blue(rank)}} for rank in range(k)]   # legend entries only
    if has_target:
        traces.append({"type": "bar", "x": [None], "y": [None], "name": "target token",
                       "marker": {"color": "white", "line": {"color": "black", "width": 4}}})
    rest = [max(0.0, 1.0 - sum(p for _, p in s)) for s in topk]
    traces.append({"type": "bar", "x": list(range(T)), "y": plain(rest), "name": "all other tokens",
                   "marker": {"color": NO_TARGET}, "customdata": [[ticks[t], fmt(rest[t])] for t in range(T)],
                   "hovertemplate": "position %{x}: %{customdata[0]}<br>all other tokens: "
                                    "p = %{customdata[1]}<extra></extra>"})
    every = max(1, int(np.ceil(T / 40)))
    layout = {"barmode": "stack", "bargap": 0.15, "legend": legend_below(traceorder="normal"),
              "xaxis": {"tickmode": "array", "tickvals": list(range(0, T, every)), "ticktext": ticks[::every],
                        "tickfont": {"family": MONO_FAMILY},
                        "title": {"text": "position: input → target" if has_target else "position: input token"}},
              "yaxis": {"title": {"text": "probability"}, "range": [0, 1]}}
    notes = [f"top {k} next tokens per position" + ("; black outline = the target token" if has_target else "")]
    if every > 1:
        notes.append(f"every {every}th position labelled")
    return styled(traces, layout, title, notes)


BLUES = ["#0072B2", "#56B4E9", "#A6D4F2", "#CFE7F7", "#E6F2FA"]


def _blue(rank: int) -> str:
    return BLUES[min(rank, len(BLUES) - 1)]


def _rank_bars(rank: int, topk: list, target: list, ticks: list[str]) -> dict:
    """The bar segments of the rank-th most likely token at every position; the target's outlined."""
    T = len(topk)
    toks = [s[rank][0] if rank < len(s) else None for s in topk]
    ps = plain([s[rank][1] if rank < len(s) else 0.0 for s in topk])
    is_tgt = [tok is not None and tok == target[t] for t, tok in enumerate(toks)]
    return {"type": "bar", "x": list(range(T)), "y": ps, "name": f"rank {rank + 1}",
            "text": [show_token(t) for t in toks], "textposition": "inside", "insidetextanchor": "middle",
            "textfont": {"family": MONO_FAMILY},
            "marker": {"color": _blue(rank), "line": {"color": ["black" if g else "white" for g in is_tgt],
                                                      "width": [4 if g else 1 for g in is_tgt]}},
            "customdata": [[ticks[t], show_token(toks[t]), fmt(ps[t])] for t in range(T)], "showlegend": False,
            "hovertemplate": "position %{x}: %{customdata[0]}<br>rank " + str(rank + 1)
                             + ": '%{customdata[1]}' p = %{customdata[2]}<extra></extra>"}


def grad_norm_clip_figure(records: list[EpochRecord], thinned: bool = False, clip: float | None = None) -> go.Figure:
    """Global gradient norm before clipping (mean over each epoch's steps, log y) and the fraction of
    the epoch's steps that were clipped (bars, right axis). clip: draw the clipping threshold."""
    title = "Gradient norm and clipping"
    recs = list(records or [])
    if not recs:
        return empty_figure("no epochs recorded yet", title)
    ep = [r.epoch for r in recs]
    traces = [{"type": "bar", "x": plain(ep), "y": plain([r.clipped for r in recs]),
               "name": "fraction of steps clipped",
               "marker": {"color": PALETTE[1]}, "opacity": 0.45,
               "hovertemplate": "epoch %{x}<br>clipped %{y:.4g} of steps<extra></extra>", "xaxis": "x", "yaxis": "y2"}]
    pos = [(r.epoch, r.grad_norm) for r in recs if r.grad_norm > 0]
    if pos:
        traces.append({"type": "scatter", "x": plain([a for a, _ in pos]), "y": plain([b for _, b in pos]),
                       "name": "gradient norm", "mode": "lines+markers" if len(pos) <= 40 else "lines",
                       "line": {"color": PALETTE[0], "width": 3},
                       "hovertemplate": "epoch %{x}<br>‖g‖ = %{y:.6g}<extra></extra>", "xaxis": "x", "yaxis": "y"})
    if clip:  # a trace, not a shape: shape/annotation coordinates on log axes are log10 units
        traces.append({"type": "scatter", "x": plain([ep[0], ep[-1]]), "y": plain([clip, clip]), "mode": "lines",
                       "name": f"clip threshold = {clip:g}", "line": {"color": "black", "dash": "dot", "width": 2},
                       "hoverinfo": "skip", "xaxis": "x", "yaxis": "y"})
    layout = secondary_y_grid()
    # two short lines: one long title is taller than a short plot and runs into the subtitle
    layout["yaxis"].update(title={"text": "gradient norm ‖g‖<br>before clipping"}, type="log",
                           exponentformat="power", **log_ticks([b for _, b in pos] + [clip]))
    layout["yaxis2"].update(title={"text": "fraction of steps<br>clipped"}, range=[0, 1], tickmode="linear", tick0=0,
                            dtick=0.25, showgrid=False)
    layout["xaxis"]["title"] = {"text": "epoch"}
    layout["legend"] = legend_below()
    zeros = len(recs) - len(pos)
    notes = [epoch_gap_note(ep, thinned), "norm = mean over the epoch's steps",
             f"{zeros} epoch(s) with norm 0 not drawn (log axis)" if zeros else ""]
    return styled(traces, layout, title, notes)
