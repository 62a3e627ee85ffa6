"""Part 7: a classroom. N browser sessions (one Chromium, one context each) on one `streamlit run app.py`
train hihell, then seoul, with the lesson's defaults, all at once.

Per session: seconds from its Train click until its run has finished and the headline shows the result
(predicted == target: "ihello", the seoul sentence); the slowest session; errors (console errors other
than unreachable external resources, page exceptions, Streamlit exception boxes, error alerts).
N = 1 (run first) is the single-session reference for "slowest under 10x a single session".

Note: the browsers run on the same machine as the server (a real classroom's do not), so their
rendering competes with the server for the cores; the numbers are an upper bound of what a class sees.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable

from . import page as P
from .browser import Server, Watch, launch
from .procs import cpu_split
from .util import check, median

SENTENCES = {"hihell": "ihello", "seoul": "seoul is the capital of south korea"}
BUDGET_S = 540          # the whole classroom part: no new size or phase starts after this
STALL_S = 45            # a phase ends when no unfinished page's progress text changed for this long
HEAD_WAIT_S = 20        # after a page's progress says finished, wait this long at most for its headline
STATE_JS = """() => ({exceptions: document.querySelectorAll('[data-testid="stException"]').length,
  alerts: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(e => e.textContent),
  head: window.__bench.lastHead})"""
STATUS_JS = """() => [...document.querySelectorAll('[data-testid="rnnviz-background"]')].map(e => e.textContent)"""


def _state(page) -> dict:
    """The headline's reading (bench.page.head), exception boxes and error alerts on the page."""
    s = page.evaluate(STATE_JS)
    return {**s, "head": P.head(s["head"])}


def _done(page, want: str, since: dict, i: int) -> dict | None:
    """The page's state once the run started by the last click has finished and its headline shows the
    result (or HEAD_WAIT_S after it finished, whatever the headline says), else None. The progress bar
    hears of the end first (lab.progress); the headline comes with the page's redraw that follows."""
    b = P.since_click(page)
    if not (P.started(b) and P.ended(b["last"])):
        return None
    s = _state(page)
    first = since.setdefault(i, time.perf_counter())
    if (s["head"] and _plain(s["head"]["predicted"]) == want) or time.perf_counter() - first > HEAD_WAIT_S:
        return s
    return None


def _plain(text: str) -> str:
    return text.replace("\u2423", " ")      # the headline shows a space as an open box


def _trainers_busy(browser, server) -> str:
    """What a fresh session's sidebar says about the trainers (is the server still training?)."""
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        P.open_app(page, server, timeout=20)
        page.get_by_test_id("rnnviz-background").first.wait_for(timeout=5000)
        return " ".join(page.evaluate(STATUS_JS))
    except Exception as e:
        return f"could not read it: {type(e).__name__}"
    finally:
        ctx.close()


