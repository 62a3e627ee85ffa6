"""A restart loses nothing: the server is stopped (SIGTERM) while a run trains, the page says that the
server does not answer, and once it is back the lesson shows the run where it stood, and Continue
trains it on (a server of its own, tests/browser.py)."""
from __future__ import annotations

import re

from browser import Server, T, after_rerun, artifacts, button, chromium, click, epoch_shown, expect, progress  # noqa: F401
from browser import set_slider
from tools.script_runs import ScriptRuns


def test_a_restart_loses_nothing(chromium, artifacts):
    srv = Server(artifacts)
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(T)
    try:
        srv.wait_ready()
        page = context.new_page()
        page.script_runs = ScriptRuns(page)
        page.goto(srv.url, wait_until="domcontentloaded")
        task = page.get_by_test_id("stRadio").filter(has_text="task")
        after_rerun(page, lambda: task.get_by_text("seoul", exact=True).click())
        set_slider(page, "epochs", "End", re.compile(r"^2,?000$"))
        button(page, "Train").click()
        epoch_shown(page, above=20)
        assert srv.stop() in (0, -15)      # SIGTERM (uvicorn raises it again once it has shut down)
        assert "leaked semaphore" not in srv.log_text()     # the runner closed its queues
        expect(progress(page)).to_contain_text("does not answer", timeout=20_000)
        srv.start()
        srv.wait_ready()
        page.reload(wait_until="domcontentloaded")
        line = progress(page)
        expect(line).to_contain_text(re.compile(r"rnn\s*·\s*stopped\s*·\s*epoch [\d,]+ of 2,000"))
        expect(page.get_by_text("the server is shutting down")).to_be_visible()
        expect(page.get_by_text("seoul is the capital of south korea").first).to_be_visible()
        at = epoch_shown(page)
        assert at > 20
        click(page, "Continue", lambda: expect(button(page, "Pause")).to_be_enabled())
        epoch_shown(page, above=at)
        click(page, "Stop", lambda: expect(button(page, "Continue")).to_be_enabled())
        log = srv.log_text()
        assert "Traceback" not in log, log[-3000:]
    finally:
        context.close()
        srv.close()
