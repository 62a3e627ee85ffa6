"""The live part of a lesson page: progress, the epoch scrubber and the lesson's views, redrawn while
its runs train.

Training happens in worker processes (lab.jobs); the page script never waits for it. The run bar and
this live part stand in one fragment, the lesson's panel (lab.controls.panel): a click on a run's
buttons, and a run's end, rerun only the panel, not the whole page. The progress lines keep
themselves current in the browser (the server pushes lab.pulse their progress 5 times a second, with
no Streamlit rerun; it reruns the panel when a run pauses or ends); so does the sidebar's status.
While a run of the lesson is queued or running, the views are a fragment of their own that reruns
every VIEWS_S seconds (`st.fragment(run_every=...)`; less often when many runs train on the server)
and redraws them from the runs' thread-safe History snapshots. When nothing trains, the views stop
and the bars hear no more (the bars of a paused run still do, to see it resume). The scrubber (a
slider over the recorded epochs) rewinds every view.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st

from rnnviz.figures import empty_figure
from rnnviz.recorder import EpochRecord

from . import jobs as joblib
from . import pulse, runs
from .jobs import Job
from .lessons import Lesson

VIEWS_S = 1.0      # the views of a training run are redrawn once a second (lab.throttle: at most that often)
VIEWS_MAX_S = 2.0  # ...and less often, down to this, when many runs train on the server (a classroom)
DRAWN = "lab.drawn"   # lesson -> {run name: state} as the run bar read them (see drawn())


@dataclass
class RunView:
    """One run as the views see it: its records up to the scrubbed epoch."""
    name: str
    job: Job
    records: list[EpochRecord]       # recorded up to the selected epoch
    all_records: list[EpochRecord]   # everything recorded (e.g. to fit one PCA basis for all epochs)
    rec: EpochRecord | None          # the selected epoch's record
    probe_rec: EpochRecord | None    # the latest record with a probe, up to the selected epoch

    @property
    def task(self):
        return self.job.task

    @property
    def thinned(self) -> bool:
        return self.job.history.thinned

    @property
    def unit(self) -> str:
        return self.job.history.unit


def _notes(job: Job) -> None:
    """Under a run's progress line: why it failed or stopped, where its weights came from."""
    state = job.state
    if state in ("diverged", "error"):
        st.error(job.reason, icon=":material/warning:")
    elif state in ("finished", "stopped") and job.reason:
        st.caption(job.reason)
    elif state == "loaded":
        st.caption(f"Loaded from `{job.origin}` — **Continue** trains on from these weights.")


def _scrub(lesson: Lesson, jobs: dict[str, Job]) -> dict[str, RunView]:
    snaps = {name: job.history.snapshot() for name, job in jobs.items()}
    if not any(snaps.values()):
        return {}
    unit = next(j.history.unit for n, j in jobs.items() if snaps[n])
    lo = min(s[0].epoch for s in snaps.values() if s)
    latest = max(s[-1].epoch for s in snaps.values() if s)
    # a run in progress: up to where it will end; an ended one (stopped at 137 of 2,000): its last record
    hi = max([latest, *(j.final_epoch for j in jobs.values() if j.active)])
    upto = hi
    if hi > lo:
        key = f"{lesson.key}.scrub." + "-".join(j.id for j in jobs.values())
        upto = st.slider(f"{unit} shown — drag to rewind every view; at the right end they follow training",
                         lo, hi, value=hi, key=key)
    views = {}
    for name, job in jobs.items():
        recs = [r for r in snaps[name] if r.epoch <= upto]
        probed = [r for r in recs if r.probe is not None]
        views[name] = RunView(name, job, recs, snaps[name], recs[-1] if recs else None,
                              probed[-1] if probed else None)
    if upto < latest:
        st.caption(f":material/history: rewound to {unit} {upto:,} (latest recorded: {latest:,})")
    return views


def polled(draw: Callable[[], None], every: float | None) -> None:
    """draw() as a fragment that reruns every `every` seconds, or, with None, as plain code in a
    container. Not a fragment with run_every=None: the browser keeps a fragment's timer when the
    fragment is registered again without one, and stops it only when a rerun of the enclosing fragment
    (the panel) does not register it at all, or at a full rerun."""
    if every:
        st.fragment(run_every=every)(draw)()
    else:
        with st.container():
            draw()