def _phase(pages: list, task: str, timeout: float, log, browser=None, server=None) -> dict:
    want = SENTENCES[task]
    if task != "hihell":
        for i, p in enumerate(pages):   # all radios first, then one wait: the pages rerun in parallel
            try:
                p["page"].get_by_test_id("stRadio").filter(has_text="task").get_by_text(task, exact=True).click()
            except Exception:
                shot = Path(tempfile.gettempdir()) / f"bench-classroom-{len(pages)}-session{i}-{task}.png"
                p["page"].screenshot(path=str(shot), full_page=True)
                log(f"    session {i} could not choose {task}; its page: {shot}")
                raise
        deadline = time.perf_counter() + 60
        for p in pages:
            radio = p["page"].get_by_role("radio", name=task)
            while not radio.is_checked() and time.perf_counter() < deadline:
                time.sleep(0.1)
        time.sleep(1.5)
    cpu0 = cpu_split(server.proc.pid) if server else None
    clicks = [P.click_train(p["page"]) for p in pages]
    done: dict[int, tuple[float, dict]] = {}
    since: dict[int, float] = {}
    seen: dict[int, tuple[str, float]] = {}
    deadline, stalled = clicks[-1] + timeout, False
    while len(done) < len(pages) and time.perf_counter() < deadline:
        now = time.perf_counter()
        for i, p in enumerate(pages):
            if i not in done:
                s = _done(p["page"], want, since, i)
                if s is not None:
                    done[i] = (time.perf_counter() - clicks[i], s)
                text = p["page"].evaluate("() => window.__bench.last") or ""
                if seen.get(i, ("", 0))[0] != text:
                    seen[i] = (text, now)
        waiting = [seen.get(i, ("", clicks[i]))[1] for i in range(len(pages)) if i not in done]
        if waiting and now - max(waiting) > STALL_S:
            stalled = True      # no unfinished page has changed for STALL_S: the pages stopped updating
            break
        time.sleep(0.25)
    span = time.perf_counter() - clicks[0]
    cpu1 = cpu_split(server.proc.pid) if server else None
    busy = _trainers_busy(browser, server) if stalled and browser else None
    times = [done[i][0] if i in done else None for i in range(len(pages))]
    heads = [done[i][1]["head"] if i in done else None for i in range(len(pages))]
    correct = sum(bool(h and _plain(h["predicted"]) == _plain(h["target"]) == want) for h in heads)
    stale = {}
    for i, h in enumerate(heads):   # finished, but the headline still shows an earlier epoch: keep a look
        if i in done and not (h and _plain(h["predicted"]) == want):
            shot = Path(tempfile.gettempdir()) / f"bench-classroom-{len(pages)}-session{i}-{task}-stale.png"
            try:
                pages[i]["page"].screenshot(path=str(shot), full_page=True)
                status = pages[i]["page"].evaluate(
                    "() => document.querySelector('[data-testid=\"stStatusWidget\"]')?.innerText || null")
                stale[i] = {"screenshot": str(shot), "status_widget": status, "head": h}
            except Exception as e:   # noqa: BLE001 - a diagnosis, never a failure of its own
                stale[i] = {"error": f"{type(e).__name__}: {e}"}
    finished = [t for t in times if t is not None]
    out = {"seconds": times, "finished": len(finished), "correct": correct, "sessions": len(pages),
           "slowest_s": max(finished) if len(finished) == len(pages) else None,
           "median_s": median(finished), "fastest_s": min(finished) if finished else None,
           "heads": heads, "click_spread_s": clicks[-1] - clicks[0], "timeout_s": timeout, "stalled": stalled,
           "stalled_after_s": (time.perf_counter() - clicks[-1]) if stalled else None,
           "fresh_session_sidebar_at_stall": busy,
           "cpu_per_wall": {k: (cpu1[k] - cpu0[k]) / span for k in cpu0} if cpu0 else None,
           "stale_headlines": stale,
           "last_progress": [None if i in done else P.since_click(p["page"])["last"]
                             for i, p in enumerate(pages)]}
    if busy:
        log(f"    stalled: a fresh session's sidebar says: {busy!r}")
    log(f"    {task}: {len(finished)}/{len(pages)} finished, {correct} show '{want}'"
        f"{f'; STALLED (no page changed for {STALL_S} s)' if stalled else ''}; slowest "
        f"{out['slowest_s'] if out['slowest_s'] is None else round(out['slowest_s'], 2)} s, median "
        f"{None if out['median_s'] is None else round(out['median_s'], 2)} s; cores used: "
        f"{ {k: round(v, 2) for k, v in (out['cpu_per_wall'] or {}).items()} }")
    return out


def one_class(browser, server, n: int, log, until: float, tasks=("hihell", "seoul")) -> dict:
    pages, t0 = [], time.perf_counter()
    try:
        for _ in range(n):
            ctx = browser.new_context(viewport={"width": 1200, "height": 900})
            page = ctx.new_page()
            watch = Watch(page)
            P.open_app(page, server, timeout=120)      # it injects bench.page.OBSERVER_JS
            page.evaluate("() => window.__bench.set({charts: false})")   # the views are not watched
            pages.append({"ctx": ctx, "page": page, "watch": watch})
        opened = time.perf_counter() - t0
        log(f"  N = {n}: {n} sessions open in {opened:.1f} s")
        res = {"open_s": opened}
        for task in tasks:
            left = until - time.perf_counter()
            if task != "hihell" and res["hihell"].get("stalled"):
                res[task] = {"error": "not measured: the pages stopped updating during hihell"}
                log(f"    {task}: skipped (hihell stalled)")
                continue
            if left < 30:
                res[task] = {"error": "not measured: the classroom part's time budget was spent"}
                log(f"    {task}: skipped (time budget)")
                continue
            try:
                res[task] = _phase(pages, task, min(120 + 20 * n, left), log, browser, server)
            except Exception as e:   # a phase that could not run keeps the phases measured before it
                res[task] = {"error": f"{type(e).__name__}: {str(e)[:500]}"}
                log(f"    {task}: stopped: {type(e).__name__}: {str(e)[:300]}")
        errors = []
        for i, p in enumerate(pages):
            s = _state(p["page"])
            errors += [f"session {i}: {e}" for e in p["watch"].errors()]
            errors += [f"session {i}: exception box shown"] * s["exceptions"]
            errors += [f"session {i}: error alert: {a[:200]}" for a in s["alerts"]]
        res["errors"] = errors
        res["offline_resources"] = sorted({u for p in pages for u in p["watch"].offline})
        if errors:
            log(f"    errors: {errors[:5]}{' ...' if len(errors) > 5 else ''}")
        return res
    except Exception as e:
        log(f"  N = {n}: stopped: {type(e).__name__}: {str(e)[:300]}")
        return {"error": f"{type(e).__name__}: {str(e)[:500]}", "sessions_opened": len(pages)}
    finally:
        for p in pages:
            p["ctx"].close()


