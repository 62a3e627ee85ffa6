"""The classroom in a real browser: a link copied in one browser opens the same setup in another; in
presenter mode at 1280x720 the main chart is whole on screen; the history downloads as CSV."""
from __future__ import annotations

import csv
import io
import re

from browser import (ARGS, CHROMIUM, T, after_rerun, artifacts, button, charts, chromium, expect, lab,  # noqa: F401
                     progress, server, set_slider, slider)
from tools.script_runs import ScriptRuns


def _page(chromium, url: str, width: int = 1400, height: int = 1000):
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(T)
    page = context.new_page()
    page.page_errors = []
    page.on("pageerror", lambda e: page.page_errors.append(str(e)))
    page.script_runs = ScriptRuns(page)
    page.goto(url, wait_until="domcontentloaded")
    expect(button(page, "Train")).to_be_enabled()
    return page


def test_a_copied_link_opens_the_same_setup_in_another_browser(chromium, server):
    teacher = _page(chromium, server.url + "gradients")
    set_slider(teacher, "lag (steps to bridge)", "End", "200")
    expect(teacher).to_have_url(re.compile(r"gradients\.copy\.task\.lag=200"))
    teacher.get_by_role("button", name=re.compile("Share")).click()
    field = teacher.locator('[data-testid="rnnviz-link"]').first
    expect(field).to_have_value(re.compile(r"lag=200"))
    link = field.input_value()
    assert link.startswith(server.url.rstrip("/")) and "gradients.copy.task.lag=200" in link
    student = _page(chromium, link)                            # a fresh browser: another context, no cookie
    expect(slider(student, "lag (steps to bridge)")).to_have_attribute("aria-valuetext", "200")
    expect(student.get_by_role("heading", name=re.compile("Vanishing"))).to_be_visible()
    for p in (teacher, student):
        assert not p.page_errors, p.page_errors
        p.context.close()


def test_a_reopened_tab_puts_the_restored_settings_in_its_address(chromium, server):
    """A new tab shows the settings of the run on screen; its address bar, the link a student shares,
    must say them too, or a classmate opens another setup."""
    page = _page(chromium, server.url)
    task = page.get_by_test_id("stRadio").filter(has_text="task")
    after_rerun(page, lambda: task.get_by_text("seoul", exact=True).click())
    expect(page).to_have_url(re.compile(r"chars\.task=seoul"))
    button(page, "Train").click()
    button(page, "Stop").click()
    expect(progress(page).first).to_contain_text(re.compile("stopped|finished"))
    again = page.context.new_page()                          # the same browser, the bare address
    again.goto(server.url, wait_until="domcontentloaded")
    expect(again.get_by_test_id("stRadio").filter(has_text="task").get_by_role("radio", name="seoul")).to_be_checked()
    expect(again).to_have_url(re.compile(r"chars\.task=seoul"))
    page.context.close()


def test_presenter_mode_shows_the_main_chart_whole_at_1280x720(chromium, server, artifacts):
    page = _page(chromium, server.url + "gradients?present=true", 1280, 720)
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    button(page, "lag 40").click()                              # a preset: it trains at once
    expect(progress(page)).to_have_count(3)
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Gradient through time").filter(visible=True)
    expect(chart).to_have_count(1)
    expect(chart.locator(".scatterlayer .trace").first).to_be_attached()
    page.mouse.wheel(0, -2000)                                  # at the top of the page, as it opens
    page.screenshot(path=str(artifacts / "presenter-1280x720.png"))
    # whole on screen (the chart is redrawn every second while it trains: the check waits for a drawn one)
    expect(chart).to_be_in_viewport(ratio=1)
    for i in range(3):      # the preset's 60 epochs end in seconds: a Stop could arrive after the end
        expect(progress(page).nth(i)).to_contain_text("finished", timeout=2 * T)
    page.context.close()


