"""Views shared by the lessons: figures from rnnviz.figures placed on the page for Snapshots.

Each view takes the Snapshot(s) of the scrubbed epoch (lab.live) and a key prefix; figures are pure
functions of the core, drawn with `chart()`. What a figure projects, thins or leaves out is said by
the figure itself (we pass `thinned=`), so nothing here adds numbers of its own.

Figures are memoised on what they show and rebuilt only as often as the server can afford
(lab.throttle): every session's figures are built in the server's one Python process.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable

import plotly.graph_objects as go
import streamlit as st

from rnnviz import figures as F
from rnnviz.checkpoint import CheckpointError
from rnnviz.tasks.anbn import expected_completion, scored_continuation

from . import presenter
from .snapshot import Snapshot
from .throttle import Memo

log = logging.getLogger("rnnviz.lab")
COLUMN_GAP = 17    # px between Streamlit's columns (gap "small": 1rem)
TABLE_ROWS = 15    # epochs in the table of predictions (presenter mode: presenter.TABLE_ROWS)
_bases = Memo(size=64)
_figures = Memo()


def _memo(build, key: str, runs: tuple[Snapshot, ...], what: tuple, options: tuple = ()):
    """build(), memoised per view of `runs` and `options` (what the user chose: log axis, layer...) on
    `what` (the data it shows), and throttled while they train (lab.throttle); a new choice is built at once."""
    slot = (key, *(v.run.id for v in runs), *options)
    return _figures.get(slot, what, build, live=any(v.run.active for v in runs))


def theme() -> str | None:
    """The browser's theme: "light", "dark", or None before the browser has said."""
    return st.context.theme.type


def width(share: float = 1.0) -> int:
    """px a chart gets in a column of `share` of the page's width (the page's: F.PAGE_WIDTH, or the
    presenter's wider one), less the gap between columns."""
    page = presenter.PAGE_WIDTH if presenter.on() else F.PAGE_WIDTH
    return round(page * share - (COLUMN_GAP if share < 1 else 0))


def _shown(fig: go.Figure, px: int, page: str | None) -> go.Figure:
    """`fig` as this page shows it: wrapped for px, in the page's theme, enlarged in presenter mode. A
    new figure (refit copies): the builder's may be shared by every page that shows it."""
    fig = F.themed(F.refit(fig, px), page)
    if presenter.on():
        presenter.chart_layout(fig)
    return fig


