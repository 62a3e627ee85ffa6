"""Figures of the inside of the model on the probe: hidden-state trajectory (PCA), h_t and gate heatmaps."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..probes import GATE_NAMES, GATE_TITLES, Probe
from .fit import LINE, PLOTLY_HEIGHT, STEP_TITLE, legend_below
from .pca import _view_ranges, project
from .style import (DIVERGING, MONO_FAMILY, PALETTE, SEQUENTIAL, colorbar, colorscale, empty_figure, fmt,
                    label_every, layer_index, layer_name, merge, ordinal, plain, rows_grid, styled, symmetric_range,
                    time_axis, time_labels, unit_range)

SIGMOID_GATES = {"i", "f", "o", "r", "z"}  # on [0, 1]; g, n (tanh) and c on a diverging scale
LABEL_FONT, POINT = 15, 9   # px: the trajectory's labels (written above its points) and its points
LABEL_ROOM = math.ceil(LINE * LABEL_FONT + POINT / 2)   # px a label takes above its point


def _layer_note(probe: Probe, layer: int, direction: int | None = None) -> str:
    """'layer 2 of 2', and the direction of a bidirectional probe (None: both, [h_fwd; h_rev])."""
    parts = [layer_name(probe.layers, layer_index(probe.layers, layer))]
    if probe.directions > 1:
        parts.append("both directions [h_fwd; h_rev]" if direction is None else probe.direction_name(direction))
    return ", ".join(p for p in parts if p)


def trajectory_figure(probe: Probe | None, basis, labels: list[str] | None = None, layer: int = -1,
                      dims: int = 2, title_epoch: int | None = None, ranges=None) -> go.Figure:
    """The probe's hidden-state trajectory in a fixed basis (from fit_pca_basis), 2-D or 3-D.

    Points joined in time order, labelled with their input token (every k-th only, and the last, when
    the labels would crowd: label_every; the subtitle says so, the hover text has them all), coloured
    by time; start and end marked. Axis ranges come from `ranges` ([dims, 2]) or the basis' pooled
    projection range, so the view stays put between epochs. The subtitle states the projection and
    its explained variance.
    """
    title = "Hidden-state trajectory" + (f", epoch {title_epoch}" if title_epoch is not None else "")
    if probe is None or basis is None:
        return empty_figure("no probe recorded yet", title)
    mean, comps, ratio = basis
    H = len(mean)
    raw = bool(getattr(basis, "raw", False))
    dims = int(max(1, min(dims, 3, comps.shape[0])))
    P = project(probe, basis, layer, dims)  # [T, dims]
    T = P.shape[0]
    labs = time_labels(labels, T)
    finite = np.isfinite(P).all(1)
    ranges = _view_ranges(P[finite], ranges if ranges is not None else getattr(basis, "ranges", None))
    if dims == 1:  # H = 1: plot h against time instead
        P, ranges = np.concatenate([np.arange(T)[:, None], P], 1), np.array([[-0.5, T - 0.5], ranges[0]])
    names = [f"h[{k}]" if raw else f"PC{k + 1}" for k in range(dims)]
    ax_titles = [f"{n} ({ratio[k]:.0%} of variance)" for k, n in enumerate(names)]
    if dims == 1:
        ax_titles = [STEP_TITLE, ax_titles[0]]
    custom = [[t, labs[t]] + [fmt(v) for v in P[t]] for t in range(T)]
    hover = "t = %{customdata[0]}, input %{customdata[1]}" + "".join(
        f"<br>{n} = %{{customdata[{k + 2 + (dims == 1)}]}}" for k, n in enumerate(names)) + "<extra></extra>"
    every = label_every(labs)
    text = [lab if t % every == 0 or t == T - 1 else "" for t, lab in enumerate(labs)]
    pts = {"mode": "lines+markers+text", "text": text, "textposition": "top center", "customdata": custom,
           "hovertemplate": hover, "showlegend": False, "line": {"color": "#999999", "width": 2},
           "textfont": {"family": MONO_FAMILY, "size": LABEL_FONT},
           "marker": {"color": np.arange(T), "colorscale": colorscale("Cividis"), "size": POINT,
                      "colorbar": colorbar("time step", thickness=15)}}
    traces, layout = _trajectory_plot(P, pts, ranges, ax_titles)
    layout["legend"] = legend_below()
    if raw:
        what = f"raw hidden units, no projection (H = {H})" if dims >= H else \
            f"raw hidden units {', '.join(names)} ({dims} of {H} units, no projection)"
    else:
        n = getattr(basis, "n_probes", None)
        what = (f"PCA projection ({dims} of {H} dims, {ratio[:dims].sum():.0%} of variance), "
                + (f"one basis fitted on {n} probes pooled" if n and n > 1
                   else "one basis fitted on 1 probe" if n else "fixed basis"))
    bad = int((~finite).sum())
    thinned = f"every {ordinal(every)} point labelled" if every > 1 else ""
    # a label above a point at the top of the range is drawn into the top margin (not cut off): room for
    # it there, the plot as high as plotly's own
    room = LABEL_ROOM if P.shape[1] < 3 else 0
    return styled(traces, layout, title, [_layer_note(probe, layer), what, thinned,
                                          f"{bad} step(s) with non-finite h not drawn" if bad else ""],
                  height=PLOTLY_HEIGHT + room if room else None, extra_top=room)


def _trajectory_plot(P: np.ndarray, pts: dict, ranges, ax_titles) -> tuple[list[dict], dict]:
    """The points (2-D or 3-D, as P's columns), start and end marked, on fixed axis ranges."""
    T = P.shape[0]
    marks = [(0, "start", "square", PALETTE[2]), (T - 1, "end", "diamond", PALETTE[3])]
    if P.shape[1] == 3:
        traces = [{"type": "scatter3d", "x": P[:, 0], "y": P[:, 1], "z": P[:, 2], **pts}]
        traces += [{"type": "scatter3d", "x": [float(P[t, 0])], "y": [float(P[t, 1])], "z": [float(P[t, 2])],
                    "mode": "markers", "name": name, "marker": {"symbol": sym, "size": 9, "color": col},
                    "hoverinfo": "skip"} for t, name, sym, col in marks]
        axes = {a: {"title": {"text": ax_titles[k]}, "range": plain(ranges[k]), "autorange": False}
                for k, a in enumerate(("xaxis", "yaxis", "zaxis"))}
        return traces, {"scene": {"aspectmode": "cube", **axes}, "uirevision": "trajectory"}
    traces = [{"type": "scatter", "x": P[:, 0], "y": P[:, 1], **pts, "cliponaxis": False}]
    traces += [{"type": "scatter", "x": [float(P[t, 0])], "y": [float(P[t, 1])], "mode": "markers", "name": name,
                "hoverinfo": "skip", "marker": {"symbol": sym, "size": 18, "color": col, "line": {"color": "black"}}}
               for t, name, sym, col in marks]
    return traces, {"xaxis": {"title": {"text": ax_titles[0]}, "range": plain(ranges[0]), "autorange": False},
                    "yaxis": {"title": {"text": ax_titles[1]}, "range": plain(ranges[1]), "autorange": False}}


def _units(z: np.ndarray, max_units: int) -> tuple[np.ndarray, str]:
    """z [T, H] -> [n, T] of the first max_units units, and a note when units are left out."""
    H = z.shape[1]
    n = min(H, max(1, max_units))
    return z[:, :n].T, (f"showing units 0–{n - 1} of {H}" if n < H else "")


def _heat(zu: np.ndarray, labs, name: str, **kw) -> dict:
    n, T = zu.shape
    # a str array (not object): go.Figure deep-copies it in one piece; to_dict() gives the same object array
    custom = np.array([labs[:T]] * n, dtype=str)
    return {"type": "heatmap", "z": zu, "x": list(range(T)), "y": list(range(n)), "customdata": custom,
            "hovertemplate": f"unit {name}[%{{y}}], t = %{{x}} (input %{{customdata}})<br>"
                             f"{name} = %{{z:.6g}}<extra></extra>", **kw}


def hidden_heatmap(probe: Probe | None, labels: list[str] | None = None, layer: int = -1,
                   max_units: int = 64) -> go.Figure:
    """Units x time heatmap of h_t on the probe (diverging scale on [-1, 1], or the true range). A
    bidirectional layer shows both directions, forward units (→) above reverse ones (←)."""
    title = "Hidden state h_t"
    if probe is None:
        return empty_figure("no probe recorded yet", title)
    h = np.asarray(probe.hidden, dtype=np.float64)
    parts = [_units(h[probe.row(layer, d)], max_units) for d in range(probe.directions)]
    zu, unit_note = np.concatenate([z for z, _ in parts], 0), parts[0][1]
    labs = time_labels(labels, h.shape[1])
    lo, hi, range_note = symmetric_range(zu)
    heat = _heat(zu, labs, "h", colorscale=colorscale(DIVERGING), zmin=lo, zmax=hi, zmid=0,
                 colorbar=colorbar("h"))
    yaxis = {"autorange": "reversed", "title": {"text": "hidden unit"}}
    if probe.directions > 1:
        n = parts[0][0].shape[0]
        ticks = [f"{arrow}{u}" for arrow in "→←" for u in range(n)]
        heat["customdata"] = np.array([[f"{t} ({ticks[r]})" for t in labs] for r in range(2 * n)], dtype=str)
        every = max(1, n // 8)
        yaxis.update(tickmode="array", tickvals=list(range(0, 2 * n, every)), ticktext=ticks[::every])
        yaxis["title"] = {"text": "hidden unit (→ forward, ← reverse)"}
    layout = {"yaxis": yaxis, "xaxis": time_axis(labs)}
    notes = [_layer_note(probe, layer), unit_note, range_note]
    return styled([heat], layout, title, notes, height=max(380, min(900, 150 + 9 * zu.shape[0])))


def _gate_names(probe: Probe | None, cell: str) -> list[str] | str:
    """The probe's gates for this cell, or why there is nothing to draw."""
    if probe is None:
        return "no probe recorded yet"
    if not GATE_NAMES.get(cell):
        return f"a {cell.upper()} has no gates"
    return [g for g in GATE_NAMES[cell] if g in probe.gates] or "no gate values in this probe"


def gate_heatmaps(probe: Probe | None, labels: list[str] | None = None, cell: str = "lstm", layer: int = -1,
                  max_units: int = 64, direction: int = 0) -> go.Figure:
    """One heatmap per gate (lstm: i, f, g, o and the cell state c; gru: r, z, n), units x time.

    Sigmoid gates share a [0, 1] sequential scale; candidates g / n a diverging [-1, 1] scale; c its own
    diverging scale (its true range when it exceeds 1). Ranges widen (and say so) if values fall outside.
    """
    title = f"Gates of the {cell.upper()}"
    names = _gate_names(probe, cell)
    if isinstance(names, str):
        return empty_figure(names, title)
    li = probe.row(layer, direction)
    panels = [(g, GATE_TITLES.get(g, g), np.asarray(probe.gates[g], float)[li]) for g in names]
    if cell == "lstm" and probe.cell is not None:
        panels.append(("c", "cell state c", np.asarray(probe.cell, float)[li]))
    T = panels[0][2].shape[0]
    labs = time_labels(labels, T)
    n = len(panels)
    layout = rows_grid(n, 0.06 if n > 3 else 0.09, [p[1] for p in panels])
    kind = {g: "sig" if g in SIGMOID_GATES else "c" if g == "c" else "tanh" for g, _, _ in panels}
    axes, notes = _gate_coloraxes(panels, kind, layout)
    notes.insert(0, _layer_note(probe, layer, direction))
    traces = []
    for row, (g, _, z) in enumerate(panels, start=1):
        zu, unit_note = _units(z, max_units)
        traces.append(_heat(zu, labs, g, coloraxis=axes[kind[g]], xaxis=_axis("x", row), yaxis=_axis("y", row)))
        merge(layout[_axis("yaxis", row)], {"autorange": "reversed", "title": {"text": "unit"}})
    for a in layout["annotations"]:
        a.setdefault("font", {})["size"] = 18
    merge(layout[_axis("xaxis", n)], time_axis(labs))
    height = 140 + n * max(170, min(320, 5 * zu.shape[0] + 60))
    return styled(traces, layout, title, notes + [unit_note], height=height, extra_top=25)  # 25: first subplot title


def _axis(name: str, row: int) -> str:
    """The name of row `row`'s axis: xaxis, xaxis2, ... (or x, x2, ... as a trace refers to it)."""
    return name if row == 1 else f"{name}{row}"


def _gate_coloraxes(panels, kind: dict, layout: dict) -> tuple[dict, list[str]]:
    """One colour axis per kind of panel, set in `layout`: sigmoid gates [0, 1], candidates [-1, 1], c its
    own true range. Returns kind -> coloraxis name, and the notes on widened ranges."""
    axes, notes = {}, []
    for key, label in (("sig", "sigmoid gates"), ("tanh", "candidate"), ("c", "cell state c")):
        zs = [z.ravel() for g, _, z in panels if kind[g] == key]
        if not zs:
            continue
        allz = np.concatenate(zs)
        lo, hi, note = unit_range(allz) if key == "sig" else symmetric_range(allz)
        if key == "c":  # c has no natural bound: always its own true range
            finite = np.abs(allz[np.isfinite(allz)])
            hi = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
            lo, note = -hi, f"colour range ±{hi:.3g} (its largest |c|)"
        axes[key] = ax = _axis("coloraxis", len(axes) + 1)
        notes.append(f"{label}: {note}" if note else "")
        layout[ax] = {"cmin": lo, "cmax": hi, "colorscale": colorscale(SEQUENTIAL if key == "sig" else DIVERGING),
                      "colorbar": colorbar(label, thickness=15)}
    for k, ax in enumerate(axes.values()):
        layout[ax]["colorbar"].update(len=0.9 / len(axes), y=1 - (k + 0.5) / len(axes))
    return axes, notes


def gate_means_figure(probe: Probe | None, labels: list[str] | None = None, cell: str = "lstm",
                      layer: int = -1, direction: int = 0) -> go.Figure:
    """The mean over units of each gate at every time step (sigmoid gates on [0, 1], candidates on [-1, 1])."""
    title = f"Mean gate values of the {cell.upper()}"
    names = _gate_names(probe, cell)
    if isinstance(names, str):
        return empty_figure(names, title)
    li = probe.row(layer, direction)
    traces, T = [], 0
    for k, g in enumerate(names):
        z = np.asarray(probe.gates[g], float)[li]
        T, H = z.shape
        traces.append({
            "type": "scatter", "x": list(range(T)), "y": z.mean(1), "name": GATE_TITLES.get(g, g),
            "mode": "lines+markers",
            "line": {"color": PALETTE[k % len(PALETTE)], "width": 3, "dash": "solid" if g in SIGMOID_GATES else "dash"},
            "hovertemplate": f"{GATE_TITLES.get(g, g)}<br>t = %{{x}}<br>mean = %{{y:.6g}}<extra></extra>"})
    layout = {"yaxis": {"title": {"text": f"mean over the {H} units"}}, "xaxis": time_axis(time_labels(labels, T)),
              "legend": legend_below(), "hovermode": "x unified"}
    notes = [_layer_note(probe, layer, direction),
             "solid = sigmoid gates (0…1), dashed = tanh candidate (−1…1)"]
    return styled(traces, layout, title, notes)