def test_presenter_mode_gives_the_sine_wave_s_charts_the_page_s_width_at_1280x720(chromium, server, artifacts):
    """Side by side, each sine chart had half the page: its legend stacked in four rows under the plot,
    which kept 92 px of the chart's 360. One under the other, the legend is one row, the plot twice as
    high, and the first chart whole on screen. Its gradient is drawn against the time step."""
    page = _page(chromium, server.url + "sine?present=true", 1280, 720)
    button(page, "Train").click()
    for i in range(2):
        expect(progress(page).nth(i)).to_contain_text("finished", timeout=2 * T)
    sine = charts(page, "sequence prediction")
    expect(sine).to_have_count(2)
    expect(sine.first.locator(".scatterlayer .trace")).to_have_count(4)      # input, target, prediction, free
    page.mouse.wheel(0, -2000)                                  # at the top of the page, as it opens
    page.screenshot(path=str(artifacts / "presenter-sine-1280x720.png"))
    expect(sine.first).to_be_in_viewport(ratio=1)
    plot, legend = (sine.first.locator(s).first.bounding_box() for s in (".nsewdrag", ".legend .bg"))
    assert plot["height"] >= 150 and plot["width"] >= 900 and legend["height"] < 45, (plot, legend)
    page.get_by_role("tab", name="Gradient").click()
    grad = charts(page, "Gradient through time")
    expect(grad.locator(".xtitle")).to_have_text("time step t")
    ticks = grad.locator(".xtick text").all_text_contents()
    assert ticks and all(t.isdigit() for t in ticks), ticks
    page.context.close()


def test_in_presenter_mode_keys_train_pause_resume_and_stop(chromium, server):
    """At a projector the run bar is under the views, below the fold on the sine wave: T, P and S press
    Train, Pause / Resume and Stop wherever the page is scrolled, also right after a click on the
    presenter toggle (Streamlit's own shortcuts wait while any input, a toggle too, has the focus)."""
    page = _page(chromium, server.url + "sine?sine.sine.train.epochs=2000", 1280, 720)
    page.get_by_text("presenter mode").click()
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    bar = progress(page).first
    for key, says in [("t", "· training ·"), ("p", "· paused ·"), ("p", "· training ·"), ("s", "· stopped ·")]:
        if key == "p":       # the toggle has the focus until here (lab/web/keys.js); then Streamlit's own
            page.evaluate("() => document.activeElement.blur()")
        page.keyboard.press(key)
        expect(bar).to_contain_text(says)
        expect(charts(page, "sequence prediction").first).to_be_in_viewport()
        expect(button(page, "Train")).not_to_be_in_viewport()      # the keys were pressed, not the buttons
    expect(bar).to_contain_text(re.compile(r"epoch [\d,]+ of 2,000"))
    expect(button(page, "Continue")).to_be_enabled()
    assert not page.page_errors, page.page_errors
    page.context.close()


def test_the_history_downloads_as_csv(lab):
    page = lab
    speed = slider(page, "speed limit (epochs per second)")
    speed.focus()
    speed.press("End")
    button(page, "Train").click()
    expect(progress(page)).to_contain_text(re.compile(r"finished\s*·\s*epoch 100 of 100"), timeout=2 * T)
    # the panel has been drawn for the end (the line says it first): the button of the panel drawn
    # before it names a file that rerun dropped
    expect(button(page, "Continue")).to_be_enabled()
    with page.expect_download() as got:
        page.get_by_test_id("stDownloadButton").filter(has_text="CSV").get_by_role("button").click()
    rows = list(csv.DictReader(io.StringIO(open(got.value.path()).read())))
    assert len(rows) == 100 and rows[0]["run"] == "rnn" and rows[-1]["epoch"] == "100"
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])


def test_presenter_mode_shows_the_predictions_and_the_run_bar_at_1280x720(chromium, server, artifacts):
    """hihell's main view is its table of predictions, above the run bar in presenter mode: both on screen,
    the Stop button too (a table of 15 epochs pushed the bar below the fold)."""
    page = _page(chromium, server.url + "?present=true", 1280, 720)
    button(page, "Train").click()
    table = page.locator(".rnnviz-pt").filter(visible=True)
    expect(table.locator("tr")).to_have_count(4)                 # the target, first, middle and last epochs
    page.mouse.wheel(0, -2000)                                   # at the top of the page, as it opens
    page.screenshot(path=str(artifacts / "presenter-chars-1280x720.png"))
    for what in (table.first, button(page, "Stop")):
        expect(what).to_be_in_viewport(ratio=1)
    expect(progress(page).first).to_contain_text(re.compile(r"finished|training"))
    if button(page, "Stop").is_enabled():                        # leave no run training for the next test
        button(page, "Stop").click()
    page.context.close()
