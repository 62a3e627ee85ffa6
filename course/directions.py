"""The direction a view shows of a bidirectional run (forward or reverse), chosen on the page."""
from __future__ import annotations

import streamlit as st

from rnnviz.probes import DIRECTION_NAMES

from lab.snapshot import Snapshot


def choice(view: Snapshot, key: str) -> int:
    """0 (forward) for a one-direction run; for a bidirectional one, the direction picked in a radio."""
    if not view.run.mcfg.bidirectional:
        return 0
    return st.radio("direction", [0, 1], format_func=DIRECTION_NAMES.__getitem__, horizontal=True, key=key,
                    help="A bidirectional layer runs twice: forward (t = 0 first) and reverse (the last step first).")
