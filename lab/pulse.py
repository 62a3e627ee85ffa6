"""The progress bars of a lesson's runs, kept current by the browser itself, without Streamlit reruns.

Every rerun of a Streamlit fragment makes the browser rebuild the page's element tree. At 5 reruns a
second that took Chromium 0.4-0.8 of a core on a 2-core machine, and the training worker, on the same
machine, trained 1.2-1.5x slower than the CLI. So the progress line (state, epoch, loss, steps/s) is a
small custom component (`st.components.v2`) to which the server pushes its runs' progress every
POLL_S seconds (a WebSocket, `.../rnnviz/pulse`, a route of the app's server, see app.py) and which
changes a few DOM nodes; the lesson's views are redrawn by the live fragment once a second (lab.live).
When a run's phase changes (it pauses, ends, fails) the component sets a trigger value, which reruns
the lesson's panel at once (its buttons and final views, see lab.live), so they do not wait for the
views' next rerun.

The sidebar's status is the same component (`show_status`: no rerun, every 2 s): the server's busy
trainers and the session's runs in other lessons, current without a Streamlit rerun in the sidebar.

`facts(job)` is the one place that words a run's progress; the page's first draw and every push use it.
"""
from __future__ import annotations

import json
import logging
import time

log = logging.getLogger(__name__)

STATES = {"new": "not started", "loaded": "loaded", "queued": "waiting for a free trainer", "running": "training",
          "paused": "paused", "finished": "finished", "stopped": "stopped", "diverged": "diverged", "error": "failed"}
ROUTE = "/rnnviz/progress/{ids}"   # ids: comma-separated job ids
STREAM = "/rnnviz/pulse"      # the pages' progress bars: a WebSocket (see stream)
MAX_IDS = 16                  # runs one page may ask for
MIN_GAP_S = 0.05              # seconds between two snapshots of one stream, at least
GRACE_MS = 300                # ms: a pushed phase change reruns the panel unless the page's redraw shows it by then
HIDDEN_S = 30.0               # seconds between two pushes to a hidden browser tab (its runs stay watched)
POLL_S = 0.2       # the server pushes a page its runs' progress 5 times a second...
POLL_FULL = 4      # ...while at most this many runs train on the server; with more (a classroom), less often
POLL_MAX_S = 1.0


def phase(state: str) -> str:
    """A state as the run bar's buttons see it: a queued run that starts needs no new buttons."""
    return "running" if state == "queued" else state


def facts(job) -> dict:
    """What the progress line of `job` (a lab.jobs.Job) shows: its state, the text after its name and
    the fraction done. Plain strings: the component sets them as text, never as HTML."""
    from . import jobs as joblib
    # the state first: the worker's records come before the status that follows them (a pause, the
    # end), so the last record read after it is at least the one that state was reached at. Read the
    # other way round, the reader thread could slip in between: "paused · epoch 31" of a run paused at 34
    t, state = job.trainer, job.state
    last = job.history.last
    unit = job.history.unit if last else t.unit
    parts = [STATES.get(state, state)]
    if state == "queued":
        training, waiting, slots = joblib.busy()
        parts[0] += f" ({training} of {slots} trainers busy)" + (" · starts paused" if job.held else "")
    if last:
        parts.append(f"{unit} {last.epoch:,} of {job.final_epoch:,}")
        parts.append(f"loss {last.loss:.4g}" + (f" · val {last.val_loss:.4g}" if last.val_loss is not None else ""))
    if state in ("running", "paused") and t.steps_per_second:
        limit = f" (limited to {job.pace:g} records/s)" if job.pace else ""
        parts.append(f"{t.steps_per_second:,.0f} steps/s{limit}")
    elif state in ("finished", "stopped", "diverged") and last and last.seconds > 0:
        parts.append(f"{last.step / last.seconds:,.0f} steps/s overall")   # the whole run, up to its last record
    done = t.done / t.total if job.thread is not None and t.total else (1.0 if last else 0.0)
    return {"state": state, "phase": phase(state), "text": " · ".join(parts), "done": min(max(done, 0.0), 1.0)}


