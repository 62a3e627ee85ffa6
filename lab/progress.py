"""The progress lines of a lesson's runs: a small component the browser keeps current by itself.

Rerunning a Streamlit fragment 5 times a second made Chromium rebuild the page's element tree each
time (0.4-0.8 of a core on a 2-core machine, where the trainer runs too). So the progress line
(state, epoch, loss, speed) is a component (web/progress.js) that asks the server for its runs'
progress every POLL_S seconds, GET .../rnnviz/progress?ids=<run ids> (a route of the app's server,
app.py), and changes a few DOM nodes; the views are redrawn by the panel's fragment once a second.
When a run's phase changes by itself (it finishes, fails, is paused from another tab) the component
reruns the panel it stands in, so the buttons follow at once.

The route answers a browser only about its own runs (the token it sends, lab.identity) and only from
an origin Streamlit's own WebSocket would accept. `facts(run)` is the one place that words a run's
progress; the page's draw and every answer use it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import streamlit as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from streamlit import config
from streamlit.web.server.starlette.starlette_websocket import _is_origin_allowed

from rnnviz.run import Run
from rnnviz.trainer import record_words, steps_per_record

from . import identity, registry

ROUTE = "/rnnviz/progress"
MAX_IDS = 16          # runs one page may ask for
POLL_S = 0.2          # a page asks for its runs' progress 5 times a second...
POLL_FULL = 4         # ...while at most this many runs train on the server; with more (a classroom), less often
POLL_MAX_S = 1.0
HIDDEN_S = 30.0       # seconds between two asks of a hidden browser tab
WORDS = {"new": "not started", "waiting": "waiting", "running": "training", "paused": "paused",
         "finished": "finished", "stopped": "stopped", "diverged": "diverged", "error": "failed"}
_WEB = Path(__file__).parent / "web"
# defined once, at import (Streamlit registers it again on each AppTest's runtime when it mounts)
_COMPONENT = st.components.v2.component("rnnviz_progress", html="", css=(_WEB / "progress.css").read_text(),
                                        js=(_WEB / "progress.js").read_text(), isolate_styles=False)


def _rate(per_second: float) -> str:
    """A rate as the progress line shows it: whole numbers from 10 up, two digits below."""
    return f"{per_second:,.0f}" if per_second >= 10 else f"{per_second:.2g}"


def facts(run: Run) -> dict:
    """What the progress line of `run` shows: its phase, the text after its name and the fraction done.
    Plain strings: the component sets them as text, never as HTML."""
    state = run.state     # before the last record: records come before the state they led to
    last = run.history.last
    words = WORDS.get(state, state)
    if state == "waiting":
        words = run.reason or words
    elif state == "running" and run.held:
        words = "pausing…"
    elif state == "paused" and not run.held:
        words = "resuming…"
    if run.held and state == "waiting":
        words += " · starts paused"
    parts = [words]
    if last:
        parts.append(f"{run.unit} {last.epoch:,} of {run.total:,}")
        # a regression's loss is its MSE: "validation MSE", the mean over the validation data, is then told
        # apart from the sine chart's "MSE on this window"
        train, val = ("training MSE", "validation MSE") if run.task.kind == "regress" else ("loss", "val")
        parts.append(f"{train} {last.loss:.4g}")
        # validation runs at every k-th record point: the newest one measured, with its epoch if older
        if (checked := run.history.last_validated) is not None:
            parts[-1] += f" · {val} {checked.val_loss:.4g}" + \
                ("" if checked is last else f" ({run.unit} {checked.epoch:,})")
    # the speed in the speed limit's unit, record points a second; a rate only while it trains: paused,
    # resuming or waiting, the worker's last rate is not true now
    name, what = record_words(run.tcfg.steps)
    unit = f"{name}/s" + (f" ({what})" if what else "")
    if state == "running" and run.records_per_second:
        limit = f", speed limit {run.pace:g}/s" if run.pace else ""
        parts.append(f"{_rate(run.records_per_second)} {unit}{limit}")
    elif state in ("finished", "stopped", "diverged") and last and last.seconds > 0:
        records = last.step / steps_per_record(run.tcfg.steps) if run.unit == "step" else last.epoch
        parts.append(f"{_rate(records / last.seconds)} {unit} overall")
    done = run.done / run.total if run.total else 0.0
    return {"phase": run.phase, "text": " · ".join(parts), "done": min(max(done, 0.0), 1.0)}


def load() -> tuple[float, str]:
    """From one count of the server's trainers: seconds between two asks of a page (longer when many
    runs train: a classroom) and the sidebar's line about them."""
    training, waiting, slots = registry.get().runner.load()
    interval = min(POLL_MAX_S, POLL_S * max(1.0, (training + waiting) / POLL_FULL))
    line = f"The server trains {training} of at most {slots} runs at once"
    return interval, line + (f"; {waiting} wait for their turn" if waiting else "")


