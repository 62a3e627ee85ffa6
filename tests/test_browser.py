"""The lab in a real browser (tests/browser.py: the server, Chromium, finding things as a user does).

  1. hihell: every page's title shows whole in the navigation; Train, and the prediction reads "ihello";
     the speed limit reaches the running run;
  2. the progress line moves by itself (the browser asks the server's route), between the views' redraws;
  3. "Inside the cells" and "Vanishing/exploding gradients" render their gates and gradient lines;
     one Stop stops all three runs, the waiting one too;
  4. a longer run: Pause, Resume, Stop and Continue each take effect on the first click, redraw only
     the panel, and nothing reruns once the run has stopped;
  5. a run belongs to the browser: a closed tab, a reload or a new tab show it; another browser does not;
  6. the progress component alone: a late rerun never draws older progress; a phase that changed by
     itself reruns the panel once.
No page may show a Streamlit exception box, a traceback or a view that "could not be drawn", and the
server may log no traceback.
"""
from __future__ import annotations

import json
import re
import time

from browser import (SPEED, T, after_rerun, assert_clean, button, charts, chromium, click, epoch_shown,  # noqa: F401
                     expect, lab, open_lesson, progress, server, set_slider, slider, slowest, snap, artifacts)

from lab.lessons import LESSONS
from lab.progress import _WEB


def test_train_hihell_reads_ihello(lab):
    page = lab
    expect(page.get_by_role("heading", name="1. Character prediction")).to_be_visible()
    expect(charts(page, "no run yet")).to_have_count(1)    # empty axes until the first run
    # every page's title in the sidebar's navigation shows whole (a longer one ends in "…"), also in the
    # bolder type of the page on screen (the first one's here)
    links = page.get_by_test_id("stSidebarNavLink")
    expect(links).to_have_count(len(LESSONS) + 1)     # and the Checkpoints page
    cut = links.evaluate_all("els => { const t = els.map(a => a.querySelector('[data-testid=stMarkdownContainer]'));"
                             " const bold = getComputedStyle(t[0]).fontWeight;"
                             " t.forEach(e => { e.style.fontWeight = bold; });"
                             " return t.filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent); }")
    assert cut == [], f"titles cut in the navigation: {cut}"
    # the tab's icon needs no network (a classroom may have none)
    expect(page.locator("link[rel='shortcut icon']")).to_have_attribute("href", re.compile(r"^data:"))
    assert_clean(page)
    button(page, "Train").click()
    # the headline of the latest record: "epoch 42: ihello target ihello · 6/6 right"
    expect(page.get_by_text(re.compile(r"epoch \d+: ihello\s+target ihello")).first).to_be_visible()
    snap(page, "1-ihello")
    expect(progress(page)).to_contain_text(re.compile(r"rnn\s*·\s*(training|finished)"))
    expect(charts(page, "no run yet")).to_have_count(0)    # the placeholder axes gave way to the run's charts
    table = page.get_by_test_id("stHtml").filter(has_text="Predictions per epoch").filter(visible=True)
    expect(table.locator("tr").first).to_contain_text("target")
    expect(table.locator("tr").nth(1)).to_contain_text("epoch 1")
    # the speed limit applies to the running run at once: at full speed it soon ends, still reading ihello
    speed = slider(page, SPEED)
    expect(speed).to_have_attribute("aria-valuetext", "10/s")
    speed.focus()
    speed.press("End")
    expect(speed).to_have_attribute("aria-valuetext", "full speed")
    expect(progress(page)).to_contain_text(re.compile(r"finished\s*·\s*epoch 100 of 100"), timeout=2 * T)
    expect(page.get_by_text(re.compile(r"epoch 100: ihello")).first).to_be_visible()
    expect(button(page, "Stop")).to_be_disabled()
    expect(button(page, "Continue")).to_be_enabled()      # the panel followed the run's end by itself
    assert_clean(page)