def load() -> tuple[float, str]:
    """What the server's load means for a page, from one count of its trainers: the seconds between
    two pushes of a page's progress (POLL_S, longer when many runs train at once) and the sidebar's
    line of busy trainers. Every push needs both: one count, not one each."""
    from . import jobs as joblib
    training, waiting, slots = joblib.busy()
    interval = min(POLL_MAX_S, POLL_S * max(1.0, (training + waiting) / POLL_FULL))
    return interval, f"Trainers busy: {training} of {slots}" + (f" · {waiting} waiting" if waiting else "")


def poll_interval() -> float:
    """Seconds between two pushes of a page's progress (see load)."""
    return load()[0]


def snapshot(ids: list[str]) -> dict:
    """What a page's progress bars read: {"runs": {id: facts}, "interval": s, "busy": line}. Unknown ids
    are left out (a dropped run, or a server restarted under an open page); looking counts as watching a
    run."""
    import sys
    at = time.monotonic()     # before reading: the facts are at least this new (see the component's draw)
    jobs = sys.modules.get("lab.jobs")      # not imported yet: no page has run, so there are no runs
    runs = {}
    if jobs is not None:
        for jid in ids[:MAX_IDS]:
            if (job := jobs.get(jid)) is not None:
                runs[jid] = facts(job.touch())
    interval, busy = load() if jobs is not None else (POLL_MAX_S, "")
    return {"runs": runs, "interval": interval, "busy": busy, "at": at}


async def endpoint(request):
    """GET .../rnnviz/progress/<id>,<id>: the snapshot once, as JSON (for scripts and tests; the pages'
    bars use the stream)."""
    from starlette.responses import Response
    body = snapshot(request.path_params["ids"].split(","))
    return Response(json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})


def _subscription(text: str) -> tuple[list[str], float]:
    """A page's message on the stream, {"ids": [...], "every": s}; anything else asks for nothing."""
    try:
        msg = json.loads(text)
        ids = msg["ids"][:MAX_IDS] if isinstance(msg["ids"], list) else []
        return [str(i) for i in ids], min(max(float(msg.get("every", 0.0)), 0.0), HIDDEN_S)
    except (ValueError, TypeError, KeyError, AttributeError):
        return [], HIDDEN_S


async def stream(websocket) -> None:
    """WebSocket .../rnnviz/pulse: the page sends which runs it shows ({"ids", "every"}, again whenever
    that changes) and the server sends their snapshot every `interval` seconds (at least `every`),
    until the page goes. A pushed message costs the browser a third of a fetch's CPU (measured: 5 a
    second, 0.015 of a core against 0.05): on a 2-core laptop that is CPU the trainer keeps."""
    import asyncio

    from starlette.websockets import WebSocketDisconnect

    await websocket.accept()
    text, gone = None, False     # the page's latest subscription; whether the page has gone
    heard = asyncio.Event()

    async def read():
        nonlocal text, gone
        try:
            async for text in websocket.iter_text():   # (into the nonlocal text)
                heard.set()
        except Exception:   # noqa: BLE001 - however the page went, the stream ends
            pass
        gone = True
        heard.set()

    reader = asyncio.create_task(read())
    try:
        await heard.wait()
        while not gone:
            heard.clear()
            ids, every = _subscription(text)
            body = snapshot(ids)
            await websocket.send_text(json.dumps(body))
            await asyncio.sleep(MIN_GAP_S)   # a page that sends message after message gets no more than this
            try:   # until the next push, or the page's next message (nothing is lost if this times out)
                await asyncio.wait_for(heard.wait(), max(body["interval"], every) - MIN_GAP_S)
            except asyncio.TimeoutError:
                pass
    except (WebSocketDisconnect, OSError, RuntimeError):   # the page went while we sent
        pass
    except Exception:   # noqa: BLE001 - a bug here: say so in the server's log, end this page's stream
        log.exception("rnnviz progress stream failed")
    finally:
        reader.cancel()


def url(path: str) -> str:
    """`path` under the server's base URL (server.baseUrlPath), as the browser must ask for it."""
    from streamlit import config
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{path}" if base else path