def snapshot(owner: str | None, ids: list[str]) -> dict:
    """{"runs": {id: facts}, "interval": s, "busy": line, "at": server time}: only `owner`'s runs."""
    at = time.monotonic()     # before reading: the facts are at least this new (see the component)
    reg = registry.get()
    mine = reg.runs_of(owner) if owner else {}
    found = {jid: mine.get(jid) for jid in ids[:MAX_IDS]}
    interval, busy = load()
    return {"runs": {jid: facts(run.touch()) for jid, run in found.items() if run is not None},
            "interval": interval, "busy": busy, "at": at}


async def endpoint(request: Request) -> Response:
    """GET .../rnnviz/progress?ids=<id>,<id>, header X-Rnnviz-Id: the browser's token."""
    if not _is_origin_allowed(request.headers.get("origin"), request.headers.get("host")):
        return Response("origin not allowed", status_code=403)
    token = request.headers.get("x-rnnviz-id", "")
    owner = identity.owner_of(token) if identity.valid(token) else None
    body = snapshot(owner, request.query_params.get("ids", "").split(","))
    return Response(json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})


def url() -> str:
    """The route under the server's base URL (server.baseUrlPath), as the browser must ask for it."""
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{ROUTE}" if base else ROUTE


def routes() -> list:
    """app.py's routes; again under any prefix, since Streamlit serves its pages under server.baseUrlPath
    but leaves an App's own routes where they are."""
    return [Route(prefix + ROUTE, endpoint, methods=["GET"]) for prefix in ("", "/{base:path}")]


def _mount(named: dict[str, Run], key: str, with_busy: bool, **options) -> None:
    at = time.monotonic()
    interval, busy = load()
    data = {"at": at, "runs": [{"id": run.id, "name": name, "facts": facts(run)} for name, run in named.items()],
            "interval": interval, "hidden": HIDDEN_S, "url": url(), "token": identity.token(),
            "busy": busy if with_busy else None, **options}
    # a list, not a dict: Streamlit looks for dataframes among a dict's values, which imports pandas
    _COMPONENT(data=[data], key=key, on_phases_change=lambda: None)


def phases(named: dict[str, Run]) -> str:
    """The runs' phases as the page's buttons were drawn for them (the component compares)."""
    return ",".join(run.phase for run in named.values())


def show(named: dict[str, Run], key: str, drawn: str) -> None:
    """Progress lines of a lesson's runs (name -> Run), side by side. While one is active the browser
    keeps them current; when their phases differ from `drawn` (those the buttons were drawn for) it
    reruns the fragment they stand in (the panel), also when they changed while the page was drawn."""
    poll = drawn != phases(named) or any(r.active for r in named.values())
    _mount(named, key, False, poll=poll, rerun=True, columns=True,
           phases=drawn, testid="rnnviz-progress")


def show_status(named: dict[str, Run], key: str) -> None:
    """The sidebar: a line about the server's trainers and the progress of `named` (the student's runs
    in other lessons), one under the other, every 2 s; it reruns nothing."""
    _mount(named, key, True, poll=True, rerun=False, columns=False, phases="", testid="rnnviz-background",
           interval=2.0)
