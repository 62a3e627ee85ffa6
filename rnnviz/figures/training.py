"""Figures of a run's progress: loss and accuracy curves, predictions per epoch, gradient clipping."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..recorder import EpochRecord
from .style import (HEADER, MONO_FAMILY, NO_TARGET, PALETTE, RIGHT, WRONG, empty_figure, epoch_gap_note,
                    even_indices, fmt, plain, secondary_y_grid, show_token, styled)

X_TITLES = {"epoch": "epoch", "step": "optimizer step", "seconds": "wall time (s)"}
# prediction table cell codes -> colours (a discrete colour scale on z in 0..3)
NONE_CODE, WRONG_CODE, RIGHT_CODE, HEADER_CODE = 0, 1, 2, 3
CODE_COLORS = {NONE_CODE: NO_TARGET, WRONG_CODE: WRONG, RIGHT_CODE: RIGHT, HEADER_CODE: HEADER}


def _curves(runs, fields, x, log_y, thinned, title, y_title, y_range=None) -> go.Figure:
    """Shared body of loss_figure / accuracy_figure: fields = [(attr, label, dash), ...]."""
    runs = {k: v for k, v in (runs or {}).items() if v}
    if not runs:
        return empty_figure("no epochs recorded yet", title)
    traces, dropped = [], 0
    for i, (name, recs) in enumerate(runs.items()):
        color = PALETTE[i % len(PALETTE)]
        for attr, label, dash in fields:
            pts = [(getattr(r, x), getattr(r, attr)) for r in recs if getattr(r, attr) is not None]
            if log_y:
                dropped += sum(1 for _, v in pts if not v > 0)
                pts = [(a, v) for a, v in pts if v > 0]
            if not pts:
                continue
            xs, ys = zip(*pts)
            traces.append({
                "type": "scatter", "x": plain(xs), "y": plain(ys), "name": f"{name} {label}", "legendgroup": name,
                "mode": "lines+markers" if len(pts) <= 40 else "lines",
                "line": {"color": color, "dash": dash, "width": 3}, "marker": {"size": 7},
                "hovertemplate": f"<b>{name} {label}</b><br>{X_TITLES.get(x, x)} %{{x}}<br>"
                                 f"{y_title} %{{y:.6g}}<extra></extra>"})
    yaxis = {"title": {"text": y_title}, "type": "log" if log_y else "linear", "exponentformat": "power"}
    if y_range is not None:
        yaxis["range"] = list(y_range)
    layout = {"xaxis": {"title": {"text": X_TITLES.get(x, x)}}, "yaxis": yaxis, "hovermode": "closest",
              "legend": {"orientation": "h", "y": -0.2}}
    notes = [epoch_gap_note([[r.epoch for r in recs] for recs in runs.values()], thinned),
             f"{dropped} value(s) ≤ 0 not drawn on the log axis" if dropped else "",
             "solid = training, dashed = validation"]
    return styled(traces, layout, title, notes)


def loss_figure(runs: dict[str, list[EpochRecord]], log_y: bool = False, thinned: bool = False,
                x: str = "epoch") -> go.Figure:
    """Training loss (solid) and validation loss (dashed, where measured) of each run, one colour per run.

    runs: {"lstm": records, "gru": records} or a single run; x: "epoch" | "step" | "seconds".
    thinned: the History dropped old records (History.thinned); the figure then says so.
    """
    return _curves(runs, [("loss", "train", "solid"), ("val_loss", "val", "dash")], x, log_y, thinned,
                   "Loss", "loss (mean over counted steps)")


def accuracy_figure(runs: dict[str, list[EpochRecord]], thinned: bool = False, x: str = "epoch") -> go.Figure:
    """Training (solid) and validation (dashed) accuracy per run: fraction of counted positions right."""
    return _curves(runs, [("train_acc", "train", "solid"), ("val_acc", "val", "dash")], x, False, thinned,
                   "Accuracy", "fraction right", y_range=[0, 1.02])


def prediction_table_figure(records: list[EpochRecord], max_rows: int = 15) -> go.Figure:
    """Epoch -> predicted tokens, one cell per token aligned under the target (first row).

    Cells: green = right, red = wrong, grey = no target at this position. One cell per character for
    character tasks and per word for word tasks (a cell is one token either way).
    """
    title = "Predictions per epoch"
    # rows are chosen before any prediction is read: reading one builds it from the probe's outputs, and
    # a long run has thousands of records of which max_rows are shown
    recs = [r for r in (records or []) if r.has_prediction]
    if not recs:
        return empty_figure("no predictions recorded yet", title)
    if recs[-1].prediction.get("kind") != "tokens":   # one task, one kind of prediction
        return empty_figure("this task predicts values, not tokens: see the sequence figure", title)
    n_total = len(recs)
    recs = [recs[i] for i in even_indices(n_total, max(1, max_rows))]
    last = recs[-1].prediction
    T = max(len(r.prediction["predicted"]) for r in recs)
    target = list(last["target"]) + [None] * (T - len(last["target"]))
    inputs = list(last.get("input", [])) + [None] * (T - len(last.get("input", [])))

    rows_z, rows_text, rows_hover, y = [], [], [], []
    rows_z.append([HEADER_CODE if t is not None else NONE_CODE for t in target])
    rows_text.append([show_token(t) for t in target])
    rows_hover.append([f"position {j}<br>input {show_token(inputs[j])!r}<br>target {show_token(target[j])!r}"
                       for j in range(T)])
    y.append("target")
    for r in recs:
        p = r.prediction
        pred = list(p["predicted"]) + [None] * (T - len(p["predicted"]))
        corr = list(p["correct"]) + [None] * (T - len(p["correct"]))
        z, hov = [], []
        for j in range(T):
            c = corr[j]
            z.append(NONE_CODE if c is None else RIGHT_CODE if c else WRONG_CODE)
            verdict = "no target" if c is None else "right" if c else f"wrong (target {show_token(target[j])!r})"
            hov.append(f"epoch {r.epoch}, position {j}<br>input {show_token(inputs[j])!r}<br>"
                       f"predicted {show_token(pred[j])!r}: {verdict}")
        rows_z.append(z)
        rows_text.append([show_token(t) for t in pred])
        rows_hover.append(hov)
        y.append(f"epoch {r.epoch}")

    k = 4  # number of codes
    scale = []
    for code in range(k):
        scale += [[code / k, CODE_COLORS[code]], [(code + 1) / k, CODE_COLORS[code]]]
    text_size = int(np.clip(900 / max(T, 1), 10, 22))
    heatmap = {"type": "heatmap", "z": rows_z, "text": rows_text, "customdata": rows_hover, "y": y,
               "x": list(range(T)), "texttemplate": "%{text}",
               "textfont": {"family": MONO_FAMILY, "size": text_size}, "colorscale": scale, "zmin": -0.5,
               "zmax": k - 0.5, "showscale": False, "xgap": 2, "ygap": 2,
               "hovertemplate": "%{customdata}<extra></extra>"}
    layout = {"yaxis": {"autorange": "reversed", "type": "category", "tickfont": {"family": MONO_FAMILY}},
              "xaxis": {"title": {"text": "position in the probe sequence"}, "showgrid": False, "zeroline": False}}
    acc = [np.mean([c for c in r.prediction["correct"] if c is not None] or [np.nan]) for r in recs]
    notes = ["green = right, red = wrong, grey = no target"]
    if n_total > len(recs):
        notes.append(f"showing {len(recs)} of {n_total} recorded epochs (evenly spaced, first and last included)")
    if np.isfinite(acc[-1]):
        notes.append(f"epoch {recs[-1].epoch}: {acc[-1]:.0%} of the probe's targets right")
    return styled([heatmap], layout, title, notes, height=130 + 38 * len(y))


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
    layout = {"barmode": "stack", "bargap": 0.15, "legend": {"orientation": "h", "y": -0.25, "traceorder": "normal"},
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
    layout["yaxis"].update(title={"text": "global gradient norm (before clipping)"}, type="log",
                           exponentformat="power")
    layout["yaxis2"].update(title={"text": "fraction of steps clipped"}, range=[0, 1], tickmode="linear", tick0=0,
                            dtick=0.25, showgrid=False)
    layout["xaxis"]["title"] = {"text": "epoch"}
    layout["legend"] = {"orientation": "h", "y": -0.2}
    zeros = len(recs) - len(pos)
    notes = [epoch_gap_note(ep, thinned), "norm = mean over the epoch's steps",
             f"{zeros} epoch(s) with norm 0 not drawn (log axis)" if zeros else ""]
    return styled(traces, layout, title, notes)
