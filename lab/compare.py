"""Runs side by side: the student's earlier runs of a lesson laid over the ones on screen (loss,
accuracy, the gradient through time), each curve named by what differs between the runs."""
from __future__ import annotations

import streamlit as st

from rnnviz import figures as F
from rnnviz.differences import labels, settings_of
from rnnviz.export import history_csv
from rnnviz.probes import Probe
from rnnviz.recorder import EpochRecord
from rnnviz.run import Run

from . import identity, registry, views
from .lessons import Lesson

MAX_GROUPS = 4     # groups laid over each other at most (the one on screen and 3 earlier ones)


def _curves(lesson: Lesson, groups: list[dict[str, Run]]) -> dict[str, Run]:
    """label -> run, for every run of the groups; the labels say what differs between them."""
    runs = [(name, run) for group in groups for name, run in group.items()]
    fixed = tuple(lesson.fixed)     # what a side-by-side lesson sets per run: the run's name says it
    words = labels([settings_of(r.task, r.mcfg, r.tcfg) for _, r in runs], ignore=fixed)
    many = any(len(g) > 1 for g in groups)
    return {(f"{name}: {w}" if many else w) or name: run for (name, run), w in zip(runs, words)}


def newest_probe(records: list[EpochRecord]) -> Probe | None:
    """The probe of the newest record that has one, each read once: a thinning (an earlier run's
    History.keep_newest_probe) may drop a probe between two reads."""
    return next((p for r in reversed(records) if (p := r.probe) is not None), None)


def show(lesson: Lesson) -> None:
    """An expander under the lesson's views, when the student has earlier runs of it."""
    groups = [g for g in registry.get().groups(identity.owner(), lesson.key) if g]
    if len(groups) < 2:
        return
    key = f"{lesson.key}.compare"
    box = st.expander(f"Compare with your earlier runs ({len(groups) - 1} kept)", icon=":material/compare:",
                      key=key + ".open", on_change="rerun")
    if not box.open:
        return
    with box:
        picked = st.multiselect("runs", range(len(groups)), default=list(range(min(MAX_GROUPS, len(groups)))),
                                format_func=lambda i: "on screen" if i == 0 else f"{i} before",
                                key=key + ".groups", max_selections=MAX_GROUPS)
        curves = _curves(lesson, [groups[i] for i in sorted(picked)])
        if not curves:
            return st.info("Pick the runs to compare.")
        records = {label: run.history.snapshot() for label, run in curves.items()}
        thinned = any(run.history.thinned for run in curves.values())
        first = next(iter(curves.values()))
        unit = first.unit
        st.caption("Each curve is named by what differs between the runs. The lab keeps your last "
                   f"{registry.KEEP_GROUPS} runs of each lesson (fewer when all your runs take more than "
                   f"{registry.STUDENT_RUNS_MB:,} MB); **Save checkpoint** keeps one for good.")
        views.chart(F.loss_figure(records, log_y=True, thinned=thinned, x=unit, loss_name=first.task.loss_name),
                    key + ".loss")
        if any(r.val_acc is not None or r.train_acc is not None for recs in records.values() for r in recs):
            views.chart(F.accuracy_figure(records, thinned=thinned, x=unit), key + ".acc")
        probes = {label: newest_probe(recs) for label, recs in records.items()}
        if any(p is not None and p.grad_h is not None for p in probes.values()):
            task = next(iter(curves.values())).task
            views.chart(F.grad_norm_figure(probes, task.probe_labels(), tick_inputs=task.tick_inputs), key + ".grad")
            st.caption("The gradient through time of each run's last record.")
        st.download_button("Download these histories (CSV)", data=lambda: history_csv(records),
                           file_name=f"rnnviz-{lesson.key}-compared.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:", key=key + ".csv")
