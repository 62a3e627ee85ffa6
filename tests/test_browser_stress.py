"""Every click counts: 300 clicks on Train, Pause, Resume, Stop, Continue and Reset, each once, in
three lessons (a paced run, and full-speed side-by-side runs), with rewinds of the epoch scrubber.
After each click the test waits for what it must do (the next button, the progress line); it never
clicks again. It also looks for a duplicated block of views and for views left behind by the run.
"""
from __future__ import annotations

import os
import re
import time

from browser import T, artifacts, button, chromium, expect, lab, progress, server, set_slider, slider, SPEED  # noqa: F401
from browser import assert_clean, after_rerun, open_lesson

EFFECT_MS = 15_000      # a click's effect must show within this (the machine is loaded: 2 cores, 3+ runs)
CYCLES = int(os.environ.get("RNNVIZ_STRESS_CYCLES", 10))   # per lesson; 10 clicks each
RUNS = int(os.environ.get("RNNVIZ_STRESS_RUNS", 20))       # Train clicks the moment a run ends
SCRUB = "shown — drag to rewind every view"


def _epoch(text: str) -> int | None:
    m = re.search(r"(?:epoch|step) ([\d,]+) of", text)
    return int(m.group(1).replace(",", "")) if m else None


class Clicks:
    """Clicks once and checks the effect; what did not follow is written down, not retried."""

    def __init__(self, page):
        self.page, self.n, self.lost, self.seconds = page, 0, [], []

    def __call__(self, label: str, effect, lesson: str) -> None:
        self.n += 1
        t0 = time.monotonic()
        button(self.page, label).click()
        try:
            effect()
        except AssertionError as e:
            lines = " | ".join(progress(self.page).all_inner_texts())
            buttons = ", ".join(f"{b.inner_text()}{'' if b.is_enabled() else ' (disabled)'}"
                                for b in self.page.locator('[data-testid="stMain"] button').all()[:8])
            self.lost.append(f"{lesson}: click {self.n} on {label!r}: {str(e).splitlines()[0]}; "
                             f"the progress: {lines}; the buttons: {buttons}")
            print(f"[stress] lost: {self.lost[-1]}")
        self.seconds.append(time.monotonic() - t0)

    def shows(self, label: str, enabled: bool = True):
        b = button(self.page, label)
        return lambda: expect(b).to_be_enabled(timeout=EFFECT_MS) if enabled else \
            expect(b).to_be_disabled(timeout=EFFECT_MS)


def _one_block_of_views(page, lesson: str, problems: list) -> None:
    """Once the rerun for the scrubber's drag to the end has landed (the slider moves in the browser
    at once, its rerun comes after): one block of views, none still rewound."""
    tabs = page.locator('[data-testid="stMain"] [data-testid="stTabs"]').filter(visible=True)
    rewound = page.get_by_text("rewound to").filter(visible=True)
    deadline = time.monotonic() + EFFECT_MS / 1000
    while (tabs.count() != 1 or rewound.count()) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    if tabs.count() != 1:
        problems.append(f"{lesson}: {tabs.count()} blocks of views on screen")
    if rewound.count():
        problems.append(f"{lesson}: a view still says it is rewound")


def _views_follow_the_end(page, lesson: str, problems: list) -> None:
    """Once stopped, the scrubber ends at the last epoch of the runs side by side: no view is stale."""
    deadline = time.monotonic() + EFFECT_MS / 1000
    while time.monotonic() < deadline:
        epochs = [e for e in map(_epoch, progress(page).all_inner_texts()) if e is not None]
        shown = max(epochs, default=None)
        scrub = page.get_by_role("slider", name=re.compile(SCRUB))
        # the scrubber is an <input type="range">: its max is the last epoch, its value the one shown
        ends = (scrub.first.get_attribute("max"), scrub.first.input_value()) if scrub.count() else None
        if shown is not None and ends == (str(shown), str(shown)):
            return
        page.wait_for_timeout(100)
    problems.append(f"{lesson}: after Stop the views (max, shown) are {ends}, the run at {shown}")


def _cycle(page, click: Clicks, lesson: str, rewind: bool, problems: list) -> None:
    first = progress(page).first

    def says(label: str, words: str):      # the button follows the click, the run the worker's answer
        return lambda: (click.shows(label)(), expect(first).to_contain_text(words, timeout=EFFECT_MS))
    click("Train", click.shows("Pause"), lesson)
    expect(progress(page).first).to_contain_text(re.compile(r"epoch [\d,]+ of"), timeout=T)
    click("Pause", says("Resume", "· paused ·"), lesson)
    click("Resume", says("Pause", "· training ·"), lesson)
    click("Pause", says("Resume", "· paused ·"), lesson)
    if rewind:   # the case once seen: a rewind, Stop and a drag to the end left two blocks of views
        thumb = page.get_by_role("slider", name=re.compile(SCRUB)).first
        thumb.focus()
        thumb.press("Home")
        expect(page.get_by_text("rewound to").first).to_be_visible(timeout=EFFECT_MS)
    click("Resume", says("Pause", "· training ·"), lesson)
    click("Stop", says("Continue", "· stopped ·"), lesson)
    if rewind:
        thumb = page.get_by_role("slider", name=re.compile(SCRUB)).first
        thumb.focus()
        thumb.press("End")
    _views_follow_the_end(page, lesson, problems)
    _one_block_of_views(page, lesson, problems)
    click("Continue", says("Pause", "· training ·"), lesson)
    click("Pause", says("Resume", "· paused ·"), lesson)
    click("Stop", says("Continue", "· stopped ·"), lesson)
    click("Reset", click.shows("Stop", enabled=False), lesson)
    expect(page.get_by_text("Press Train to start a run")).to_be_visible(timeout=EFFECT_MS)