def test_progress_moves_by_itself(lab):
    """The progress line asks the server's route for its run several times a second (lab.progress),
    between the page's redraws (the views redraw once a second; the line is not part of them)."""
    page = lab
    answered = []
    page.on("response", lambda r: "/rnnviz/progress" in r.url and answered.append(r))
    button(page, "Train").click()                           # hihell at 10 records a second
    epoch_shown(page)
    page.wait_for_timeout(1000)                             # the click's own redraw has finished
    runs, fragments, heard = page.script_runs.done, page.script_runs.fragments, len(answered)
    seen, end = set(), time.monotonic() + 2.0
    while time.monotonic() < end:
        seen.add(epoch_shown(page))
        page.wait_for_timeout(50)
    redraws = page.script_runs.fragments - fragments       # the views' fragment: about once a second
    assert page.script_runs.done == runs, "the page was redrawn meanwhile: the line may have moved with it"
    assert len(seen) >= max(4, redraws + 2), f"epochs {sorted(seen)} shown in 2 s, over {redraws} redraws"
    assert len(answered) - heard >= 6, f"{len(answered) - heard} answers in 2 s"   # 10 asked for
    body = answered[-1].json()
    assert len(body["runs"]) == 1 and 0 < body["interval"] <= 1
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

    open_lesson(page, "Vanishing/exploding gradients")
    slowest(page)     # 2 records/s: still training when Stop is pressed, however fast the machine
    button(page, "Train").click()                          # rnn, lstm and gru on the copy task
    expect(progress(page)).to_have_count(3)
    lines = charts(page, "Gradient through time")
    expect(lines).to_have_count(1)
    expect(lines).to_contain_text(re.compile(r"‖∂L(_last)?/∂h_t‖ \(log scale\)"))   # its y axis
    expect(lines.locator(".scatterlayer .trace").first).to_be_attached()   # a line, not "no ... measured"
    expect(page.get_by_text(re.compile(r"ρ\(.+\) = \d")).first).to_be_visible()   # beside it: ρ of W_hh
    assert_clean(page)
    snap(page, "2-gradients")
    click(page, "Stop", lambda: [expect(progress(page).nth(i)).to_contain_text("stopped") for i in range(3)])
    expect(button(page, "Stop")).to_be_disabled()
    # on hover plotly's toolbar shows beside the title, not on it (measured once the chart stands still)
    lines.hover()
    expect(lines.locator(".modebar")).to_be_visible()
    toolbar, title = lines.locator(".modebar").bounding_box(), lines.locator(".gtitle").bounding_box()
    assert title["x"] + title["width"] < toolbar["x"], (title, toolbar)
    assert_clean(page)


def _seoul_2000(page) -> None:
    task = page.get_by_test_id("stRadio").filter(has_text="task")
    after_rerun(page, lambda: task.get_by_text("seoul", exact=True).click())
    expect(page.get_by_text("seoul is the capital of south korea").first).to_be_visible()
    set_slider(page, "epochs", "End", re.compile(r"^2,?000$"))   # 2,000 epochs at 60 records/s: over 30 s


def test_every_click_on_a_longer_run_counts_the_first_time(lab):
    page = lab
    expect(button(page, "Train")).to_be_visible()
    _seoul_2000(page)
    assert_clean(page)
    full_runs = page.script_runs.done
    status = page.get_by_test_id("stSidebar").get_by_text(re.compile(r"The server trains"))
    button(page, "Train").click()
    bar = progress(page)
    expect(bar).to_contain_text(re.compile(r"rnn\s*·\s*training\s*·\s*epoch [\d,]+ of 2,000"))
    epoch_shown(page, above=epoch_shown(page))             # it trains: the counter moves on
    expect(status).to_contain_text(re.compile(r"The server trains [1-9]"))   # the sidebar knows
    snap(page, "3-seoul-training")

    stop_x = button(page, "Stop").bounding_box()["x"]
    click(page, "Pause", lambda: expect(button(page, "Resume")).to_be_visible())
    expect(bar).to_contain_text(re.compile(r"rnn\s*·\s*paused"))
    assert button(page, "Stop").bounding_box()["x"] == stop_x, "Resume, wider than Pause, moved the buttons"
    paused_at = epoch_shown(page)
    page.wait_for_timeout(1000)
    assert epoch_shown(page) == paused_at
    click(page, "Resume", lambda: expect(button(page, "Pause")).to_be_enabled())
    epoch_shown(page, above=paused_at)
    click(page, "Stop", lambda: expect(button(page, "Continue")).to_be_enabled())
    expect(bar).to_contain_text(re.compile(r"rnn\s*·\s*stopped\s*·\s*epoch [\d,]+ of 2,000"))
    expect(page.get_by_text("stopped by the user")).to_be_visible()
    expect(button(page, "Stop")).to_be_disabled()
    expect(status).to_contain_text("The server trains 0")
    assert page.script_runs.done == full_runs, "a run's button redrew the whole page"
    stopped_at = epoch_shown(page)
    assert stopped_at < 2000
    page.wait_for_timeout(500)
    fragments = page.script_runs.fragments
    page.wait_for_timeout(2000)                             # the counter stands still, and nothing reruns
    assert epoch_shown(page) == stopped_at
    assert page.script_runs.fragments == fragments, "a fragment still reruns with nothing training"
    more = page.get_by_role("spinbutton", name=re.compile("more epochs"))
    expect(more).to_have_value(str(2000 - stopped_at))     # Continue offers the rest of the run
    click(page, "Continue", lambda: expect(button(page, "Pause")).to_be_enabled())
    epoch_shown(page, above=stopped_at)
    expect(bar).to_contain_text("of 2,000")
    click(page, "Stop", lambda: expect(button(page, "Continue")).to_be_enabled())
    snap(page, "3-seoul-stopped")
    assert_clean(page)


