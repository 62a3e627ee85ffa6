"""Widgets of a lab page found as a user finds them, by role and label: for the browser tests and the
bench (Playwright pages)."""
from __future__ import annotations

import re


def button(page, label: str):
    """A button by its label (its accessible name also holds the icon's name and its key: "play_arrow Train
    Shortcut T")."""
    return page.get_by_role("button", name=re.compile(rf"(^|\s){re.escape(label)}( Shortcut \S+)?$")).first


def slider(page, label: str | re.Pattern):
    """A slider by its label, a string or a pattern (Streamlit 1.67 names a slider twice, "epochs epochs")."""
    lab = label.pattern if isinstance(label, re.Pattern) else re.escape(label)
    return page.get_by_role("slider", name=re.compile(rf"^{lab}( {lab})?$"))
