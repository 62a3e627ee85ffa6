"""A lesson's panel: the run bar, the progress lines and the lesson's views of its runs, in one fragment.

The panel is a fragment: a click on a run's button reruns it, not the page. Its progress lines keep
themselves current (lab.progress) and rerun it when a run's phase changes by itself. While a run
trains, the views are a fragment of their own inside it that reruns every VIEWS_S seconds
(`st.fragment(run_every=...)`) and redraws them from the runs' History snapshots; once nothing
trains, the panel draws them as plain elements (in a container, where the fragment's were), which
ends that fragment and its timer. The epoch scrubber (a slider over the recorded epochs) rewinds
every view.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from rnnviz.figures import empty_figure, themed
from rnnviz.run import Run

from . import compare, identity, links, presenter, presets, progress, registry, run_bar
from .lessons import Lesson
from .run_bar import lesson_runs
from .settings import Settings
from .snapshot import Snapshot, latest_probed

VIEWS_S = 1.0      # the views of a training run are redrawn once a second (lab.throttle: costly ones less often)
VIEWS_MAX_S = 2.0  # ...and less often, down to this, when many runs train on the server (a classroom)


def _notes(run: Run) -> None:
    """Under a run's progress line: why it failed or stopped, where its weights came from."""
    if run.state in ("diverged", "error"):
        st.error(run.reason, icon=":material/warning:")
    elif run.state in ("finished", "stopped"):
        # "finished N epochs" is what the progress line says already ("finished · epoch N of N")
        said = [run.reason] if run.state == "stopped" and run.reason else []
        if run.origin not in ("", "continued"):
            said.append(f"from `{run.origin}`")
        if said:
            st.caption(" · ".join(said))


def _scrub(lesson: Lesson, runs: dict[str, Run]) -> dict[str, Snapshot]:
    snaps = {name: run.history.snapshot() for name, run in runs.items()}
    if not any(snaps.values()):
        return {}
    unit = next(r.history.unit for n, r in runs.items() if snaps[n])
    lo = min(s[0].epoch for s in snaps.values() if s)
    latest = max(s[-1].epoch for s in snaps.values() if s)
    # a run in progress: up to where it will end (the slider stays put, and at its end follows the
    # training); an ended one (stopped at 137 of 2,000): its last record
    hi = max([latest, *(r.total for r in runs.values() if r.active)])
    upto = hi
    if hi > lo:
        # one slider per group on screen (a new one starts at the right end), the same for the group
        # read back from disk (new Run objects, new ids) after it left the server's memory
        key = f"{lesson.key}.scrub.{next(iter(runs.values())).group}." + "-".join(runs)
        upto = st.slider(f"{unit} shown — drag to rewind every view; at the right end they follow training",
                         lo, hi, value=hi, key=key)
    shown = {}
    for name, run in runs.items():
        recs = [r for r in snaps[name] if r.epoch <= upto]
        shown[name] = Snapshot(name, run, recs, snaps[name], recs[-1] if recs else None, latest_probed(recs))
    if upto < latest:
        st.caption(f":material/history: rewound to {unit} {upto:,} (latest recorded: {latest:,})")
    elif upto > latest and not presenter.on():   # (presenter mode: a line less, so that the charts fit 720 px)
        # at the end of a run in progress: the slider's number is where it will stop
        st.caption(f":material/fast_forward: following training: {unit} {latest:,} shown "
                   f"(the slider ends at {hi:,}, where the run stops)")
    return shown


def _views(lesson: Lesson, body: Callable[[dict[str, Snapshot]], None]) -> None:
    runs = lesson_runs(lesson)
    if not runs:
        st.info("Press **Train** to start a run; it trains in the background while you watch.",
                icon=":material/play_circle:")
        # empty axes where the curves will be; it also makes the browser load plotly.js now
        blank = themed(empty_figure("no run yet: press Train", title="loss"), st.context.theme.type)
        st.plotly_chart(blank, theme=None,
                        key=f"{lesson.key}.placeholder", config={"displaylogo": False, "staticPlot": True})
        return
    shown = _scrub(lesson, runs)
    if shown:
        body(shown)
    else:
        st.info("Waiting for the first record…", icon=":material/hourglass_top:")
    compare.show(lesson)


def views_interval() -> float:
    """Seconds between redraws of the views of a page whose runs train."""
    return min(VIEWS_MAX_S, VIEWS_S * progress.load()[0] / progress.POLL_S)


def show(lesson: Lesson, s: Settings, body: Callable[[dict[str, Snapshot]], None]) -> None:
    """The run bar, progress lines and `body(snapshots)` of the lesson's runs, in one fragment (a
    link's train=1 starts the runs first). In presenter mode the views come first, then the bar and
    the lesson's presets, so that the main chart fits the screen."""
    if links.wanted(links.visit(lesson.key), "train") == "1" and s.setup is not None:
        run_bar.train(lesson, s)

    @st.fragment
    def run_panel():
        first, then = (st.container(), st.container()) if presenter.on() else (None, None)
        with then or st.container():
            runs = lesson_runs(lesson)
            # read before the bar is drawn: a run that ends while it is drawn then differs from what the
            # browser polls, and the component reruns this fragment so the buttons follow
            drawn = progress.phases(runs)
            run_bar.draw(lesson, s, runs)
            progress.show(runs, key=f"{lesson.key}.progress", drawn=drawn)
            if any(r.state in ("finished", "stopped", "diverged", "error") for r in runs.values()):
                cols = st.columns(len(runs)) if len(runs) > 1 else [st.container()]
                for col, run in zip(cols, runs.values()):
                    with col:
                        _notes(run)
        with first or st.container():
            if any(r.active and not r.held for r in runs.values()):
                st.fragment(run_every=views_interval())(_views)(lesson, body)
            else:   # in a block, as a fragment's elements are: a late rerun of it then lands in one
                with st.container():
                    _views(lesson, body)
    run_panel()
    if presenter.on():
        presets.picker(lesson)


def sidebar_status(titles: dict[str, str], lesson_key: str | None) -> None:
    """In the sidebar: the server's trainers, and this student's runs of other lessons (they train
    in the background), kept current by the browser (lab.progress), never by a Streamlit rerun."""
    background = {f"{titles.get(r.lesson, r.lesson)}: {r.name}": r
                  for r in registry.get().active(identity.owner()) if r.lesson != lesson_key}
    with st.sidebar:
        progress.show_status(background, key="lab.status")