def routes() -> list:
    """app.py's routes; again under any prefix, since Streamlit serves its pages under server.baseUrlPath
    but leaves an App's own routes where they are."""
    from starlette.routing import Route, WebSocketRoute
    out = []
    for prefix in ("", "/{base:path}"):
        out += [Route(prefix + ROUTE, endpoint, methods=["GET"]), WebSocketRoute(prefix + STREAM, stream)]
    return out


# ---- the component (browser side) -------------------------------------------------------------------
CSS = """
.rv-pulse { display: grid; gap: 1rem; font-family: inherit; }
.rv-run { min-width: 0; }
.rv-text { font-size: 0.875rem; line-height: 1.6; margin-bottom: 0.25rem; overflow-wrap: anywhere; }
.rv-track { height: 0.5rem; border-radius: 0.5rem; background: rgba(49, 51, 63, 0.12); overflow: hidden; }
.rv-fill { height: 100%; background: var(--st-primary-color, #0072B2); border-radius: 0.5rem; }
.rv-busy { font-size: 0.875rem; line-height: 1.6; opacity: 0.75; margin-bottom: 0.5rem; }
"""

JS = """
export default function ({ parentElement, data: [data], setTriggerValue }) {
  // one socket per mounted element; a rerun with new data replaces what it draws and asks for
  const me = parentElement.__rv || (parentElement.__rv = { ws: null, retry: null, seen: null, sent: null });
  if (!me.data || me.data.phases !== data.phases) me.sent = null;   // drawn for new phases: any change counts
  me.data = data;
  const runs = data.runs;
  let root = parentElement.querySelector(".rv-pulse");
  if (!root) {
    root = document.createElement("div");
    root.className = "rv-pulse";
    parentElement.appendChild(root);
  }
  let busy = parentElement.querySelector(".rv-busy");
  if (data.busy !== null && !busy) {
    busy = document.createElement("div");
    busy.className = "rv-busy";
    parentElement.insertBefore(busy, root);
  }
  if (busy) busy.textContent = data.busy || "";
  root.style.gridTemplateColumns = `repeat(${data.columns ? Math.max(runs.length, 1) : 1}, minmax(0, 1fr))`;
  while (root.children.length > runs.length) root.lastChild.remove();
  while (root.children.length < runs.length) {
    const run = document.createElement("div");
    run.className = "rv-run";
    run.dataset.testid = data.testid;
    run.setAttribute("role", "progressbar");
    run.setAttribute("aria-valuemin", "0");
    run.setAttribute("aria-valuemax", "100");
    run.innerHTML = '<div class="rv-text"><b></b><span></span></div>' +
                    '<div class="rv-track"><div class="rv-fill"></div></div>';
    root.appendChild(run);
  }
  // the newest facts of each run, by the server's clock: a rerun's data can reach the page after a push
  // read later (the rest of the panel is drawn first), and must not turn "paused · 36" back into
  // "training · 35"
  const newest = {};
  runs.forEach(r => { if (me.last && me.last[r.id]) newest[r.id] = me.last[r.id]; });
  me.last = newest;
  const draw = (i, f, at) => {
    const el = root.children[i];
    if (!el || !f) return;
    const had = me.last[runs[i].id];
    if (had && had.at > at) f = had.f;
    else me.last[runs[i].id] = { f, at };
    el.querySelector("b").textContent = runs[i].name;
    el.querySelector("span").textContent = " · " + f.text;
    el.querySelector(".rv-fill").style.width = (100 * f.done).toFixed(1) + "%";
    el.setAttribute("aria-valuenow", String(Math.round(100 * f.done)));
    el.setAttribute("aria-label", runs[i].name + " · " + f.text);
  };
  runs.forEach((r, i) => draw(i, r.facts, data.at));

  // the server pushes the runs' progress on a WebSocket (cheaper for the browser than fetching it)
  me.show = body => {    // kept on the element: the open socket draws with the latest call's closures
    const d = me.data;
    d.runs.forEach((r, i) => draw(i, body.runs[r.id], body.at));
    if (busy && body.busy) busy.textContent = body.busy;
    // a run paused, ended or failed: rerun the panel (its buttons and final views), unless the page's
    // own redraw brings the new phase within GRACE ms. A click's redraw waits for the workers
    // (lab.controls._each), but a push can still reach the page before it: a second redraw then was
    // wasted, and a click during it could be lost
    if (me.phases() && !me.wait) me.wait = setTimeout(() => me.settle(), me.data.grace);
  };
  me.phases = () => {   // the runs' newest phases where they differ from those the buttons were drawn for
    const d = me.data;
    const phases = d.runs.map(r => (me.last[r.id] || { f: r.facts }).f.phase).join(",");
    return d.rerun && phases !== d.phases && phases !== me.sent ? phases : null;
  };
  me.settle = () => {
    me.wait = null;
    const phases = me.phases();
    if (phases) {
      me.sent = phases;
      setTriggerValue("phases", phases);
    }
  };
  // a hidden tab asks every HIDDEN_S seconds only (its runs stay watched); shown again, it asks at once
  const ask = ws => {
    const every = document.hidden ? Math.max(me.data.every, me.data.hidden) : me.data.every;
    ws.send(JSON.stringify({ ids: me.data.runs.map(r => r.id), every }));
  };
  const connect = () => {
    me.retry = null;
    if (!me.seen) {
      me.seen = () => { if (me.ws && me.ws.readyState === WebSocket.OPEN) ask(me.ws); };
      document.addEventListener("visibilitychange", me.seen);
    }
    const ws = me.ws = new WebSocket(location.origin.replace(/^http/, "ws") + me.data.url);
    ws.onopen = () => ask(ws);
    ws.onmessage = e => { if (me.ws === ws) me.show(JSON.parse(e.data)); };
    ws.onclose = () => {    // the server restarted or the network dropped: try again while needed
      if (me.ws !== ws) return;
      me.ws = null;
      if (me.data.poll) me.retry = setTimeout(connect, 1000);
    };
  };
  const stop = () => {
    if (me.wait) { clearTimeout(me.wait); me.wait = null; }
    if (me.seen) { document.removeEventListener("visibilitychange", me.seen); me.seen = null; }
    if (me.retry) { clearTimeout(me.retry); me.retry = null; }
    if (me.ws) { const ws = me.ws; me.ws = null; ws.close(); }
  };
  if (!data.poll) stop();
  else if (!me.ws) { if (!me.retry) connect(); }
  else if (me.ws.readyState === WebSocket.OPEN) ask(me.ws);   // the runs shown changed: say so
  return stop;
}
"""


