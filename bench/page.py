"""What the bench reads on a lab page, and how it acts on one, as a user finds things: by role and
label (button "Train", the "task" radio, the slider labelled "epochs"), never by layout or Streamlit's
CSS classes.

OBSERVER_JS is injected into a page: a MutationObserver that timestamps, in the page's own clock
(performance.now()), every change of the progress lines (data-testid "rnnviz-progress", one per run),
of the headline ("epoch 42: ihello target ihello · 6/6 right") and of the views (plotly charts, the
HTML predictions table), and every click. It reads textContent, not innerText (which makes the browser
lay out the page at every change). B.set({charts, heads}) stops watching the views or the headline:
they cost the page's CPU at every redraw, which a measurement of training speed must not add.
TRAIN_READY_JS, an init script, timestamps the moment a page first shows an enabled Train button.
"""
from __future__ import annotations

import re
import time

from tools.widgets import button, slider  # noqa: F401  (the bench's scripts find them here)

TRAIN = re.compile(r"(^|\s)Train$")
# the speed limit names its unit: "speed limit (epochs per second)", "speed limit (records per second;
# one every 25 optimizer steps)" (lab/settings.py, rnnviz.trainer.record_words)
SPEED = re.compile(r"speed limit \((epochs|records) per second[^)]*\)")
HEAD = re.compile(r"(?:epoch|step) [\d,]+: (.*?) target (.*?) · (\d+)/(\d+) right", re.S)
ENDED = ("finished", "stopped", "diverged", "failed")

OBSERVER_JS = """() => {
  if (window.__bench) return;
  const B = window.__bench = {progress: [], heads: [], chart: [], clicks: [], hadChart: [], last: [],
                              lastHead: null, watch: {charts: true, heads: true}};
  const CH = '[data-testid="stPlotlyChart"], [data-testid="stHtml"]';
  // a view of a run has drawn something; the placeholder axes shown before any run are not one
  const real = c => { const t = c ? (c.textContent || '') : ''; return t.length > 0 && !t.includes('no run yet'); };
  const lines = () => [...document.querySelectorAll('[data-testid="rnnviz-progress"]')].map(e => e.textContent);
  const headline = () => {
    for (const el of document.querySelectorAll('[data-testid="stMarkdownContainer"]')) {
      const t = el.textContent;
      if (/^(epoch|step) [\\d,]+: /.test(t)) return t;
    }
    return null;
  };
  const all = {subtree: true, childList: true, characterData: true};
  new MutationObserver(() => {
    const t = performance.now(), p = lines();
    if (p.join('\\n') !== B.last.join('\\n')) { B.last = p; B.progress.push([t, p]); }
    if (B.watch.heads) {
      const h = headline();
      if (h !== B.lastHead) { B.lastHead = h; B.heads.push([t, h]); }
    }
  }).observe(document.body, all);
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
  charts.observe(document.body, {...all, attributes: true});
  B.set = w => {
    if ('charts' in w && w.charts !== B.watch.charts) {
      if (w.charts) charts.observe(document.body, {...all, attributes: true}); else charts.disconnect();
    }
    Object.assign(B.watch, w);
  };
  document.addEventListener('click', () => {
    B.clicks.push(performance.now());
    B.hadChart.push([...document.querySelectorAll(CH)].some(real));   // a run's views already shown?
  }, true);
}"""

TRAIN_READY_JS = """(() => {
  const ready = () => {
    if (window.__trainReady) return true;
    for (const b of document.querySelectorAll('button')) {
      // the button's text is its icon's name and its label: "play_arrowTrain"
      if (/Train$/.test(b.textContent.trim()) && !b.disabled) { window.__trainReady = performance.now(); return true; }
    }
    return false;
  };
  const watch = () => {
    if (ready()) return;
    const mo = new MutationObserver(() => { if (ready()) mo.disconnect(); });
    mo.observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['disabled']});
  };
  watch();
})();"""

# since the last click: the progress lines and headlines that came after it, and the last ones before
SINCE_CLICK_JS = """() => { const B = window.__bench, c = B.clicks.length ? B.clicks[B.clicks.length - 1] : 0;
  const i = B.progress.findIndex(([t]) => t > c);
  return {click: c, progress: B.progress.filter(([t]) => t > c), heads: B.heads.filter(([t]) => t > c),
          before: i < 0 ? B.last : (i === 0 ? [] : B.progress[i - 1][1]), last: B.last, lastHead: B.lastHead}; }"""


def head(text: str | None) -> dict | None:
    """A headline's predicted and target strings (a space is shown as an open box: made a space)."""
    m = HEAD.search(text or "")
    if not m:
        return None
    plain = lambda s: s.strip().replace("\u2423", " ")  # noqa: E731
    return {"predicted": plain(m.group(1)), "target": plain(m.group(2)), "right": int(m.group(3)),
            "counted": int(m.group(4))}


def ended(lines: list[str] | None) -> bool:
    """Every progress line says its run ended."""
    return bool(lines) and all(any(w in line for w in ENDED) for line in lines)


