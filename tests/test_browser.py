"""The lab in a real browser: `streamlit run app.py` in a subprocess, driven by Chromium (Playwright).

  1. the default page (character prediction, hihell): Train, and the prediction reads "ihello"; the
     speed limit moved to "full speed" reaches the running run, which finishes at epoch 100;
  2. "Inside the cells": train an LSTM, open the Gates tab and see the gate heatmaps (plotly) render;
     "Vanishing & exploding gradients": train rnn / lstm / gru side by side (2 trainer slots: one
     waits) and see the ||dL/dh_t|| lines render; Stop stops all three and the buttons follow;
  3. a longer run (seoul, 2,000 epochs at the lesson's pace): Stop during the run, and the run stops
     (the progress says so, its epoch counter stands still, Stop is disabled, Continue enabled);
  4. the progress bars' component alone: a rerun's data that arrives after a newer push is not drawn.
No page may show a Streamlit exception box, a traceback or a view that "could not be drawn", and the
server may log no traceback.

Skipped (with the reason) only where no browser can run: the playwright package missing or no
Chromium at /usr/bin/chromium (run.sh installs Debian's chromium in CI). On failure a screenshot of
the page and the tail of the server's log are written to a temporary folder and their paths printed;
RNNVIZ_BROWSER_SHOTS=<folder> also keeps screenshots of the passing steps.
Selectors are by role and label, as a user finds them ("Train", the "task" radio, the "epochs" slider).
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
T = 60_000            # ms: the default wait; CI is a loaded 2-core machine
START_S = 120         # s: server start-up at most
SPEED = "speed limit (record points per second)"


def _why_no_browser() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        return f"no browser: the playwright package cannot be imported ({e})"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no browser: no Chromium at {CHROMIUM} (bash run.sh test installs it with apt-get)"
    return ""


if _why := _why_no_browser():
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=T)


def button(page: Page, label: str):
    """A button by its label (its accessible name also holds the icon's name, e.g. "play_arrow Train")."""
    return page.get_by_role("button", name=re.compile(rf"(^|\s){re.escape(label)}$")).first


def slider(page: Page, label: str):
    """A slider by its label (Streamlit 1.67 names it twice, "epochs epochs")."""
    lab = re.escape(label)
    return page.get_by_role("slider", name=re.compile(rf"^{lab}( {lab})?$"))


def progress(page: Page):
    """The progress bars of the lesson's runs, one per run: "rnn · training · epoch 12 of 100 · loss ..."."""
    return page.get_by_test_id("rnnviz-progress").filter(visible=True)


def charts(page: Page, has_text: str | re.Pattern = ""):
    """The plotly charts on screen (while a fragment redraws, Streamlit may keep a hidden copy)."""
    found = page.locator('[data-testid="stPlotlyChart"]').filter(visible=True)
    return found.filter(has_text=has_text) if has_text else found


# ---- the server and the browser ---------------------------------------------------------------------
class ScriptRuns:
    """Counts the app's script runs that finished (ForwardMsg script_finished; fragment runs apart),
    read from the page's websocket: the page's own DOM may never show a short run as "running"."""

    def __init__(self, page: Page):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        self.msg, self.done, self.fragments = ForwardMsg, 0, 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if not isinstance(payload, (bytes, bytearray)) or len(payload) > 512:   # deltas: big, not parsed
            return
        try:
            msg = self.msg.FromString(bytes(payload))
        except Exception:  # noqa: BLE001 - not a ForwardMsg
            return
        if msg.WhichOneof("type") == "script_finished":
            self.done += msg.script_finished == self.msg.FINISHED_SUCCESSFULLY
            self.fragments += msg.script_finished == self.msg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` in a subprocess we own, stopped by its pid."""

    def __init__(self, log_dir: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_dir / "streamlit.log"
        self.log = open(self.log_path, "w")
        env = {**os.environ, "RNNVIZ_MAX_JOBS": "2", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--browser.gatherUsageStats", "false",
             # no file watcher: a source file saved meanwhile would make Streamlit re-import the app
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = START_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "_stcore/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer within {timeout:.0f} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    return Path(tempfile.mkdtemp(prefix="rnnviz-browser-"))


@pytest.fixture(scope="module")
def server(artifacts):
    srv = Server(artifacts)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def chromium():
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


def _say(request, line: str) -> None:
    """Print past pytest's capture, so the paths show up next to the failure."""
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(line)
    else:
        print(line, file=sys.__stderr__)


@pytest.fixture
def lab(request, server, chromium, artifacts):
    """A fresh browser session on the app's default page; a screenshot and the server log on failure."""
    failed_before = request.session.testsfailed
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(T)
    pg = context.new_page()
    pg.page_errors = []
    pg.on("pageerror", lambda e: pg.page_errors.append(str(e)))
    pg.script_runs = ScriptRuns(pg)
    log_start = len(server.log_text())
    try:
        pg.goto(server.url, wait_until="domcontentloaded")
        yield pg
    finally:
        if request.session.testsfailed > failed_before:
            shot = artifacts / f"{request.node.name}.png"
            try:
                pg.screenshot(path=str(shot), full_page=True)
                _say(request, f"\n[browser test] screenshot of the failure: {shot}")
            except Exception as e:  # noqa: BLE001 - a dead page must not hide the real failure
                _say(request, f"\n[browser test] no screenshot ({type(e).__name__}: {e})")
            _say(request, f"[browser test] server log: {server.log_path}; its tail:\n{server.log_text()[-2000:]}")
            if pg.page_errors:
                _say(request, f"[browser test] page errors: {pg.page_errors}")
        try:   # leave no run of this session training (it would hold a trainer slot for the next test)
            stop = button(pg, "Stop")
            if stop.is_visible() and stop.is_enabled(timeout=1000):
                stop.click(timeout=3000)
        except PlaywrightError:
            pass
        context.close()
    new_log = server.log_text()[log_start:]
    assert "Traceback" not in new_log, f"the server logged an exception:\n{new_log[-3000:]}"


# ---- what every page must (not) show ----------------------------------------------------------------
def assert_clean(page: Page) -> None:
    """No Streamlit exception box, no traceback, no view that failed to draw."""
    expect(page.get_by_test_id("stException")).to_have_count(0, timeout=1000)
    body = page.locator("body").inner_text()
    assert "Traceback" not in body, body[-2000:]
    assert "could not be drawn" not in body, body[-2000:]
    assert not page.page_errors, page.page_errors


def open_lesson(page: Page, title: str) -> None:
    """Go to a lesson through the sidebar navigation, as a student would."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile(re.escape(title))).click()
    expect(page.get_by_role("heading", name=re.compile(re.escape(title)))).to_be_visible()
    expect(button(page, "Train")).to_be_enabled()
    assert_clean(page)


def after_rerun(page: Page, action) -> None:
    """Do `action` (a widget change) and wait until the script run it triggers has finished, so that
    the next click sees the page of the new settings (a button's callback gets the settings of the
    run that drew it)."""
    before = page.script_runs.done
    action()
    deadline = time.monotonic() + T / 1000
    while page.script_runs.done <= before:
        assert time.monotonic() < deadline, f"no script run finished within {T / 1000:.0f} s"
        page.wait_for_timeout(50)     # lets Playwright deliver the websocket's frames


def set_slider(page: Page, label: str, key: str, shows: str | re.Pattern) -> None:
    """Move a slider to an end with the keyboard (key "Home" or "End") and wait for the rerun."""
    thumb = slider(page, label)

    def move():
        thumb.focus()
        thumb.press(key)
        expect(thumb).to_have_attribute("aria-valuetext", shows)
    after_rerun(page, move)


def slowest(page: Page) -> None:
    set_slider(page, SPEED, "Home", "2/s")


def snap(page: Page, name: str) -> None:
    """With RNNVIZ_BROWSER_SHOTS=<folder>: a screenshot of what the test sees now."""
    if folder := os.environ.get("RNNVIZ_BROWSER_SHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def epoch_shown(page: Page, above: int = -1, timeout: float = T / 1000) -> int:
    """The epoch counter of the (first) progress text, once it reads more than `above`."""
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            text = progress(page).first.inner_text(timeout=5000)
        except PlaywrightError:   # redrawn while we read: read again
            continue
        if (m := re.search(r"epoch ([\d,]+) of", text)) and int(m.group(1).replace(",", "")) > above:
            return int(m.group(1).replace(",", ""))
        page.wait_for_timeout(100)
    raise AssertionError(f"no epoch above {above} in the progress text within {timeout:.0f} s: {text!r}")


def press(page: Page, label: str, then: re.Pattern) -> int:
    """Click a run's button until the (first) progress line shows `then`; returns the clicks it took.
    Streamlit now and then drops a click that lands while a fragment of the page reruns (the views'
    fragment reruns every second while a run trains): about 1 in 12 runs of this file, in CI too. A
    user clicks again; so does this, at most 3 times, and says so."""
    for n in range(1, 4):
        button(page, label).click()
        try:
            expect(progress(page).first).to_contain_text(then, timeout=T // 6 if n < 3 else T)
            if n > 1:
                print(f"[browser test] {label!r} took {n} clicks")
            return n
        except AssertionError:
            if n == 3 or not (button(page, label).is_visible() and button(page, label).is_enabled()):
                raise
    return 3


# ---- the tests ----------------------------------------------------------------------------------------
def test_train_hihell_reads_ihello(lab):
    page = lab
    expect(page.get_by_role("heading", name="1. Character prediction")).to_be_visible()
    expect(charts(page, "no run yet")).to_have_count(1)    # empty axes until the first run
    assert_clean(page)
    button(page, "Train").click()
    # the headline of the latest record: "epoch 42: ihello target ihello · 6/6 right"
    expect(page.get_by_text(re.compile(r"epoch \d+: ihello\s+target ihello")).first).to_be_visible()
    snap(page, "1-ihello")
    expect(progress(page)).to_contain_text(re.compile(r"rnn\s*·\s*(training|finished)"))
    expect(charts(page, "no run yet")).to_have_count(0)    # the placeholder axes gave way to the run's charts
    table = page.get_by_test_id("stHtml").filter(has_text="Predictions per epoch").filter(visible=True)
    expect(table.locator("tr").first).to_contain_text("target")       # the table of predictions per epoch,
    expect(table.locator("tr").nth(1)).to_contain_text("epoch 1")     # the target above the first epoch
    # the speed limit applies to the running run at once: at full speed it soon ends, still reading ihello
    speed = slider(page, SPEED)
    expect(speed).to_have_attribute("aria-valuetext", "10/s")
    speed.focus()
    speed.press("End")
    expect(speed).to_have_attribute("aria-valuetext", "full speed")
    expect(progress(page)).to_contain_text(re.compile(r"finished\s*·\s*epoch 100 of 100"), timeout=2 * T)
    expect(page.get_by_text(re.compile(r"epoch 100: ihello")).first).to_be_visible()
    expect(button(page, "Stop")).to_be_disabled()
    assert_clean(page)


def test_progress_moves_by_itself(lab):
    """The server pushes the run's progress to the bar (lab.pulse, app.py's WebSocket route) several times
    a second, between the page's redraws (the views redraw once a second; the bar is not part of that)."""
    page = lab
    body = page.request.get(page.url.split("?")[0].rstrip("/") + "/rnnviz/progress/no-such-run").json()
    assert body["runs"] == {} and 0 < body["interval"] <= 1
    pushed = []
    page.on("websocket", lambda ws: ws.url.endswith("/rnnviz/pulse")
            and ws.on("framereceived", lambda frame: pushed.append(json.loads(frame))))
    button(page, "Train").click()                           # hihell at 10 records a second
    epoch_shown(page)
    page.wait_for_timeout(1000)                             # the click's own redraw has finished
    runs, fragments, heard = page.script_runs.done, page.script_runs.fragments, len(pushed)
    seen, end = set(), time.monotonic() + 2.0
    while time.monotonic() < end:
        seen.add(epoch_shown(page))
        page.wait_for_timeout(50)
    redraws = page.script_runs.fragments - fragments     # the views' fragment: about once a second
    assert page.script_runs.done == runs, "the page was redrawn meanwhile: the bar may have moved with it"
    assert len(seen) >= max(4, redraws + 2), f"epochs {sorted(seen)} shown in 2 s, over {redraws} redraws"
    bar = [m for m in pushed[heard:] if m["runs"]]         # (the sidebar's status has its own socket)
    assert len(bar) >= 6, f"{len(bar)} progress messages pushed to the bar in 2 s"   # 10 asked for
    assert len({run for m in bar for run in m["runs"]}) == 1   # the run on screen
    expect(progress(page)).to_contain_text(re.compile(r"finished\s*·\s*epoch 100 of 100"), timeout=2 * T)
    assert_clean(page)


def test_gates_and_gradients_render(lab):
    page = lab
    expect(button(page, "Train")).to_be_visible()
    open_lesson(page, "Inside the cells")
    button(page, "Train").click()                          # hihell with an LSTM
    expect(progress(page)).to_contain_text(re.compile(r"lstm\s*·\s*\w+\s*·\s*epoch"))
    page.get_by_role("tab", name="Gates").click()
    gates = charts(page, "Gates of the LSTM")
    expect(gates).to_have_count(1)
    for title in ("forget gate f", "input gate i", "candidate g", "output gate o", "cell state c"):
        expect(gates).to_contain_text(title)
    expect(gates.locator(".js-plotly-plot .hm").first).to_be_attached()      # the heatmaps were drawn
    expect(charts(page, "Mean gate values of the LSTM").locator(".js-plotly-plot")).to_have_count(1)
    snap(page, "2-inside-gates")
    assert_clean(page)

    open_lesson(page, "Vanishing & exploding gradients")
    slowest(page)     # 150 epochs at 2 records/s: still training when Stop is pressed, however fast the machine
    button(page, "Train").click()                          # rnn, lstm and gru on the copy task
    expect(progress(page)).to_have_count(3)
    lines = charts(page, "Gradient through time")
    expect(lines).to_have_count(1)
    expect(lines).to_contain_text(re.compile(r"‖∂L(_last)?/∂h_t‖ \(log scale\)"))   # its y axis
    expect(lines.locator(".scatterlayer .trace").first).to_be_attached()   # a line, not "no ... measured"
    expect(page.get_by_text(re.compile(r"ρ\(.+\) = \d")).first).to_be_visible()   # beside it: ρ of W_hh
    assert_clean(page)
    snap(page, "2-gradients")
    press(page, "Stop", re.compile("stopped"))             # stops the running runs and the waiting one
    for i in range(3):
        expect(progress(page).nth(i)).to_contain_text("stopped")
    expect(button(page, "Stop")).to_be_disabled()
    assert_clean(page)


def test_stop_stops_a_longer_run(lab):
    page = lab
    expect(button(page, "Train")).to_be_visible()
    task = page.get_by_test_id("stRadio").filter(has_text="task")
    after_rerun(page, lambda: task.get_by_text("seoul", exact=True).click())
    expect(page.get_by_text("seoul is the capital of south korea").first).to_be_visible()
    expect(slider(page, "epochs")).to_have_attribute("aria-valuetext", "500")
    set_slider(page, "epochs", "End", re.compile(r"^2,?000$"))   # 2,000 epochs at 60 records/s: over 30 s
    assert_clean(page)

    full_runs = page.script_runs.done
    status = page.get_by_test_id("stSidebar").get_by_text(re.compile(r"Trainers busy"))
    button(page, "Train").click()
    bar = progress(page)
    expect(bar).to_contain_text(re.compile(r"rnn\s*·\s*training\s*·\s*epoch [\d,]+ of 2,000"))
    epoch_shown(page, above=epoch_shown(page))             # it trains: the counter moves on
    expect(status).to_contain_text(re.compile(r"Trainers busy: [1-9]"))   # the sidebar knows
    snap(page, "3-seoul-training")

    press(page, "Pause", re.compile(r"rnn\s*·\s*paused"))
    paused_at = epoch_shown(page)
    page.wait_for_timeout(1000)
    assert epoch_shown(page) == paused_at
    press(page, "Resume", re.compile(r"rnn\s*·\s*training"))   # the bar sees the run train again
    epoch_shown(page, above=paused_at)
    # ...and the click's redraw shows Pause again (it waits for the worker). Were a second redraw for the
    # phase change needed (lab.pulse.GRACE_MS), a click during it could be lost: wait for the button
    expect(button(page, "Pause")).to_be_enabled()

    press(page, "Stop", re.compile(r"rnn\s*·\s*stopped\s*·\s*epoch [\d,]+ of 2,000"))
    expect(page.get_by_text("stopped by user")).to_be_visible()
    expect(button(page, "Stop")).to_be_disabled()
    expect(button(page, "Continue")).to_be_enabled()
    expect(status).to_contain_text("Trainers busy: 0")
    # the buttons redraw the run's panel, never the whole page
    assert page.script_runs.done == full_runs, "a run's button redrew the whole page"
    stopped_at = epoch_shown(page)
    assert stopped_at < 2000
    page.wait_for_timeout(500)
    fragments = page.script_runs.fragments
    page.wait_for_timeout(2000)                             # the counter stands still, and nothing polls
    assert epoch_shown(page) == stopped_at
    assert page.script_runs.fragments == fragments, "a fragment still reruns with nothing training"
    expect(bar).to_contain_text("stopped")
    snap(page, "3-seoul-stopped")
    assert_clean(page)


def test_a_late_rerun_never_draws_older_progress(chromium):
    """The bars' component alone (lab.pulse.JS, no server): a rerun's data can reach the page after a
    push that was read later (the rest of the panel is drawn first). The bar keeps the newer facts, by
    the server's clock, and asks for one panel rerun per phase change that the page's own redraw does
    not show within GRACE_MS. (The stop test above read
    "training · epoch 35" after "paused · epoch 36" in 4 of 18 runs before this.)"""
    from lab import pulse

    def facts(state, epoch):
        return {"state": state, "phase": state, "text": f"{state} · epoch {epoch} of 2,000", "done": epoch / 2000}

    def data(at, run, facts, phases):
        return {"at": at, "runs": [{"id": run, "name": "rnn", "facts": facts}], "interval": 0.2, "url": "/none",
                "busy": None, "hidden": 30, "grace": 1000, "poll": True, "every": 0, "rerun": True,
                "columns": True, "phases": phases, "testid": "rnnviz-progress"}

    context = chromium.new_context()
    try:
        page = context.new_page()   # a page of its own origin (its socket finds no server: no pushes but ours)
        page.route("http://rnnviz.test/", lambda route: route.fulfill(body='<div id="host"></div>',
                                                                      content_type="text/html"))
        page.goto("http://rnnviz.test/")
        page.evaluate("""async js => {
            const mod = await import("data:text/javascript," + encodeURIComponent(js));
            const host = document.getElementById("host");
            window.triggers = [];
            window.mount = data => mod.default({ parentElement: host, data: [data],
                                                 setTriggerValue: (k, v) => window.triggers.push(v) });
            window.push = body => host.__rv.show(body);
        }""", pulse.JS)
        text = lambda: page.locator(".rv-run").inner_text()          # noqa: E731
        page.evaluate("d => mount(d)", data(1.0, "a", facts("running", 34), "running"))
        assert text() == "rnn · running · epoch 34 of 2,000"
        grace = 1100     # ms: the data's grace (1 s, not GRACE_MS: a busy browser may take 0.3 s between two steps)
        page.evaluate("b => push(b)", {"runs": {"a": facts("paused", 36)}, "at": 3.0})
        assert text() == "rnn · paused · epoch 36 of 2,000"
        assert page.evaluate("triggers") == []          # the page's own redraw may still bring the new phase
        page.evaluate("d => mount(d)", data(2.0, "a", facts("running", 35), "running"))  # read before the push
        assert text() == "rnn · paused · epoch 36 of 2,000"
        page.wait_for_timeout(grace)
        assert page.evaluate("triggers") == ["paused"]                  # it did not: the panel reruns
        page.evaluate("b => push(b)", {"runs": {"a": facts("paused", 36)}, "at": 4.0})
        page.wait_for_timeout(grace)
        assert page.evaluate("triggers") == ["paused"]                  # asked for once
        page.evaluate("d => mount(d)", data(5.0, "a", facts("paused", 36), "paused"))    # the panel's rerun
        page.evaluate("b => push(b)", {"runs": {"a": facts("running", 37)}, "at": 6.0})  # resumed (Resume clicked)
        assert text() == "rnn · running · epoch 37 of 2,000"
        page.evaluate("d => mount(d)", data(5.5, "a", facts("running", 37), "running"))  # the click's redraw
        page.wait_for_timeout(grace)
        assert page.evaluate("triggers") == ["paused"]                  # it showed the phase: no second rerun
        page.evaluate("b => push(b)", {"runs": {"a": facts("finished", 2000)}, "at": 8.0})
        page.wait_for_timeout(grace)
        assert page.evaluate("triggers") == ["paused", "finished"]
        page.evaluate("d => mount(d)", data(7.0, "b", facts("running", 1), "running"))   # a new run
        assert text() == "rnn · running · epoch 1 of 2,000"
        assert page.evaluate("Object.keys(document.getElementById('host').__rv.last)") == ["b"]
    finally:
        context.close()
