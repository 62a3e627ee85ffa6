"""The predictions per epoch as a table: rows chosen from the records once, drawn as HTML or as a plotly
heatmap (training.prediction_table_figure).

Why HTML too: a table of letters is what the lesson shows, and a browser draws it far faster. Plotly
draws every letter of a text heatmap as its own SVG text: seoul's table (35 letters x 16 rows) took
the browser 0.3-0.9 s of its main thread for each redraw while a run trained, and on a 2-core machine
that time came out of training. As HTML its redraw is mostly Streamlit sanitising it (~0.1 s in a
profile of the page, so it is still redrawn at most once a second while a run trains).
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

from ..recorder import EpochRecord
from .fit import MONO_EM, PAGE_WIDTH
from .style import HEADER, MONO_FAMILY, NO_TARGET, NOTE_SEP, RIGHT, WRONG, color_name, show_token
from .theme import MUTED_STYLE

TITLE = "Predictions per epoch"
CELL_EM = 1.25       # a cell's width: its min-width and padding (one character is 0.6em)
# cell codes, shared with the heatmap's discrete colour scale (z in 0..3)
NONE_CODE, WRONG_CODE, RIGHT_CODE, HEADER_CODE = 0, 1, 2, 3
CODE_COLORS = {NONE_CODE: NO_TARGET, WRONG_CODE: WRONG, RIGHT_CODE: RIGHT, HEADER_CODE: HEADER}


@dataclass
class Row:
    label: str                        # "target" or "epoch 12"
    texts: list[str]                  # one shown token per position
    codes: list[int]                  # one cell code per position
    hovers: list[list[str]]           # the lines of each cell's hover text


@dataclass
class PredictionTable:
    """Row 0 is the target, then the chosen epochs, oldest first. `empty` says why there are no rows."""
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: str = ""


def scored(prediction: dict) -> list[bool]:
    """Which positions of a tokens prediction accuracy counts (every one with a target when the
    prediction predates "scored")."""
    if "scored" in prediction:
        return list(prediction["scored"])
    return [c is not None for c in prediction["correct"]]


def prediction_table(records: list[EpochRecord], max_rows: int = 15, with_inputs: bool = False) -> PredictionTable:
    """Epoch -> predicted tokens, one cell per token aligned under the target: at most max_rows recorded
    epochs spread evenly over the run (first and last included). One cell per character for character
    tasks and per word for word tasks (a cell is one token either way). Only the positions accuracy counts are coloured
    right or wrong; the others are grey. with_inputs: a first row of the input tokens."""
    # rows are chosen before any prediction is read: reading one builds it from the probe's outputs, and
    # a long run has thousands of records of which max_rows are shown
    recs = [r for r in (records or []) if r.has_prediction]
    if not recs:
        return PredictionTable(empty="no predictions recorded yet")
    if recs[-1].prediction.get("kind") != "tokens":   # one task, one kind of prediction
        return PredictionTable(empty="this task predicts values, not tokens: see the sequence figure")
    n_total = len(recs)
    recs = [recs[i] for i in spread_over_epochs([r.epoch for r in recs], max(1, max_rows))]
    last = recs[-1].prediction
    T = max(len(r.prediction["predicted"]) for r in recs)
    target = list(last["target"]) + [None] * (T - len(last["target"]))
    inputs = list(last.get("input", [])) + [None] * (T - len(last.get("input", [])))

    rows = [Row("target", [show_token(t) for t in target],
                [HEADER_CODE if t is not None else NONE_CODE for t in target],
                [[f"position {j}", f"input {show_token(inputs[j])!r}", f"target {show_token(target[j])!r}"]
                 for j in range(T)])]
    if with_inputs:
        rows.insert(0, Row("input", [show_token(t) for t in inputs], [HEADER_CODE] * T,
                           [[f"position {j}", f"input {show_token(inputs[j])!r}"] for j in range(T)]))
    for r in recs:
        p = r.prediction
        pred = list(p["predicted"]) + [None] * (T - len(p["predicted"]))
        corr = list(p["correct"]) + [None] * (T - len(p["correct"]))
        counts = scored(p) + [False] * (T - len(p["correct"]))
        codes, hovers = [], []
        for j, (c, count) in enumerate(zip(corr, counts)):
            codes.append(NONE_CODE if c is None or not count else RIGHT_CODE if c else WRONG_CODE)
            verdict = ("no target" if c is None else f"not scored (target {show_token(target[j])!r})" if not count
                       else "right" if c else f"wrong (target {show_token(target[j])!r})")
            hovers.append([f"epoch {r.epoch}, position {j}", f"input {show_token(inputs[j])!r}",
                           f"predicted {show_token(pred[j])!r}: {verdict}"])
        rows.append(Row(f"epoch {r.epoch}", [show_token(t) for t in pred], codes, hovers))

    notes = [f"{color_name(RIGHT)} = right, {color_name(WRONG)} = wrong, {color_name(NO_TARGET)} = not scored"]
    if n_total > len(recs):
        notes.append(f"showing {len(recs)} of {n_total} epochs with a prediction, spread over epochs "
                     f"{recs[0].epoch:,} to {recs[-1].epoch:,}")
    last = recs[-1].prediction
    right = [c for c, count in zip(last["correct"], scored(last)) if c is not None and count]
    if right:
        notes.append(f"epoch {recs[-1].epoch}: {np.mean(right):.0%} of the probe's scored positions right")
    return PredictionTable(rows, notes)


def headline_html(prediction: dict | None, at: str, with_inputs: bool = False) -> str:
    """One prediction in big letters (`at`: "epoch 12"): each predicted token with a target, in
    RIGHT or WRONG where it is scored and faded where it is not; the target and how many scored
    positions are right. with_inputs: the input tokens first ("i like → dogs"). "" for a values prediction."""
    p = prediction
    if not p or p.get("kind") != "tokens":
        return ""
    sep = p.get("sep", "")
    shown = [(tok, ok, count) for tok, ok, count in zip(p["predicted"], p["correct"], scored(p)) if ok is not None]
    cells = [f'<span style="{f"color:{RIGHT if ok else WRONG}" if count else MUTED_STYLE}">'
             f'{html.escape(show_token(tok))}</span>' for tok, ok, count in shown]
    counted = [ok for _, ok, count in shown if count]
    target = sep.join(show_token(t) for t in p["target"] if t is not None)
    size = "2.4rem" if len(shown) <= 24 else "1.3rem"
    read = ""
    if with_inputs:
        read = (f'<span style="{MUTED_STYLE}">{html.escape(sep.join(show_token(t) for t in p.get("input", [])))}'
                f'</span> → ')
    faded = len(shown) - len(counted)
    tally = f"{sum(counted)}/{len(counted)} right" + (f" · {faded} faded: not scored" if faded else "")
    return (f'<div style="font-family:monospace;font-size:{size};line-height:1.3;overflow-wrap:anywhere">'
            f'{html.escape(at)}: {read}{sep.join(cells)} <span style="font-size:1.2rem;{MUTED_STYLE}">'
            f'target {html.escape(target)} · {tally}</span></div>')


CSS_CLASS = {NONE_CODE: "n", WRONG_CODE: "w", RIGHT_CODE: "r", HEADER_CODE: "h"}


def continuation_html(prefix: list[str], continued: list[str], scores: list[bool | None]) -> str:
    """A prefix (faded) and a generated continuation in big letters: each generated token in RIGHT or
    WRONG where it is scored (scores[i] True / False), faded where it is not (None); and the count."""
    cells = [f'<span style="{MUTED_STYLE if ok is None else f"color:{RIGHT if ok else WRONG}"}">'
             f'{html.escape(show_token(tok))}</span>' for tok, ok in zip(continued, scores)]
    counted = [ok for ok in scores if ok is not None]
    faded = len(scores) - len(counted)
    tally = f"{sum(counted)}/{len(counted)} scored tokens right" + (f" · {faded} faded: a guess, not scored"
                                                                   if faded else "")
    return (f'<div style="font-family:monospace;font-size:2rem;line-height:1.3;overflow-wrap:anywhere">'
            f'<span style="{MUTED_STYLE}">{html.escape(" ".join(prefix))} →</span> {" ".join(cells)} '
            f'<span style="font-size:1.1rem;{MUTED_STYLE}">{tally}</span></div>')


def spread_over_epochs(epochs: list[int], k: int) -> list[int]:
    """Indices of at most k of the (sorted) epochs, those nearest to k evenly spaced epochs from the
    first to the last: a history thinned unevenly (most of its old predictions dropped) still shows how
    the early epochs went, not k of its latest."""
    if len(epochs) <= k:
        return list(range(len(epochs)))
    e = np.asarray(epochs, dtype=float)
    chosen = [int(np.abs(e - want).argmin()) for want in np.linspace(e[0], e[-1], k)]
    return sorted(set(chosen))


def table_font_px(steps: int, label_chars: int, cell_chars: int = 1, width: float = PAGE_WIDTH - 10) -> int:
    """The font size at which a table of `steps` cells of up to `cell_chars` characters (at least
    CELL_EM wide, 2 px apart) and its row labels (monospaced, MONO_EM a character, .6em after) fit
    `width` px; 12 to 28 px (a longer sequence scrolls sideways rather than shrink below 12)."""
    cell = max(CELL_EM, MONO_EM * cell_chars + 0.1)
    return int(np.clip((width - 2 * (steps + 1)) / (cell * steps + MONO_EM * label_chars + 0.6), 12, 28))


def prediction_table_html(records: list[EpochRecord], max_rows: int = 15, with_inputs: bool = False) -> str:
    """The prediction table as one HTML block (title, table, notes), each cell with its hover text as a
    tooltip. Long sequences scroll sideways rather than shrink below a readable size. Cells carry a class,
    not a style: a page sanitises this HTML at every redraw, and its cost grows with the attributes."""
    t = prediction_table(records, max_rows, with_inputs)
    head = f'<div style="font-size:1.35rem;margin-bottom:.3rem">{TITLE}</div>'
    if t.empty:
        return f'<div>{head}<div style="{MUTED_STYLE}">{html.escape(t.empty)}</div></div>'
    T, label = len(t.rows[0].texts), max(len(row.label) for row in t.rows)
    size = table_font_px(T, label, max(len(text) for row in t.rows for text in row.texts))
    css = (f".rnnviz-pt table{{border-collapse:separate;border-spacing:2px;font-family:{MONO_FAMILY};"
           f"font-size:{size}px;line-height:1.35}}"
           ".rnnviz-pt th{text-align:right;padding:0 .6em 0 0;font-weight:normal;white-space:nowrap}"
           f".rnnviz-pt td{{text-align:center;min-width:{CELL_EM - 0.1:g}em;padding:.1em .05em;color:white}}"
           + "".join(f".rnnviz-pt td.{CSS_CLASS[code]}{{background:{color}}}" for code, color in CODE_COLORS.items())
           + ".rnnviz-pt td.n{color:#222}")
    lines = []
    for row in t.rows:
        cells = "".join(f'<td class="{CSS_CLASS[code]}" title="{html.escape(chr(10).join(hover))}">'
                        f'{html.escape(text)}</td>' for text, code, hover in zip(row.texts, row.codes, row.hovers))
        lines.append(f"<tr><th>{html.escape(row.label)}</th>{cells}</tr>")
    notes = f'<div style="{MUTED_STYLE};margin-top:.3rem">{html.escape(NOTE_SEP.join(t.notes))}</div>'
    return (f'<style>{css}</style><div class="rnnviz-pt">{head}<div style="overflow-x:auto"><table>'
            f'{"".join(lines)}</table></div>{notes}</div>')
