"""The sweep lesson in a real browser: its results are a fragment, and Open takes the student to the
gradients lesson with the run, in presenter mode too (AppTest reruns the whole page at every click,
so only a browser shows what a fragment's own rerun does)."""
from __future__ import annotations

import re

from browser import T, after_rerun, artifacts, button, chromium, expect, server  # noqa: F401

from tools.script_runs import ScriptRuns


def test_open_goes_to_the_gradients_lesson_with_the_run(chromium, server):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(T)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.script_runs = ScriptRuns(page)
    page.goto(server.url + "sweep?present=true", wait_until="domcontentloaded")
    # each edit's rerun has finished before the next: Run sweep's key gets the grid the page was drawn with
    for field, value in [(page.get_by_role("textbox", name=label, exact=True), value)
                         for label, value in (("cell", "lstm"), ("lag", "5"), ("seed", "0"))] + \
            [(page.get_by_role("spinbutton", name="epochs per run"), "3")]:
        after_rerun(page, lambda: (field.fill(value), field.press("Enter")))
    page.evaluate("() => document.activeElement.blur()")     # (Streamlit's keys wait while a field has the focus)
    page.keyboard.press("t")                                   # Run sweep's key, as the run bar's Train
    expect(page.get_by_text(re.compile(r"sweep finished: 1 of 1 run"))).to_be_visible()
    # the results' fragment reruns the page when the sweep ends: Stop has nothing left to stop
    expect(button(page, "Stop")).to_be_disabled()
    expect(button(page, "Stop")).to_have_accessible_name(re.compile("Shortcut S$"))
    button(page, "Open it in the gradients lesson").click()
    expect(page).to_have_url(re.compile(r"/gradients"))
    expect(page.get_by_role("heading", name=re.compile("Vanishing"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Opened .*Continue"))).to_be_visible()
    assert not page.get_by_text("StreamlitAPIException").count() and not errors, errors
    context.close()