def chart(fig, key: str, runs: tuple[Snapshot, ...] = (), what: tuple = (), options: tuple = (),
          share: float = 1.0) -> None:
    """Show a figure with the figures' own template, dark on a dark page (rnnviz.figures.theme), its
    title and notes wrapped to the width it gets (`share` of the page: a column). With `runs`, `fig`
    is a builder (see _memo), memoised per theme and width."""
    page, px, present = theme(), width(share), presenter.on()
    if runs:
        build = fig
        fig = _memo(lambda: _shown(build(), px, page), key, runs, what, (*options, page, px, present))
    else:
        fig = _shown(fig, px, page)
    st.plotly_chart(fig, theme=None, key=key, config={"displaylogo": False, "toImageButtonOptions": {
        "format": "png", "filename": f"rnnviz-{key.replace('.', '-')}", "scale": 2},
        # PNG, zoom, pan and reset: the toolbar then takes 152 px of the title's line on hover, not 224
        "modeBarButtonsToRemove": ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"]})


def _at(view: Snapshot) -> tuple:
    """What a view of one run shows: its selected record and how many records lead there."""
    return view.rec.epoch if view.rec else 0, len(view.records), view.thinned


def _probe_at(view: Snapshot) -> int:
    return view.probe_rec.epoch if view.probe_rec else 0


@contextmanager
def explained(what: str = ""):
    """Show a core error (bad prime, unknown token, broken checkpoint) as a message, not a traceback."""
    try:
        yield
    except (ValueError, RuntimeError, CheckpointError) as e:   # RuntimeError: torch on odd weights
        st.error(f"{what}{': ' if what else ''}{e}", icon=":material/error:")


def tabs(key: str, panels: dict[str, Callable[[], None]]) -> None:
    """Lazy tabs: only the open tab is computed, so hidden views cost nothing while a run trains.
    A view that fails says so in its tab; the page, the other views and the runs carry on."""
    for (title, draw), tab in zip(panels.items(), st.tabs(list(panels), key=key, on_change="rerun")):
        if tab.open:
            with tab:
                try:
                    draw()
                except Exception as e:  # noqa: BLE001 - Streamlit's own control flow is a BaseException
                    log.exception("view %r failed", title)
                    st.error(f"The view “{title}” could not be drawn: {type(e).__name__}: {e}",
                             icon=":material/broken_image:")


def _runs(views: dict[str, Snapshot]) -> dict:
    return {name: v.records for name, v in views.items()}


# ---- training curves -------------------------------------------------------------------------------
def loss(views: dict[str, Snapshot], key: str, accuracy: bool = False, dotted: tuple[str, ...] = (),
         share: float = 1.0) -> None:
    """The loss (and accuracy) curves of the runs; `dotted` runs dotted, on top (F.loss_figure); in a
    column of `share` of the page."""
    log = st.toggle("log scale", key=f"{key}.log", persist_state="session",
                    help="A log axis shows the late, small improvements as clearly as the first ones")
    thinned = any(v.thinned for v in views.values())
    first = next(iter(views.values()))
    runs, what = tuple(views.values()), tuple(_at(v) for v in views.values())
    chart(lambda: F.loss_figure(_runs(views), log_y=log, thinned=thinned, x=first.unit, dotted=dotted,
                                loss_name=first.task.loss_name), f"{key}.loss", runs, what, (log,), share)
    if accuracy and any(r.val_acc is not None or r.train_acc is not None for v in runs for r in v.records):
        chart(lambda: F.accuracy_figure(_runs(views), thinned=thinned, x=first.unit, dotted=dotted), f"{key}.acc",
              runs, what, share=share)


# ---- predictions ------------------------------------------------------------------------------------
def headline(view: Snapshot, with_inputs: bool = False) -> None:
    """The selected epoch's prediction in big letters, coloured where it is scored (F.headline_html);
    with_inputs: the input tokens first."""
    text = F.headline_html(view.rec.prediction, f"{view.unit} {view.rec.epoch}", with_inputs) if view.rec else ""
    if text:
        st.markdown(text, unsafe_allow_html=True)


def predictions(view: Snapshot, key: str, with_inputs: bool = False) -> None:
    """The headline and the table of predictions per epoch; with_inputs: with the input tokens."""
    headline(view, with_inputs)
    # HTML, not a plotly text heatmap: a browser draws it many times faster (see rnnviz.figures.tables)
    rows = presenter.TABLE_ROWS if presenter.on() else TABLE_ROWS
    st.html(_memo(lambda: F.prediction_table_html(view.records, rows, with_inputs=with_inputs), f"{key}.table",
                  (view,), _at(view), (rows,)))


def continuation(prefix: list[str], continued: list[str]) -> None:
    """aⁿbⁿaⁿ: a prefix and a model's continuation, coloured where it is scored (as the task's accuracy:
    every token after the first b), and whether it is the one correct continuation."""
    st.markdown(F.continuation_html(prefix, continued, scored_continuation(prefix, continued)),
                unsafe_allow_html=True)
    want = expected_completion(prefix)
    if want is None and "b" not in prefix:
        st.caption("This prefix does not fix n yet (no *b* after the a's): until the first *b* the next token "
                   "is a guess and is not scored (faded); after it every token is determined.")
    elif want is None:
        st.warning("This prefix is not the start of any aⁿbⁿaⁿ EOS, so no continuation is right.",
                   icon=":material/close:")
    elif continued == want:
        st.success(f"Right: the only correct continuation is `{' '.join(want)}`.", icon=":material/check:")
    else:
        st.warning(f"Not right yet: the correct continuation is `{' '.join(want)}`.", icon=":material/close:")


def topk(view: Snapshot, key: str) -> None:
    chart(lambda: F.topk_figure(view.rec.prediction if view.rec else None), f"{key}.topk", (view,), _at(view))


# ---- inside the cell ---------------------------------------------------------------------------------
def _basis(view: Snapshot, layer: int):
    """One PCA basis fitted on every recorded probe of the run, so the axes stay put while scrubbing."""
    # each probe read once: a thinning (History.keep_newest_probe, the probe budget) may drop it meanwhile
    probes = [p for r in view.all_records if (p := r.probe) is not None]
    key = (view.run.id, layer, len(probes), view.all_records[-1].epoch if view.all_records else 0)
    return _bases.get(key, None, lambda: F.fit_pca_basis(probes, layer=layer, dims=3))


def trajectory(view: Snapshot, key: str, dims: int = 2, layer: int = -1) -> None:
    pr = view.probe_rec
    probes = sum(r.probe is not None for r in view.all_records)
    chart(lambda: F.trajectory_figure(pr.probe if pr else None, _basis(view, layer), view.task.probe_labels(),
                                      layer=layer, dims=dims, title_epoch=pr.epoch if pr else None),
          f"{key}.traj", (view,), (_probe_at(view), probes), (dims, layer))


def hidden_state(view: Snapshot, key: str) -> None:
    """The trajectory (2-D) and the heatmap of h_t, one under the other."""
    trajectory(view, key)
    hidden(view, key)


def hidden(view: Snapshot, key: str, layer: int = -1) -> None:
    pr = view.probe_rec
    chart(lambda: F.hidden_heatmap(pr.probe if pr else None, view.task.probe_labels(), layer=layer),
          f"{key}.hidden", (view,), _probe_at(view), (layer,))


def gates(view: Snapshot, key: str, layer: int = -1, direction: int = 0) -> None:
    pr, cell = view.probe_rec, view.run.mcfg.cell
    labels = view.task.probe_labels()
    probe = pr.probe if pr else None
    what, how = _probe_at(view), (layer, direction)
    chart(lambda: F.gate_heatmaps(probe, labels, cell=cell, layer=layer, direction=direction), f"{key}.gates",
          (view,), what, how)
    chart(lambda: F.gate_means_figure(probe, labels, cell=cell, layer=layer, direction=direction), f"{key}.gmeans",
          (view,), what, how)


# ---- gradients ----------------------------------------------------------------------------------------
def gradient_lines(views: dict[str, Snapshot], key: str, which: str = "grad_h") -> None:
    task = next(iter(views.values())).task
    probes = {name: v.probe_rec.probe if v.probe_rec else None for name, v in views.items()}
    left, right = st.columns([3, 1])
    with left:
        chart(lambda: F.grad_norm_figure(probes, task.probe_labels(), which=which, tick_inputs=task.tick_inputs),
              f"{key}.gradlines", tuple(views.values()), tuple(_probe_at(v) for v in views.values()), (which,),
              share=0.75)
    with right:
        st.markdown("**Spectral radius ρ of W_hh**")
        st.caption("above 1 the recurrence can amplify, below 1 it shrinks signals and gradients step by step")
        for name, v in views.items():
            epoch = f" ({v.unit} {v.probe_rec.epoch})" if v.probe_rec else ""
            st.markdown(f"*{name}*{epoch}")
            st.code(F.spectral_radius_text(v.probe_rec.probe if v.probe_rec else None), language=None,
                    wrap_lines=True)


def gradient_map(view: Snapshot, key: str, which: str = "grad_h", direction: int = 0) -> None:
    chart(lambda: F.grad_heatmap(view.records, which=which, thinned=view.thinned, direction=direction),
          f"{key}.gradmap", (view,), _at(view), (which, direction))


def clipping(view: Snapshot, key: str) -> None:
    if not view.run.tcfg.clip:
        st.caption("Clipping is off for this run (clip = 0): the bars stay at 0. Set *clip gradient norm at* "
                   "under Training and train again to compare.")
    chart(lambda: F.grad_norm_clip_figure(view.records, thinned=view.thinned, clip=view.run.tcfg.clip or None),
          f"{key}.clip", (view,), _at(view))


def spectral(view: Snapshot, key: str) -> None:
    chart(lambda: F.spectral_radius_figure(view.records, thinned=view.thinned), f"{key}.rho", (view,), _at(view))


# ---- sequences ----------------------------------------------------------------------------------------
def sine(view: Snapshot, key: str, free: tuple[int, list[float]] | None = None, share: float = 1.0) -> None:
    """The probe window teacher-forced, and `free` = (kept epoch, free-running values) after it; in a
    column of `share` of the page."""
    kept, values = free if free else (None, None)
    chart(lambda: F.sine_figure(view.rec.prediction if view.rec else None, free_running=values, name=view.name),
          f"{key}.sine", (view,), (_at(view), kept), (len(values or ()),), share)