def after_rerun(page, runs, action, timeout: float = 60.0, since: int | None = None) -> None:
    """Do `action` (a widget change) and wait until the script run it triggers has finished (`runs`:
    the page's tools.script_runs.ScriptRuns; `since`: its count before the change, if that came
    earlier), so that the next click sees the page of the new settings."""
    before = runs.done if since is None else since
    action()
    deadline = time.perf_counter() + timeout
    while runs.done <= before:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no script run finished within {timeout:.0f} s")
        page.wait_for_timeout(50)     # lets Playwright deliver the websocket's frames


def open_app(page, server, timeout: float = 120.0) -> float:
    """Load the app and wait for the Train button; seconds from the server's process start."""
    server.wait_ready(timeout)
    page.goto(server.url, wait_until="domcontentloaded", timeout=timeout * 1000)
    button(page, "Train").wait_for(state="visible", timeout=timeout * 1000)
    page.evaluate(OBSERVER_JS)
    return time.perf_counter() - server.t0


def open_lesson(page, runs, title: str) -> None:
    """Go to a lesson through the sidebar navigation, as a student does."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title)
    after_rerun(page, runs, link.click)
    page.get_by_role("heading", name=title).wait_for(timeout=60_000)
    button(page, "Train").wait_for(state="visible", timeout=60_000)
    page.evaluate(OBSERVER_JS)          # a page switch keeps the document: this is a no-op then


def choose_task(page, runs, name: str) -> None:
    radio = page.get_by_test_id("stRadio").filter(has_text="task").get_by_text(name, exact=True)
    after_rerun(page, runs, radio.click)


def set_slider_end(page, runs, label: str | re.Pattern, want: str) -> None:
    """Move a slider to the end (with the keyboard: End, else Home) whose value text matches the
    pattern `want`, and wait for the rerun. (The speed limit's "full speed" is at its left end: the
    options are sorted, and full speed is 0.)"""
    thumb = slider(page, label)
    thumb.focus()
    for key in ("End", "Home"):
        before, shown = runs.done, thumb.get_attribute("aria-valuetext")
        thumb.press(key)
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            if re.fullmatch(want, thumb.get_attribute("aria-valuetext") or ""):
                return after_rerun(page, runs, lambda: None, since=before)
            page.wait_for_timeout(50)
        if thumb.get_attribute("aria-valuetext") != shown:     # the wrong end: wait for its rerun
            after_rerun(page, runs, lambda: None, since=before)
    raise TimeoutError(f"the slider {label!r} shows {thumb.get_attribute('aria-valuetext')!r} at both ends, "
                       f"not {want!r}")


def click_train(page) -> float:
    btn = button(page, "Train")
    btn.wait_for(state="visible")
    t = time.perf_counter()
    btn.click()
    return t


def since_click(page) -> dict:
    return page.evaluate(SINCE_CLICK_JS)


def started(b: dict) -> bool:
    """Lines other than the previous runs' came after the click (b: since_click)."""
    return any(lines != b["before"] for _, lines in b["progress"])


def wait_run(page, timeout: float, poll: float = 0.1) -> dict:
    """After click_train: wait until every run the click started has ended. The progress lines of the
    previous run stay on the page until the click's redraw replaces them, so the new runs count as
    ended once lines other than the previous ones came after the click (a run that trains shows
    "training") and the last say ended; a rerun of the same settings ends with the same lines."""
    deadline = time.perf_counter() + timeout
    while True:
        b = since_click(page)
        if started(b) and ended(b["last"]):
            return b
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no ended run {timeout:.0f} s after Train; progress lines {b['last']}")
        time.sleep(poll)


def timeline(page) -> dict:
    """Seconds after the last click of: the first view drawn by the new run, the first progress line
    with an epoch, the first view change at all; and every progress change after the click."""
    b = page.evaluate("() => { const {progress, chart, clicks, hadChart} = window.__bench; "
                      "return {progress, chart, clicks, hadChart}; }")
    click = b["clicks"][-1] if b["clicks"] else 0.0
    after = lambda ts: [t for t in ts if t > click]  # noqa: E731
    prog = [(t, p) for t, p in b["progress"] if t > click]
    first_epoch = next((t for t, p in prog if p and re.search(r"(epoch|step) [\d,]+ of", p[0])), None)
    # the new run's first view: with no run's view on the page at the click (the first click), the
    # first view that draws anything; otherwise a view change in the same redraw as (or after) the new
    # run's first progress line, since earlier changes are the previous run's views redrawn by the click
    fresh = bool(b["hadChart"]) and not b["hadChart"][-1]
    first_chart = next((t for t in after(b["chart"]) if fresh or (first_epoch is not None and t >= first_epoch - 50)),
                       None)
    ms = lambda t: None if t is None else (t - click) / 1e3  # noqa: E731
    return {"click": click, "first_chart_s": ms(first_chart), "first_progress_epoch_s": ms(first_epoch),
            "first_chart_mutation_s": ms(next(iter(after(b["chart"])), None)),
            "progress": [((t - click) / 1e3, p) for t, p in prog]}


def first_reading(b: dict, want: str) -> float | None:
    """Seconds from the click to the first headline that reads `want` (from since_click)."""
    for t, text in b["heads"]:
        h = head(text)
        if h and h["predicted"] == want:
            return (t - b["click"]) / 1e3
    return None
