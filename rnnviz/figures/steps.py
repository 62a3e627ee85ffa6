"""One time step worked out by hand (rnnviz.numpy_engine.step_by_hand) as an HTML table: each line of
NumPy that ran, what it computed in words, and the numbers it gave as small coloured cells (blue
negative, red positive; the exact value in each cell's tooltip). Long arrays show their first numbers
and say how many there are."""
from __future__ import annotations

import html

import numpy as np

from .style import MONO_FAMILY, NOTE_SEP
from .theme import MUTED_STYLE

TITLE = "One step by hand"


def _colour(v: float, scale: float) -> str:
    """White at 0, red for positive and blue for negative values, full at |v| >= scale."""
    if not np.isfinite(v):
        return "#999999"
    a = min(1.0, abs(v) / scale) if scale > 0 else 0.0
    r, g, b = (214, 96, 77) if v > 0 else (67, 147, 195)
    mix = lambda c: round(255 + (c - 255) * a)  # noqa: E731
    return f"#{mix(r):02x}{mix(g):02x}{mix(b):02x}"


def step_table_html(entries, t: int, token: str | None = None, max_numbers: int = 12,
                    layer_names: bool = True) -> str:
    """The entries of one_step as one HTML block: per row the label, the line that computed it and
    its first `max_numbers` numbers. t: the time step shown; token: its input token, if any."""
    head = f'<div style="font-size:1.35rem;margin-bottom:.3rem">{TITLE}: t = {t}' + (
        f" (input {html.escape(token)!s})" if token is not None else "") + "</div>"
    if not entries:
        return f"<div>{head}<div style='{MUTED_STYLE}'>nothing to show</div></div>"
    css = (f".rnnviz-step table{{border-collapse:separate;border-spacing:2px 3px;font-size:15px}}"
           f".rnnviz-step td{{vertical-align:middle;padding:0 .4em}}"
           f".rnnviz-step code{{font-family:{MONO_FAMILY};white-space:nowrap}}"
           f".rnnviz-step span.n{{display:inline-block;min-width:3.6em;text-align:right;margin:0 1px;"
           f"padding:0 .2em;font-family:{MONO_FAMILY};font-size:13px;color:#222}}"
           ".rnnviz-step th{text-align:left;padding:.6em .4em .1em;font-weight:600}")
    rows, cut, layer = [], 0, object()
    for e in entries:
        if layer_names and e.layer != layer:
            layer = e.layer
            name = "output head" if e.layer is None else f"layer {e.layer + 1}"
            rows.append(f'<tr><th colspan="3">{name}</th></tr>')
        v = np.asarray(e.value, dtype=np.float64).ravel()
        shown = v[:max_numbers]
        finite = np.abs(v[np.isfinite(v)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        cells = "".join(f'<span class="n" style="background:{_colour(x, scale)}" title="{x:.17g}">{x:.3f}</span>'
                        for x in shown.tolist())
        more = ""
        if len(v) > len(shown):
            cut += 1
            # one unit: it wraps to a line of its own, never "…" at one line's end and the count on the next
            more = f' <span style="{MUTED_STYLE};white-space:nowrap">… {len(v) - len(shown)} more of {len(v)}</span>'
        rows.append(f"<tr><td>{html.escape(e.label)} <span style='{MUTED_STYLE}'>[{len(v)}]</span></td>"
                    f"<td><code>{html.escape(e.source)}</code></td><td>{cells}{more}</td></tr>")
    notes = ["the numbers of this epoch's weights on the probe input; 3 decimals shown, the exact value in "
             "each cell's tooltip", f"{cut} array(s) cut to their first {max_numbers} numbers" if cut else ""]
    note = f'<div style="{MUTED_STYLE};margin-top:.3rem">{html.escape(NOTE_SEP.join(n for n in notes if n))}</div>'
    return (f'<style>{css}</style><div class="rnnviz-step">{head}<div style="overflow-x:auto"><table>'
            f'{"".join(rows)}</table></div>{note}</div>')
