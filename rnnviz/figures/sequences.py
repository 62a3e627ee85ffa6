"""Figures of value sequences (regression tasks such as the sine wave) and of sampling distributions."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .fit import legend_below
from .style import MONO_FAMILY, PALETTE, SEQUENTIAL, colorbar, colorscale, empty_figure, fmt, show_token, styled


def sine_figure(prediction: dict | None, free_running: list[float] | None = None, x=None,
                name: str | None = None) -> go.Figure:
    """Input, target and the teacher-forced prediction of a "values" describe() dict, and optionally a
    free-running continuation (each prediction fed back as the next input) drawn after it, dotted.

    x: the positions of the probe's steps (default 0..T-1); the continuation continues its spacing.
    name: the run's, first in the title (clear of the tool bar plotly shows at the top right).
    """
    title = f"{name}: sequence prediction" if name else "Sequence prediction"
    if not prediction or prediction.get("kind") != "values":
        return empty_figure("no value prediction to show (this figure is for regression tasks)", title)
    inp = np.asarray(prediction.get("input", []), float)
    tgt = np.asarray(prediction.get("target", []), float)
    pred = np.asarray(prediction.get("predicted", []), float)
    T = max(len(inp), len(tgt), len(pred))
    xs = np.arange(T, dtype=float) if x is None else np.asarray(x, float)[:T]
    series = [("input", inp, {"color": "#999999", "width": 2}, "lines"),
              ("target", tgt, {"color": "black", "width": 3, "dash": "dash"}, "lines"),
              ("prediction (teacher-forced)", pred, {"color": PALETTE[0], "width": 3}, "lines+markers")]
    traces = [{"type": "scatter", "x": xs[:len(y)], "y": y, "name": name, "mode": mode if T <= 120 else "lines",
               "line": line, "marker": {"size": 6},
               "hovertemplate": f"{name}<br>x = %{{x:.6g}}<br>value = %{{y:.6g}}<extra></extra>"}
              for name, y, line, mode in series if len(y)]
    layout = {"xaxis": {"title": {"text": "time step" if x is None else "x"}}, "yaxis": {"title": {"text": "value"}},
              "legend": legend_below(), "hovermode": "x unified"}
    notes = []
    if prediction.get("mse") is not None:
        # the probe window's own MSE, from h = 0: not the validation MSE (the mean over the task's validation windows)
        # (no-break spaces: a narrow chart wraps the note after its value, not inside "h = 0")
        notes.append(f"MSE on this window = {fmt(prediction['mse'])} (teacher-forced, from h\u00a0=\u00a00)")
    if free_running is not None and len(free_running) and T:
        fr = np.asarray(free_running, float)
        step = float(xs[-1] - xs[-2]) if T > 1 else 1.0
        xf = xs[-1] + step * np.arange(1, len(fr) + 1)
        # start the dotted line at the last teacher-forced prediction so the two parts join visibly
        x0, y0 = ([xs[len(pred) - 1]], [pred[-1]]) if len(pred) else ([], [])
        traces.append({"type": "scatter", "x": np.concatenate([x0, xf]), "y": np.concatenate([y0, fr]),
                       "name": "free running (prediction fed back)", "mode": "lines+markers",
                       "line": {"color": PALETTE[1], "width": 3, "dash": "dot"}, "marker": {"size": 6},
                       "hovertemplate": "free running<br>x = %{x:.6g}<br>value = %{y:.6g}<extra></extra>"})
        # what fig.add_vline(x=xs[-1], line_dash="dot", line_color="#666666") and the annotation add
        layout["shapes"] = [{"type": "line", "line": {"color": "#666666", "dash": "dot"}, "x0": xs[-1], "x1": xs[-1],
                             "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"}]
        layout["annotations"] = [{"x": xs[-1], "y": 1.0, "yref": "paper", "text": " free running →",
                                  "showarrow": False, "xanchor": "left", "yanchor": "top",
                                  "font": {"color": PALETTE[1]}}]
        notes.append(f"{len(fr)} free-running steps after the window")
    return styled(traces, layout, title, notes)


def char_probs_figure(probs: list[dict], chosen: list[str] | None = None, max_tokens: int = 30) -> go.Figure:
    """While sampling: the model's distribution at each generated step (token x step heatmap).

    probs: one {token: probability} per generated step; chosen: the token actually sampled at each
    step (tick labels and hover). Only the max_tokens tokens with the highest peak probability are
    rows; the figure says so when others are left out.
    """
    title = "Sampling distribution per step"
    probs = [p for p in (probs or []) if p]
    if not probs:
        return empty_figure("nothing sampled yet", title)
    vocab = sorted({t for p in probs for t in p})
    peak = {t: max(p.get(t, 0.0) for p in probs) for t in vocab}
    rows = sorted(vocab, key=lambda t: -peak[t])[:max_tokens]
    rows = sorted(rows)
    z = np.array([[p.get(t, 0.0) for p in probs] for t in rows])
    S = len(probs)
    chosen = list(chosen or [])
    ticks = [show_token(chosen[s]) if s < len(chosen) else str(s) for s in range(S)]
    custom = [[f"step {s}, sampled {ticks[s]!r}" for s in range(S)] for _ in rows]
    heat = {"type": "heatmap", "z": z, "x": list(range(S)), "y": [show_token(t) for t in rows], "customdata": custom,
            "colorscale": colorscale(SEQUENTIAL), "zmin": 0, "zmax": 1, "colorbar": colorbar("p"),
            "hovertemplate": "%{customdata}<br>token %{y}: p = %{z:.6g}<extra></extra>"}
    layout = {"yaxis": {"type": "category", "tickfont": {"family": MONO_FAMILY}, "title": {"text": "token"},
                        "autorange": "reversed"},
              "xaxis": {"tickmode": "array", "tickvals": list(range(S)), "ticktext": ticks,
                        "tickfont": {"family": MONO_FAMILY}, "title": {"text": "generation step (sampled token)"}}}
    notes = [f"showing {len(rows)} of {len(vocab)} tokens (highest peak probability)" if len(rows) < len(vocab) else ""]
    return styled([heat], layout, title, notes, height=max(350, min(900, 150 + 22 * len(rows))))
