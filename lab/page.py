"""What every lesson page does first: its lesson, and the lesson's header."""
from __future__ import annotations

import streamlit as st

from . import links, presenter, presets, pretrained, share
from .lessons import BY_KEY, Lesson


def lesson(key: str) -> Lesson:
    """The lesson of a page (call it first thing on the page)."""
    return BY_KEY[key]


def header(lesson: Lesson) -> None:
    """The lesson's title with the presenter toggle and its link, its presets, its pretrained models.
    The first time a session draws the lesson after opening a link, the link's preset applies here
    (before the settings draw); a lesson without settings says here what of its link it could not use."""
    with st.container(horizontal=True, vertical_alignment="center"):
        st.title(lesson.heading, width="stretch")
        presenter.toggle()
        share.button(lesson)
    params = links.visit(lesson.key)
    if lesson.tasks:
        presets.from_link(lesson, params)
    elif missed := links.left_out(params, {}, taken=()):    # no settings, presets or runs to take them
        st.warning("The link's " + ", ".join(missed) + " could not be used here.")
    if not presenter.on():             # (presenter mode: under the panel, lab.panel)
        presets.picker(lesson)
        pretrained.picker(lesson)