def component():
    """The registered component (once per server process)."""
    import streamlit as st

    @st.cache_resource(show_spinner=False)
    def register():
        return st.components.v2.component("rnnviz_progress", html="", css=CSS, js=JS, isolate_styles=False)
    return register()


def _mount(named_jobs: dict, key: str, with_busy: bool, **options) -> None:
    at = time.monotonic()     # before reading, as in snapshot
    runs = [{"id": job.id, "name": name, "facts": facts(job)} for name, job in named_jobs.items()]
    interval, busy = load()
    data = {"at": at, "runs": runs, "interval": interval, "url": url(STREAM), "busy": busy if with_busy else None,
            "hidden": HIDDEN_S, "grace": GRACE_MS, **options}
    # a list, not a dict: Streamlit looks for dataframes among a dict's values, which imports pandas
    # (over a second, at the first progress bar a server draws)
    component()(data=[data], key=key, on_phases_change=lambda: None)


def show(named_jobs: dict, phases: dict[str, str], poll: bool, key: str) -> None:
    """Progress lines of a lesson's runs, `named_jobs` (name -> Job), side by side. poll: the server
    keeps them current. `phases` are the phases the page's buttons were drawn for: when the pushed
    ones differ, the component reruns the fragment it stands in (the lesson's panel)."""
    _mount(named_jobs, key, False, poll=poll, every=0.0, rerun=True, columns=True,
           phases=",".join(phases.get(name, "") for name in named_jobs), testid="rnnviz-progress")


def show_status(named_jobs: dict, key: str) -> None:
    """The sidebar's status: a line of the server's busy trainers and the progress of `named_jobs`, one
    under the other, kept current every 2 s; it never reruns anything."""
    _mount(named_jobs, key, True, poll=True, every=2.0, rerun=False, columns=False,
           phases="", testid="rnnviz-background")   # tests and the bench find either by its test id
