"""Figures of gradients through time: ||dL/dh_t|| per step, over epochs, and the spectral radius."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..probes import DIRECTION_NAMES, Probe
from ..recorder import EpochRecord
from .fit import legend_below
from .style import (PALETTE, SEQUENTIAL, colorbar, colorscale, empty_figure, epoch_gap_note, even_indices,
                    plain, step_axis, styled, time_axis, time_labels)

WHAT = {
    "grad_h": ("‖∂L/∂h_t‖", "L = mean loss over the counted steps"),
    "grad_h_last": ("‖∂L_last/∂h_t‖", "L_last = loss of the final counted step"),
    "grad_c": ("‖∂L/∂c_t‖", "L = mean loss over the counted steps, c = LSTM cell state"),
}


def _norms(probe: Probe | None, which: str, layer: int, direction: int = 0) -> np.ndarray | None:
    if probe is None or getattr(probe, which, None) is None:
        return None
    return np.asarray(getattr(probe, which), dtype=np.float64)[probe.row(layer, direction)]


def _series(runs: dict[str, Probe | None], which: str, layer: int) -> dict[str, tuple[np.ndarray, bool]]:
    """name -> (norms [T], reverse?) per run, and per direction of a bidirectional run."""
    out = {}
    for name, p in (runs or {}).items():
        for d in range(p.directions if p is not None else 1):
            g = _norms(p, which, layer, d)
            if g is not None:
                out[name if p.directions == 1 else f"{name} · {p.direction_name(d)}"] = (g, d == 1)
    return out


def _cuts(probes, T: int, log_x: bool = False) -> tuple[list[dict], list[dict], str]:
    """Dotted lines where truncated BPTT cut the probe (between steps jk - 1 and jk), their labels and a
    note; nothing when the probes were not cut."""
    k = max((getattr(p, "tbptt", 0) for p in probes if p is not None), default=0)
    if not 0 < k < T:
        return [], [], ""
    xs = [j - 0.5 for j in range(k, T, k)]
    line = {"color": "black", "dash": "dot", "width": 2}
    shapes = [{"type": "line", "line": line, "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"}
              for x in xs]
    notes = [{"showarrow": False, "text": "✂ cut", "x": x, "xanchor": "center", "xref": "x", "y": 1,
              "yanchor": "bottom", "yref": "y domain"} for x in xs]
    return shapes, notes, (f"truncated BPTT every {k} steps (dotted lines): nothing flows back across a cut, "
                           f"and L is the mean loss of the {k}-step piece that holds t, as training computes it")


def grad_norm_figure(runs: dict[str, Probe | None], labels: list[str] | None = None, which: str = "grad_h",
                     layer: int = -1, tick_inputs: bool = True) -> go.Figure:
    """||dL/dh_t|| against the time step t on a log axis, one line per run (e.g. rnn, lstm, gru).

    labels: the input at each step, in the hover text and, with tick_inputs, as the time axis' tick
    labels (tokens); tick_inputs=False numbers the steps instead (inputs that are values, such as the
    sine wave's, read as the time itself on the axis).

    which: "grad_h" | "grad_h_last" | "grad_c". Zeros (e.g. steps after the final loss for grad_h_last)
    have no place on a log axis: they are not drawn and the figure says how many were left out. A
    bidirectional run has a line per direction (reverse dashed); where truncated BPTT cut the probe
    (Probe.tbptt) dotted lines mark the cuts.
    """
    sym, meaning = WHAT.get(which, (which, ""))
    title = f"Gradient through time: {sym}"
    series = _series(runs, which, layer)
    if not series:
        return empty_figure(f"no {sym} measured in these probes", title)
    traces, dropped = [], {}
    T = max(len(v) for v, _ in series.values())
    labs = time_labels(labels, T)
    colors: dict[str, str] = {}
    for name, (g, reverse) in series.items():
        run = name.split(" · ")[0]
        color = colors.setdefault(run, PALETTE[len(colors) % len(PALETTE)])
        t = np.arange(len(g))
        keep = np.isfinite(g) & (g > 0)
        if (~keep).any():
            dropped[name] = int((~keep).sum())
        traces.append({
            "type": "scatter", "x": t[keep], "y": g[keep], "name": name, "mode": "lines+markers",
            "line": {"color": color, "width": 3, "dash": "dash" if reverse else "solid"}, "marker": {"size": 7},
            "customdata": [labs[j] for j in t[keep]],
            "hovertemplate": f"<b>{name}</b><br>t = %{{x}} (input %{{customdata}})<br>{sym} = %{{y:.6g}}"
                             "<extra></extra>"})
    shapes, marks, cut_note = _cuts(runs.values(), T)
    layout = {"yaxis": {"type": "log", "exponentformat": "power", "title": {"text": f"{sym} (log scale)"}},
              "xaxis": time_axis(labs) if tick_inputs else step_axis(),
              "legend": legend_below(), "hovermode": "closest",
              **({"shapes": shapes, "annotations": marks} if shapes else {})}
    notes = [meaning, cut_note]
    if any(reverse for _, reverse in series.values()):
        notes.append("dashed = reverse direction (its gradient flows forward in time)")
    if dropped:
        notes.append("zeros / non-finite values not drawn on the log axis: "
                     + ", ".join(f"{k} {n} step(s)" for k, n in dropped.items()))
    return styled(traces, layout, title, notes)


def grad_heatmap(records: list[EpochRecord], which: str = "grad_h", layer: int = -1, thinned: bool = False,
                 max_rows: int = 400, labels: list[str] | None = None, direction: int = 0) -> go.Figure:
    """Epoch x time-step heatmap of log10 ||dL/dh_t||: how the gradient's reach changes with training.

    Records without a probe (or without this measurement) are skipped and the figure says how many
    epochs have one; zeros are left blank (log10 undefined). More than max_rows probed epochs are
    thinned evenly (first and last kept), and said so. direction: 1 = the reverse direction of a
    bidirectional run; truncated BPTT's cuts (Probe.tbptt) are dotted lines.
    """
    sym, meaning = WHAT.get(which, (which, ""))
    title = f"{sym} over training (log10)"
    recs = list(records or [])
    # each probe read once: a thinning in another thread may drop it between two reads
    probed = [(r.epoch, g) for r in recs if (pr := r.probe) is not None and direction < pr.directions
              and (g := _norms(pr, which, layer, direction)) is not None]
    if not probed:
        return empty_figure(f"no probe with {sym} recorded yet", title)
    n_probed = len(probed)
    probed = [probed[i] for i in even_indices(n_probed, max_rows)]
    T = max(len(g) for _, g in probed)
    raw = np.full((len(probed), T), np.nan)
    for i, (_, g) in enumerate(probed):
        raw[i, :len(g)] = g
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(raw > 0, np.log10(raw), np.nan)
    epochs = [e for e, _ in probed]
    heat = {"type": "heatmap", "z": z, "x": list(range(T)), "y": plain(epochs), "customdata": _numbers(raw),
            "colorscale": colorscale(SEQUENTIAL), "colorbar": colorbar("log10"),
            "hovertemplate": f"epoch %{{y}}, t = %{{x}}<br>{sym} = %{{customdata}}<br>log10 = %{{z:.4f}}"
                             "<extra></extra>"}
    shapes, marks, cut_note = _cuts([r.probe for r in recs], T)
    layout = {"yaxis": {"title": {"text": "epoch"}}, "xaxis": time_axis(time_labels(labels, T)),
              **({"shapes": shapes, "annotations": marks} if shapes else {})}
    last = recs[-1].probe if recs else None
    notes = [meaning, cut_note, f"{DIRECTION_NAMES[direction]} direction" if last and last.directions > 1 else ""]
    if len(recs) > n_probed:
        notes.append(f"probe recorded at {n_probed} of {len(recs)} epochs")
    if n_probed > len(probed):
        notes.append(f"showing {len(probed)} of {n_probed} probed epochs (evenly spaced)")
    notes.append(epoch_gap_note(epochs, thinned))
    zeros = int(np.sum(raw == 0))
    if zeros:
        notes.append(f"{zeros} zero value(s) left blank")
    return styled([heat], layout, title, notes, height=max(480, min(800, 200 + 4 * len(probed))))


def _numbers(raw: np.ndarray) -> np.ndarray:
    """Each value as hover text ('–' where not finite). A str array: go.Figure deep-copies it in one piece,
    and to_dict() turns it into the object array of strings that plotly stored before."""
    return np.array([["–" if not math.isfinite(v) else f"{v:.6g}" for v in row] for row in raw.tolist()],
                    dtype=str).reshape(raw.shape)


def spectral_radius_text(probe: Probe | None) -> str:
    """One line per recurrent block: its spectral radius (largest |eigenvalue|) per layer."""
    if probe is None or not probe.spectral_radius:
        return "spectral radius: not measured"
    lines = []
    for block, vals in probe.spectral_radius.items():
        per = ", ".join(f"{v:.4g}" + (f" (layer {i + 1})" if len(vals) > 1 else "") for i, v in enumerate(vals))
        name = block.replace(" reverse", ", reverse")
        lines.append(f"ρ({name}) = {per}")
    return "\n".join(lines)


def spectral_radius_figure(records: list[EpochRecord], thinned: bool = False) -> go.Figure:
    """Spectral radius of each recurrent block (and layer) over the probed epochs, with the line ρ = 1.

    Above 1 the linearised recurrence can amplify signals (and gradients) from step to step; below 1 it
    shrinks them. Records without a probe or measurement are skipped.
    """
    title = "Spectral radius of the recurrent weights"
    pts = [(r.epoch, sr) for r in records or [] if (pr := r.probe) is not None and (sr := pr.spectral_radius)]
    if not pts:
        return empty_figure("spectral radius not measured yet", title)
    keys = []
    for _, sr in pts:
        for block, vals in sr.items():
            keys += [(block, i, len(vals)) for i in range(len(vals)) if (block, i, len(vals)) not in keys]
    traces = []
    for k, (block, i, n) in enumerate(keys):
        xy = [(e, sr[block][i]) for e, sr in pts if block in sr and len(sr[block]) > i]
        name = block + (f" layer {i + 1}" if n > 1 else "")
        traces.append({"type": "scatter", "x": plain([a for a, _ in xy]), "y": plain([b for _, b in xy]), "name": name,
                       "mode": "lines+markers" if len(xy) <= 40 else "lines",
                       "line": {"color": PALETTE[k % len(PALETTE)], "width": 3},
                       "hovertemplate": f"{name}<br>epoch %{{x}}<br>ρ = %{{y:.6g}}<extra></extra>"})
    layout = {  # what fig.add_hline(y=1, line_dash="dot", line_color="black", annotation_text="ρ = 1") adds
        "shapes": [{"type": "line", "line": {"color": "black", "dash": "dot"}, "x0": 0, "x1": 1, "xref": "x domain",
                    "y0": 1, "y1": 1, "yref": "y"}],
        "annotations": [{"showarrow": False, "text": "ρ = 1", "x": 1, "xanchor": "right", "xref": "x domain",
                         "y": 1, "yanchor": "bottom", "yref": "y"}],
        "xaxis": {"title": {"text": "epoch"}},
        "yaxis": {"title": {"text": "spectral radius ρ (largest |eigenvalue|)"}, "rangemode": "tozero"},
        "legend": legend_below()}
    notes = [epoch_gap_note([e for e, _ in pts], thinned)]
    if len(pts) < len(records):
        notes.append(f"measured at {len(pts)} of {len(records)} epochs")
    return styled(traces, layout, title, notes)