# every text the first progress line takes, with its run's id, in order: a 500-epoch run at full speed
# lasts about a second
LINES_JS = """() => { const L = window.__lines = [];
  new MutationObserver(() => { const e = document.querySelector('[data-testid="rnnviz-progress"]');
    const t = e ? `${e.dataset.run} ${e.textContent}` : ''; if (t !== L[L.length - 1]) L.push(t); })
  .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def run_of(line: str) -> str:
    """The run id of a line LINES_JS recorded."""
    return line.split(" ", 1)[0]


def test_train_again_the_moment_a_run_ends(lab):
    """Short runs at full speed, Train clicked as soon as each has ended: the panel's reruns for the
    end of a run, the views' last timer ticks and the click's rerun overlap. Every click's run shows
    (a new run id on the line) and ends, and the page applies everything the server sends."""
    page, runs = lab, RUNS
    task = page.get_by_test_id("stRadio").filter(has_text="task")
    after_rerun(page, lambda: task.get_by_text("seoul", exact=True).click())
    set_slider(page, SPEED, "End", "full speed")
    page.evaluate(LINES_JS)
    seen = set()
    for i in range(runs):
        since = page.evaluate("() => window.__lines.length")
        button(page, "Train").click()
        deadline = time.monotonic() + 4 * EFFECT_MS / 1000
        while True:     # this click's run is on the line and has ended
            lines = page.evaluate(f"() => window.__lines.slice({since})")
            new = [t for t in lines if run_of(t) not in seen]
            if new and "finished" in lines[-1] and run_of(lines[-1]) == run_of(new[-1]):
                seen.add(run_of(new[-1]))
                break
            assert time.monotonic() < deadline, (f"run {i + 1} of {runs} did not show and end: the line "
                                                 f"went {lines[-3:]}; console errors: {page.console_errors[:3]}")
            page.wait_for_timeout(50)
    # the buttons follow the last run's end (the line reruns the panel when the run's phase changes)
    expect(button(page, "Pause")).to_be_disabled(timeout=EFFECT_MS)
    expect(button(page, "Stop")).to_be_disabled(timeout=EFFECT_MS)
    assert not page.console_errors, page.console_errors[:3]
    assert_clean(page)


def test_three_hundred_clicks_and_not_one_lost(lab):
    page = lab
    click, problems = Clicks(page), []
    t0 = time.monotonic()
    # 1. a paced run: seoul, 2,000 epochs at 60 records a second
    task = page.get_by_test_id("stRadio").filter(has_text="task")
    after_rerun(page, lambda: task.get_by_text("seoul", exact=True).click())
    set_slider(page, "epochs", "End", re.compile(r"^2,?000$"))
    for i in range(CYCLES):
        _cycle(page, click, "chars/seoul paced", rewind=i % 3 == 1, problems=problems)
    # 2. three runs side by side at full speed (2 trainers: one waits)
    open_lesson(page, "Vanishing/exploding gradients")
    set_slider(page, "epochs", "End", re.compile(r"^2,?000$"))
    expect(slider(page, SPEED)).to_have_attribute("aria-valuetext", "full speed")
    for i in range(CYCLES):
        _cycle(page, click, "gradients full speed", rewind=i % 3 == 2, problems=problems)
    # 3. two sine runs at full speed
    open_lesson(page, "Sine wave")
    set_slider(page, "epochs", "End", re.compile(r"^2,?000$"))
    for i in range(CYCLES):
        _cycle(page, click, "sine full speed", rewind=i % 3 == 0, problems=problems)
    waits = sorted(click.seconds)
    print(f"[stress] {click.n} clicks in {time.monotonic() - t0:.0f} s; click to effect: median "
          f"{waits[len(waits) // 2]:.2f} s, slowest {waits[-1]:.2f} s")
    assert click.n >= 30 * CYCLES
    assert not click.lost, f"{len(click.lost)} of {click.n} clicks lost:\n" + "\n".join(click.lost)
    assert not problems, "\n".join(problems)
    assert not page.console_errors, page.console_errors[:3]
    assert_clean(page)