def test_a_run_belongs_to_the_browser_not_the_tab(lab, chromium, server):
    page = lab
    _seoul_2000(page)
    button(page, "Train").click()
    at = epoch_shown(page, above=epoch_shown(page))
    context = page.context
    page.close()                                            # the tab is closed; the run trains on
    time.sleep(1.5)
    again = context.new_page()                              # the same browser (its cookie) opens the lab
    again.page_errors = []
    again.goto(server.url, wait_until="domcontentloaded")
    expect(progress(again)).to_contain_text(re.compile(r"rnn\s*·\s*training"))
    assert epoch_shown(again) > at + 30                     # it trained unseen, at 60 records a second
    expect(again.get_by_text("seoul is the capital of south korea").first).to_be_visible()
    again.reload(wait_until="domcontentloaded")             # a reload, too
    expect(progress(again)).to_contain_text(re.compile(r"rnn\s*·\s*training"))
    stranger = chromium.new_context().new_page()            # another browser sees none of it
    stranger.goto(server.url, wait_until="domcontentloaded")
    expect(charts(stranger, "no run yet")).to_have_count(1)
    expect(button(stranger, "Stop")).to_be_disabled()
    stranger.context.close()
    click(again, "Stop", lambda: expect(progress(again)).to_contain_text("stopped"))
    assert_clean(again)


def _component_page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    answers: list[dict] = []                                # what the fake route answers next, in turn
    page.route("http://rnnviz.test/", lambda route: route.fulfill(body='<div id="host"></div>',
                                                                  content_type="text/html"))
    page.route("http://rnnviz.test/p?**", lambda route: route.fulfill(
        body=json.dumps(answers.pop(0) if answers else {"runs": {}, "at": 0, "busy": ""}),
        content_type="application/json"))
    page.goto("http://rnnviz.test/")
    page.evaluate("""async js => {
        const mod = await import("data:text/javascript," + encodeURIComponent(js));
        const host = document.getElementById("host");
        window.triggers = [];
        window.mount = data => mod.default({ parentElement: host, data: [data],
                                             setTriggerValue: (k, v) => window.triggers.push(v) });
    }""", (_WEB / "progress.js").read_text())
    return context, page, answers


def test_the_progress_line_keeps_the_newest_facts_and_reruns_its_panel_once(chromium):
    """The progress component alone (lab/web/progress.js, a fake route): a rerun's data can reach the
    page after an answer the server read later; the line keeps the newer facts by the server's clock.
    A phase that differs from the one the buttons were drawn for reruns the panel, once per change, and
    again every 2 s (at most 5 times) while the page is not drawn for it: a rerun can be lost."""
    def facts(phase, epoch):
        return {"phase": phase, "text": f"{phase} · epoch {epoch} of 2,000", "done": epoch / 2000}

    def data(at, run, f, phases, poll=True):
        return {"at": at, "runs": [{"id": run, "name": "rnn", "facts": f}], "interval": 0.1, "url": "/p",
                "token": "t", "busy": None, "hidden": 30, "poll": poll, "rerun": True, "columns": True,
                "phases": phases, "testid": "rnnviz-progress"}

    context, page, answers = _component_page(chromium)
    try:
        text = lambda: page.locator(".rv-run").inner_text()          # noqa: E731
        answers += [{"runs": {"a": facts("paused", 36)}, "at": 3.0, "busy": ""}]
        page.evaluate("d => mount(d)", data(1.0, "a", facts("running", 34), "running"))
        page.wait_for_timeout(400)
        assert text() == "rnn · paused · epoch 36 of 2,000"       # the route's answer, by itself
        assert page.evaluate("triggers") == ["paused#1"]           # the panel reruns, once
        page.evaluate("d => mount(d)", data(2.0, "a", facts("running", 35), "running"))  # read before that answer
        assert text() == "rnn · paused · epoch 36 of 2,000"
        page.wait_for_timeout(400)
        assert page.evaluate("triggers") == ["paused#1"]
        answers += [{"runs": {"a": facts("running", 37)}, "at": 6.0, "busy": ""}] * 3
        page.evaluate("d => mount(d)", data(5.0, "a", facts("running", 37), "running"))   # Resume clicked
        page.wait_for_timeout(400)
        assert text() == "rnn · running · epoch 37 of 2,000" and page.evaluate("triggers") == ["paused#1"]
        answers += [{"runs": {"a": facts("finished", 2000)}, "at": 8.0, "busy": ""}] * 3
        page.wait_for_timeout(600)
        assert page.evaluate("triggers") == ["paused#1", "finished#1"]
        page.wait_for_timeout(2200)                                # no redraw for "finished": asks again
        assert page.evaluate("triggers") == ["paused#1", "finished#1", "finished#2"]
        page.evaluate("d => mount(d)", data(9.0, "b", facts("running", 1), "running"))   # a new run
        assert text() == "rnn · running · epoch 1 of 2,000"
        page.route("http://rnnviz.test/p?**", lambda route: route.abort())              # the server is down
        page.wait_for_timeout(600)
        assert "does not answer" in text()
    finally:
        context.close()
