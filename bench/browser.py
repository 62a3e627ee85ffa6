"""Browser plumbing shared by the app (part 4) and classroom (part 5) benchmarks: the Streamlit server
we start and stop, Chromium via Playwright, an injected MutationObserver that timestamps every change
of the progress text and of the views (plotly charts, HTML tables) in the page's own clock, and
selectors by role and label (button "Train", the "task" radio, the slider labelled "epochs"), as a
user finds them.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
OFFLINE = ("net::ERR_NAME_NOT_RESOLVED", "net::ERR_INTERNET_DISCONNECTED", "net::ERR_CONNECTION_REFUSED")
SPEED = "speed limit (epochs per second)"   # seoul trains in epochs
TRAIN = re.compile(r"(^|\s)Train$")

OBSERVER_JS = """() => {
  if (window.__bench) return;
  const B = window.__bench = {progress: [], chart: [], clicks: [], hadChart: [], last: null};
  // a view: a plotly chart, or an HTML view (the predictions table)
  const CH = '[data-testid="stPlotlyChart"], [data-testid="stHtml"]';
  // a chart of a run has drawn something (an empty container has no text yet); the placeholder shown
  // before any run ("no run yet") is not one
  const real = c => { const t = c ? (c.textContent || '') : ''; return t.length > 0 && !t.includes('no run yet'); };
  const all = {subtree: true, childList: true, characterData: true};
  // the progress text: textContent, not innerText (which makes the browser lay out the page at every change)
  new MutationObserver(() => {
    const el = document.querySelector('[data-testid="rnnviz-progress"]');
    const p = el ? el.textContent : null;
    if (p !== B.last) { B.last = p; B.progress.push([performance.now(), p]); }
  }).observe(document.body, all);
  // changes inside the views; B.charts(false) stops watching them (they cost the page's CPU at every
  // redraw, which a measurement of training speed must not add)
  const charts = new MutationObserver(muts => {
    const t = performance.now();
    for (const m of muts) {
      const n = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      let hit = !!(n && real(n.closest(CH)));
      if (!hit && m.type === 'childList')
        hit = [...m.addedNodes].some(a => a.nodeType === 1 && real(a.matches(CH) ? a : a.querySelector(CH)));
      if (hit) { B.chart.push(t); break; }
    }
  });
  B.charts = on => on ? charts.observe(document.body, {...all, attributes: true}) : charts.disconnect();
  B.charts(true);
  document.addEventListener('click', () => {
    B.clicks.push(performance.now());
    B.hadChart.push([...document.querySelectorAll(CH)].some(real));   // a run's charts already shown?
  }, true);
}"""

STATE_JS = """() => {
  const p = document.querySelector('[data-testid="rnnviz-progress"]');
  let head = null;
  for (const el of document.querySelectorAll('[data-testid="stMarkdownContainer"]')) {
    const m = el.innerText.match(/(?:epoch|step) [\\d,]+: (.*?) target (.*?) · (\\d+)\\/(\\d+) right/s);
    if (m) { head = {predicted: m[1].trim(), target: m[2].trim(), right: +m[3], counted: +m[4]}; break; }
  }
  return {progress: p ? p.innerText : null, head: head,
          exceptions: document.querySelectorAll('[data-testid="stException"]').length,
          alerts: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(e => e.innerText)};
}"""


def browser_unavailable() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM}"
    if not (ROOT / "app.py").exists():
        return "app.py does not exist yet"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` in a subprocess we own (stopped by its pid)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://localhost:{self.port}/"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="bench-streamlit-", suffix=".log", delete=False)
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(self.port), "--browser.gatherUsageStats", "false",
             # no file watcher: a source file saved by someone else mid-run would make Streamlit re-import
             # lab.jobs, whose new empty job registry drops every running job (seen while writing this)
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def tail(self, n: int = 1500) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def launch(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


class Watch:
    """Console errors, page exceptions and failed requests of one page (offline resources apart)."""

    def __init__(self, page):
        self.console, self.pageerrors, self.offline, self.bundle = [], [], [], {}
        page.on("request", lambda r: self.bundle.setdefault("requested", time.perf_counter())
                if "PlotlyChart" in r.url else None)
        page.on("requestfinished", lambda r: self.bundle.setdefault("loaded", time.perf_counter())
                if "PlotlyChart" in r.url else None)
        page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.pageerrors.append(str(e)))
        page.on("requestfailed", lambda r: self.offline.append(r.url) if (r.failure or "") in OFFLINE else None)

    def plotly_js(self) -> dict:
        """When Streamlit's plotly bundle (~4.7 MB of JS, fetched on the first chart) was asked for and
        had arrived, in seconds after the last Train click (perf_counter of this process)."""
        click = getattr(self, "click", None)
        return {k: None if click is None else round(v - click, 3) for k, v in self.bundle.items()}

    def errors(self) -> list[str]:
        """Console errors that are not the browser reporting an unreachable external resource."""
        real = [c for c in self.console if not (c.startswith("Failed to load resource") and self.offline)]
        return real + [f"pageerror: {e}" for e in self.pageerrors]


def open_app(page, server: Server, timeout: float = 90.0) -> float:
    """Load the app (retrying while the server starts); seconds from server start to Train visible."""
    deadline = time.perf_counter() + timeout
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.proc.returncode}: {server.tail(600)}")
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=15000)
            break
        except Exception:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.2)
    page.get_by_role("button", name=TRAIN).first.wait_for(state="visible", timeout=max(1, deadline - time.perf_counter()) * 1000)
    return time.perf_counter() - server.t0


def state(page) -> dict:
    return page.evaluate(STATE_JS)


def wait_state(page, test: Callable[[dict], bool], timeout: float, poll: float = 0.1) -> dict:
    deadline = time.perf_counter() + timeout
    while True:
        s = state(page)
        if test(s):
            return s
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s; page state {s}")
        time.sleep(poll)


def finished(s: dict) -> bool:
    return bool(s["progress"]) and any(w in s["progress"] for w in ("finished", "stopped", "diverged", "failed"))


def slider(page, label: str):
    """A slider by its label. (Streamlit 1.67 names a slider twice, "epochs epochs", for assistive
    technology, so get_by_role(name=..., exact=True) finds nothing; both spellings are accepted.)"""
    lab = re.escape(label)
    return page.get_by_role("slider", name=re.compile(rf"^{lab}( {lab})?$"))


def choose_task(page, name: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text="task").get_by_text(name, exact=True).click()
    slider(page, "epochs").wait_for(timeout=20000)
    time.sleep(1.0)   # the rerun that redraws the settings for the new task


def set_slider_end(page, label: str, want: str) -> None:
    thumb = slider(page, label)
    thumb.focus()
    thumb.press("End")
    deadline = time.perf_counter() + 20
    while thumb.get_attribute("aria-valuetext") != want and time.perf_counter() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)   # the rerun with the new value


def click_train(page) -> float:
    btn = page.get_by_role("button", name=TRAIN).first
    btn.wait_for(state="visible")
    t = time.perf_counter()
    btn.click()
    return t


def wait_run(page, timeout: float, poll: float = 0.1) -> dict:
    """After click_train: wait until the NEW run has finished. The progress text of the previous run
    stays on the page until the rerun replaces it, so only texts that changed after the click count."""
    deadline = time.perf_counter() + timeout
    while True:
        b = page.evaluate("""() => { const B = window.__bench, c = B.clicks[B.clicks.length - 1];
            const i = B.progress.findIndex(([t]) => t > c);
            return {after: i < 0 ? [] : B.progress.slice(i).map(([t, p]) => p),
                    before: i <= 0 ? (i < 0 ? B.last : null) : B.progress[i - 1][1]}; }""")
        changed = [p for p in b["after"] if p != b["before"]]
        if changed and b["after"][-1] and finished({"progress": b["after"][-1]}):
            return state(page)
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no finished run {timeout:.0f} s after Train; progress texts {b['after'][-3:]}")
        time.sleep(poll)


def timeline(page) -> dict:
    b = page.evaluate("() => { const {progress, chart, clicks, hadChart} = window.__bench; "
                      "return {progress, chart, clicks, hadChart}; }")
    click = b["clicks"][-1] if b["clicks"] else 0.0
    after = lambda ts: [t for t in ts if t > click]  # noqa: E731
    prog = [(t, p) for t, p in b["progress"] if t > click]
    first_epoch = next((t for t, p in prog if p and re.search(r"(epoch|step) [\d,]+ of", p)), None)
    # the new run's first chart: with no run's chart on the page at the click (the first click), the first
    # chart that draws anything; otherwise a chart change in the same redraw as (or after) the new run's
    # first progress text, since earlier changes are the previous run's charts redrawn by the click's rerun
    fresh = bool(b["hadChart"]) and not b["hadChart"][-1]
    first_chart = next((t for t in after(b["chart"]) if fresh or (first_epoch is not None and t >= first_epoch - 50)),
                       None)
    ms = lambda t: None if t is None else (t - click) / 1e3  # noqa: E731
    return {"click": click, "first_chart_s": ms(first_chart), "first_progress_epoch_s": ms(first_epoch),
            "first_chart_mutation_s": ms(next(iter(after(b["chart"])), None)),
            "progress": [((t - click) / 1e3, p) for t, p in prog]}


def cpu_split(server: Server) -> dict:
    """CPU seconds so far of the server, of its training worker processes, and of everything else this
    process started (Chromium, the Playwright driver): on a 2-core machine they all compete."""
    from .util import proc_cpu
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    def tree(root: int, skip: int | None = None) -> float:
        stack, total = [root], 0.0
        while stack:
            for c in kids.get(stack.pop(), []):
                if c != skip:
                    stack.append(c)
                    total += proc_cpu(c) or 0.0
        return total
    return {"server": proc_cpu(server.proc.pid) or 0.0, "workers": tree(server.proc.pid),
            "browser": tree(os.getpid(), skip=server.proc.pid)}
