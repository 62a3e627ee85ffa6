"""The teacher: a session that typed the key in env RNNVIZ_TEACHER_KEY on the Checkpoints page. It may
publish its own checkpoints to the class folder and take them down again (lab.checkpoints).

A room holds a student who will try keys, from as many browsers as they like: wrong keys are counted
per computer (the connection's address, not the browser's cookie), at most WRONG_KEYS in WRONG_KEYS_S,
after which that computer's keys are not even compared until the oldest wrong one is WRONG_KEYS_S old.
Other computers, the teacher's among them, are not held up.
"""
from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections import defaultdict, deque

import streamlit as st

log = logging.getLogger("rnnviz.lab")
SESSION_KEY = "lab.teacher"
WRONG_KEYS = 5          # wrong keys a computer may type...
WRONG_KEYS_S = 600      # ...in this many seconds
_wrong: dict[str, deque[float]] = defaultdict(deque)    # computer -> when its recent wrong keys came
_lock = threading.Lock()


def key_set() -> bool:
    return bool(os.environ.get("RNNVIZ_TEACHER_KEY"))


def is_teacher() -> bool:
    return bool(st.session_state.get(SESSION_KEY)) and key_set()


def _computer() -> str:
    """Where the connection comes from (Streamlit gives None for this machine itself)."""
    return st.context.ip_address or "localhost"


def try_key(key: str, now: float | None = None) -> str:
    """Make this session the teacher if `key` is the teacher key. Returns why not ("" when it is)."""
    secret, where = os.environ.get("RNNVIZ_TEACHER_KEY", ""), _computer()
    now = time.monotonic() if now is None else now
    with _lock:
        wrong = _wrong[where]
        while wrong and now - wrong[0] > WRONG_KEYS_S:
            wrong.popleft()
        if len(wrong) >= WRONG_KEYS:
            wait = max(1, round((WRONG_KEYS_S - (now - wrong[0])) / 60))
            return (f"{WRONG_KEYS} wrong teacher keys came from this computer in the last {WRONG_KEYS_S // 60} "
                    f"minutes: try again in {wait} minute{'s' * (wait != 1)}.")
        ok = bool(secret) and hmac.compare_digest(key.encode(), secret.encode())
        if not ok:
            wrong.append(now)
    st.session_state[SESSION_KEY] = ok
    if not ok:
        log.warning("a wrong teacher key from %s (%d in %d s)", where, len(wrong), WRONG_KEYS_S)
        return "That is not the teacher key."
    return ""