def part7(n: int, log: Callable[[str], None], targets: list, quick: bool = False) -> dict:
    """A class of 1 (the reference), then of n. quick: hihell only (the target is about hihell), and a
    page that shows no change for 30 s counts as stalled (45 s otherwise)."""
    global STALL_S
    if quick:
        STALL_S = 30
    sizes = sorted({1, max(1, n)})
    from playwright.sync_api import sync_playwright

    res: dict = {"sizes": {}, "note": "browsers and server share this machine's cores"}
    t0 = time.perf_counter()
    with sync_playwright() as pw:
        browser = launch(pw)
        server = Server()
        try:
            warm = browser.new_page()          # the cold start is part 4's; every size starts warm
            P.open_app(warm, server)
            warm.close()
            for n in sizes:
                if time.perf_counter() - t0 > BUDGET_S:
                    res["sizes"][str(n)] = {"error": f"not measured: the classroom part's {BUDGET_S} s budget was spent"}
                    log(f"  N = {n}: skipped (time budget)")
                    continue
                # a smaller class that froze without any page error was overload: a bigger one freezes too
                if any(v.get("hihell", {}).get("stalled") and not v.get("errors") for v in res["sizes"].values()):
                    res["sizes"][str(n)] = {"error": "not measured: a smaller class already stalled (overload)"}
                    log(f"  N = {n}: skipped (a smaller class stalled without page errors)")
                    continue
                res["sizes"][str(n)] = one_class(browser, server, n, log, t0 + BUDGET_S,
                                                 ("hihell",) if quick else ("hihell", "seoul"))
                if server.proc.poll() is not None:
                    res["server_exit"] = server.tail()
                    break
        finally:
            server.stop()
            server.close(remove=True)
            browser.close()
    single = res["sizes"].get("1", {}).get("hihell", {}).get("slowest_s")
    big = max(sizes)
    hi = res["sizes"].get(str(big), {}).get("hihell", {})
    ratio, why = None, res["sizes"].get(str(big), {}).get("error") or hi.get("error")
    if single and "seconds" in hi:
        # unfinished sessions count as the phase's timeout (or its end, if stalled): a lower bound
        cut = hi["stalled_after_s"] if hi["stalled"] else hi["timeout_s"]
        slowest = max(t if t is not None else cut for t in hi["seconds"])
        ratio = slowest / single
        if hi["finished"] < hi["sessions"]:
            res["slowest_over_single_lower_bound"] = ratio
            if ratio < 10.0:     # a lower bound under the target says nothing
                ratio, why = None, (f"{hi['sessions'] - hi['finished']} of {hi['sessions']} sessions never finished "
                                    f"({'their pages stopped updating' if hi['stalled'] else 'timed out'}); "
                                    f"slowest/single > {res['slowest_over_single_lower_bound']:.1f}")
    elif not single:
        why = why or "no single-session reference (N = 1 did not finish hihell)"
    res["slowest_over_single"] = ratio
    check(targets, f"classroom: N={big} slowest hihell / single session", ratio, 10.0, note=why or "")
    check(targets, f"classroom: N={big} sessions without 'ihello' at the end of hihell",
          hi["sessions"] - hi["correct"] if "sessions" in hi else None, 0, unit="", note=why or "")
    check(targets, "classroom: errors over all sizes", sum(len(v.get("errors", [])) for v in res["sizes"].values()), 0,
          unit="")
    if why:
        res["not_measured"] = why
    return res
