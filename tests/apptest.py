"""Helpers of the AppTest tests (tests/test_app*.py): open the app as a browser, find its runs, wait."""
from __future__ import annotations

import json
import re
import secrets
import time

from streamlit.testing.v1 import AppTest

from lab import registry
from lab.identity import owner_of


def app(page: str = "chars", token: str | None = None, query: dict | None = None) -> AppTest:
    """The app as one browser opens it (`token`: the browser's cookie, None: a new browser; `query`:
    the link's query parameters)."""
    at = AppTest.from_file("../main.py", default_timeout=30)
    at.session_state["lab.identity"] = token or secrets.token_hex(16)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if page != "chars":                  # the link opens this page: its lesson is the first one drawn
        at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def owner(at: AppTest) -> str:
    return owner_of(at.session_state["lab.identity"])


def runs_of(at: AppTest, lesson: str) -> dict:
    return registry.get().current(owner(at), lesson)


def wait(at: AppTest, lesson: str, until, timeout: float = 30.0) -> dict:
    """Wait until `until(runs)` holds for the lesson's runs, then rerun the page (what the browser's
    fragments would do)."""
    end = time.time() + timeout
    while time.time() < end:
        found = runs_of(at, lesson)
        if found and until(found):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"timed out; states {[(r.state, r.reason) for r in runs_of(at, lesson).values()]}")
    at.run()
    assert not at.exception, at.exception
    return found


def finished(found) -> bool:
    return all(not r.active for r in found.values())


def recorded(n: int):
    return lambda found: all(len(r.history.snapshot()) >= n for r in found.values())


def progress_data(at: AppTest, sidebar: bool = False) -> list[dict]:
    """The data of each progress component of the lesson (its runs' first facts, poll, phases), or of
    the sidebar's status (the one with a line about the trainers)."""
    found = [json.loads(el.proto.json)[0] for el in at.get("bidi_component")
             if "rnnviz_progress" in el.proto.component_name]
    return [d for d in found if (d["busy"] is not None) == sidebar]


def progress_texts(at: AppTest) -> list[str]:
    """The progress lines as the page draws them ("rnn · training · epoch 3 of 100 · ...")."""
    return [f"{r['name']} · {r['facts']['text']}" for data in progress_data(at) for r in data["runs"]]


def text_of(at: AppTest) -> str:
    return re.sub(r"<[^>]+>", "", "\n".join(m.value for m in at.markdown))


def started(lesson: str, task: str, pace: float, epochs: int) -> AppTest:
    """The lesson's page (its key is its page's name), its runs started at this speed limit (records a
    second; 0: full speed) for `epochs`."""
    at = app(lesson)
    at.session_state[f"{lesson}.{task}.live.pace"] = pace
    at.session_state[f"{lesson}.{task}.train.epochs"] = epochs
    at.run()
    at.button(key=f"{lesson}.train").click().run()
    return at


def hihell_trained(at: AppTest, epochs: int | None = None, timeout: float = 30):
    """Train the first lesson's hihell run at full speed (for `epochs`, else its default) to its end;
    the run."""
    at.session_state["chars.hihell.live.pace"] = 0.0
    if epochs is not None:
        at.session_state["chars.hihell.train.epochs"] = epochs
    at.run()
    at.button(key="chars.train").click().run()
    (run,) = wait(at, "chars", finished, timeout=timeout).values()
    return run
