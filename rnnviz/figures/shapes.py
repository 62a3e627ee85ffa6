"""The lecture's words as the tensor a recurrent module reads: one small heatmap per word, a row per
letter (time step), a column per input feature, each cell's number written in it (rnnviz.shapes)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import DIVERGING, MONO_FAMILY, SEQUENTIAL, colorbar, colorscale, empty_figure, show_token, styled


def word_tensor_figure(words: list[str], x, title: str, features: list[str] | None = None,
                       max_words: int = 4) -> go.Figure:
    """x: [N, L, F] the batch (batch first), row n the letters of words[n]. One panel per word (the first
    max_words of them, said so), letters down, features across; one-hot on [0, 1], anything else on a
    diverging scale around 0."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or not len(x):
        return empty_figure("no input tensor", title)
    N, L, Fdim = x.shape
    n = min(N, max_words)
    binary = bool(np.isin(x, (0.0, 1.0)).all())
    lo, hi = (0.0, 1.0) if binary else (-float(np.abs(x).max() or 1.0), float(np.abs(x).max() or 1.0))
    feats = list(features) if features is not None and len(features) == Fdim else [str(f) for f in range(Fdim)]
    gap = 0.1           # of the width: room for the next panel's letters ("h (0)")
    width = (1 - gap * (n - 1)) / n
    traces, layout = [], {"annotations": []}
    for i in range(n):
        ax = "" if i == 0 else str(i + 1)
        letters = [f"{show_token(c)} ({t})" for t, c in enumerate(words[i][:L])]
        traces.append({"type": "heatmap", "z": x[i], "x": feats, "y": letters, "xaxis": f"x{ax}", "yaxis": f"y{ax}",
                       "zmin": lo, "zmax": hi, "coloraxis": "coloraxis",
                       "text": np.vectorize(lambda v: f"{v:.2g}")(x[i]).astype(str), "texttemplate": "%{text}",
                       "textfont": {"family": MONO_FAMILY},
                       "hovertemplate": f"word {i} “{words[i]}”<br>step %{{y}}, feature %{{x}}<br>value %{{z:.6g}}"
                                        "<extra></extra>"})
        x0 = i * (width + gap)
        layout[f"xaxis{ax}"] = {"domain": [x0, x0 + width], "anchor": f"y{ax}", "type": "category",
                                "tickfont": {"family": MONO_FAMILY},
                                "title": {"text": "letter (its one-hot column)" if binary and features else "feature"}}
        layout[f"yaxis{ax}"] = {"anchor": f"x{ax}", "autorange": "reversed", "type": "category",
                                "tickfont": {"family": MONO_FAMILY}, "showticklabels": True}
        layout["annotations"].append({"text": f"“{words[i]}”", "x": x0 + width / 2, "xref": "paper", "y": 1.0,
                                      "yref": "paper", "yanchor": "bottom", "showarrow": False,
                                      "font": {"family": MONO_FAMILY, "size": 18}})
    layout["coloraxis"] = {"cmin": lo, "cmax": hi, "colorscale": colorscale(SEQUENTIAL if binary else DIVERGING),
                           "colorbar": colorbar("value", thickness=15)}
    notes = [f"tensor shape (N, L, F) = ({N}, {L}, {Fdim}), batch first; each panel is x[n]",
             f"showing {n} of {N} words" if n < N else ""]
    return styled(traces, layout, title, notes, height=max(300, 160 + 28 * L), extra_top=20)