def views_interval() -> float:
    """Seconds between redraws of the views of a page whose runs train."""
    return min(VIEWS_MAX_S, VIEWS_S * pulse.poll_interval() / pulse.POLL_S)


def drawn(lesson_key: str, jobs: dict[str, Job]) -> dict[str, str]:
    """The runs' states, read once for the run bar's buttons and kept for live(): a run that ends
    while the page draws (after the buttons, before the live part; a stopped run that was waiting for
    a trainer takes up to 0.1 s) must still make the page redraw its buttons."""
    states = {name: job.state for name, job in jobs.items()}
    st.session_state.setdefault(DRAWN, {})[lesson_key] = states
    return states


def live(lesson: Lesson, body: Callable[[dict[str, RunView]], None]) -> None:
    """Progress, scrubber and `body(views)` for the lesson's runs; redrawn live while they train."""
    jobs = runs.current(lesson.key)
    seen = st.session_state.get(DRAWN, {}).pop(lesson.key, None)   # what the buttons show
    if seen is None or set(seen) != set(jobs):
        seen = {name: job.state for name, job in jobs.items()}
    polling = any(s in ("queued", "running") for s in seen.values())
    # the bars watch a paused run too: a resumed run reads "paused" until its worker says otherwise, and
    # only a push shows it train again (the page used to show "paused" while the run went on)
    watching = any(s in joblib.ACTIVE for s in seen.values())

    # the progress bars stand outside the views' fragment: the browser keeps them current (lab.pulse),
    # the views' reruns leave them alone, and a phase change pushed to them reruns the panel at once
    pulse.show(jobs, {n: pulse.phase(s) for n, s in seen.items()}, watching, key=f"{lesson.key}.pulse")
    if any(job.reason or job.state == "loaded" for job in jobs.values()):
        cols = st.columns(len(jobs)) if len(jobs) > 1 else [st.container()]
        for col, job in zip(cols, jobs.values()):
            with col:
                _notes(job)

    def area():
        now = {name: job.touch().state for name, job in jobs.items()}
        # a run paused or ended and the buttons still show the old phase: the bars rerun the panel within
        # a push (0.2 s); only when they have not by the next redraw (no WebSocket through a proxy, say)
        # is the page redrawn from here (a fragment cannot rerun its panel). At once, this beat the bars
        # now and then and redrew the whole page after a button (browser test, 2 of 6 runs).
        stale = f"{lesson.key}.stale"
        if any(pulse.phase(now[n]) != pulse.phase(seen[n]) for n in jobs):
            if st.session_state.get(stale) == now:
                st.rerun()
            st.session_state[stale] = now
        else:
            st.session_state.pop(stale, None)
        if not jobs:
            st.info("Press **Train** to start a run; it trains in the background while you watch.",
                    icon=":material/play_circle:")
            # empty axes where the curves will be; it also makes the browser load plotly.js now, not
            # after the first click (that took seconds before the first chart appeared)
            st.plotly_chart(empty_figure("no run yet: press Train", title="loss"), theme=None,
                            key=f"{lesson.key}.placeholder", config={"displaylogo": False, "staticPlot": True})
            return
        views = _scrub(lesson, jobs)
        if views:
            body(views)
        else:
            st.info("Waiting for the first record…", icon=":material/hourglass_top:")

    polled(area, views_interval() if polling else None)


def sidebar_status(titles: dict[str, str], lesson_key: str | None) -> None:
    """In the sidebar: how many trainers are busy, and this session's runs of other lessons (they train
    in the background). Kept current by the browser (lab.pulse, every 2 s), never by a Streamlit rerun:
    a fragment that reran itself in the sidebar now and then made the lesson's task choice under it
    vanish from the page (classroom benchmark, 3 times). The server's pushes to it also mark those runs
    as seen, so the runs someone is watching are never taken for orphans."""
    background = {f"{titles.get(j.lesson, j.lesson)}: {j.name}": j for j in runs.touch_all()
                  if j.lesson != lesson_key and j.active}
    with st.sidebar:
        pulse.show_status(background, key="lab.status")
