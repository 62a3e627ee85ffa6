"""Which jobs belong to this browser session: one dict per lesson, run name -> job id, in session state.

The jobs themselves live in the process-wide registry of lab.jobs; a session only holds their ids, so
a rerun, a page switch or a second browser tab never copies or kills a run.
"""
from __future__ import annotations

import streamlit as st

from . import jobs

_KEY = "lab.runs"


def _table() -> dict[str, dict[str, str]]:
    return st.session_state.setdefault(_KEY, {})


def current(lesson: str) -> dict[str, jobs.Job]:
    """The lesson's jobs that still exist (the registry may have dropped idle ones), marked as seen."""
    ids = _table().get(lesson, {})
    found = {name: job.touch() for name, jid in ids.items() if (job := jobs.get(jid)) is not None}
    if len(found) != len(ids):
        _table()[lesson] = {name: job.id for name, job in found.items()}
    return found


def replace(lesson: str, new: dict[str, jobs.Job]) -> None:
    """Make `new` the lesson's runs; the old ones are stopped and dropped (their ids are forgotten)."""
    old = _table().get(lesson, {})
    keep = {j.id for j in new.values()}
    for jid in old.values():
        if jid not in keep:
            jobs.drop(jid)
    _table()[lesson] = {name: job.id for name, job in new.items()}


def clear(lesson: str) -> None:
    replace(lesson, {})


def touch_all() -> list[jobs.Job]:
    """Mark every job of this session as seen (keeps background runs of other lessons alive)."""
    return [job for lesson in list(_table()) for job in current(lesson).values()]
