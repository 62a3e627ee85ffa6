"""The lab in a real browser, the parts the browser tests share: `streamlit run app.py` in a subprocess,
Chromium driven by Playwright, and finding things on the page as a user does (by role and label).

Skipped (with the reason) only where no browser can run: the playwright package missing or no
Chromium at /usr/bin/chromium (run.sh installs Debian's chromium in CI). On failure a screenshot of
the page and the tail of the server's log are written to a temporary folder and their paths printed;
RNNVIZ_BROWSER_SHOTS=<folder> also keeps screenshots of the passing steps.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
T = 60_000            # ms: the default wait; CI is a loaded 2-core machine
START_S = 120         # s: server start-up at most
SPEED = "speed limit (epochs per second)"   # the lessons it drives train in epochs


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

from tools.lab_server import LabServer  # noqa: E402
from tools.script_runs import ScriptRuns  # noqa: E402
from tools.widgets import button, slider  # noqa: E402,F401

expect.set_options(timeout=T)


def progress(page: Page):
    """The progress bars of the lesson's runs, one per run: "rnn · training · epoch 12 of 100 · loss ..."."""
    return page.get_by_test_id("rnnviz-progress").filter(visible=True)


def charts(page: Page, has_text: str | re.Pattern = ""):
    """The plotly charts on screen (while a fragment redraws, Streamlit may keep a hidden copy)."""
    found = page.locator('[data-testid="stPlotlyChart"]').filter(visible=True)
    return found.filter(has_text=has_text) if has_text else found


# ---- the server and the browser ---------------------------------------------------------------------
class Server(LabServer):
    """The lab's server for the browser tests: runs and checkpoints in `data` (a temporary folder), at
    most two runs training at once, its log among the test's artifacts."""

    def __init__(self, log_dir: Path, data: Path | None = None, port: int | None = None):
        data = data or Path(tempfile.mkdtemp(prefix="rnnviz-data-"))
        super().__init__(data, log_dir, {"RNNVIZ_MAX_JOBS": "2", "RNNVIZ_CHECKPOINTS": str(data / "checkpoints")},
                         port)

    def wait_ready(self, timeout: float = START_S) -> float:
        return super().wait_ready(timeout)


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
        srv.close()


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
    # the frontend reports a delta it cannot apply as a console error, and then stops listening
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error"
          and not m.text.startswith("Failed to load resource") else None)   # the fonts of an offline machine
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
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(button(page, "Train")).to_be_enabled()
    assert_clean(page)


def after_rerun(page: Page, action) -> None:
    """Do `action` (a widget change) and wait until the script run it triggers has finished, so that
    the next click sees the page of the new settings (a button's callback gets the settings of the
    run that drew it)."""
    deadline = time.monotonic() + T / 1000
    while not page.script_runs.opened:      # the page's first run, still drawing what the action changes
        assert time.monotonic() < deadline, f"the page's first script run did not finish within {T / 1000:.0f} s"
        page.wait_for_timeout(50)
    before = page.script_runs.done
    action()
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


def click(page: Page, label: str, then) -> None:
    """Click a run's button once and wait until `then` (an expectation on the page) holds: every click
    must count the first time, so this never clicks again."""
    button(page, label).click()
    then()
