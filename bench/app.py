"""Part 4: the Streamlit app in a real browser (Chromium via Playwright).

  cold start     `streamlit run app.py` started -> the Train button visible on the default page (hihell)
  first chart    click Train -> the first DOM change inside a view (a plotly chart, or the HTML predictions
                 table) that has drawn something (and -> the first progress text with an epoch), measured
                 in the page's own clock by an injected MutationObserver; the first click of a fresh
                 server (what a student sees: any chart drawn is the new run's) and a second click (only
                 changes from the new run's first redraw on count: earlier ones are the previous run's)
  refreshes/s    changes of the progress text per second over ~5 s while seoul trains at the lesson's pace
  app vs CLI     seoul with the lesson's epochs (500), speed limit "full speed": the app's steps/s (the
                 finished run's own figure in the progress text: steps / seconds of its last record; and
                 epochs/s from the progress texts' timestamps) vs `python -m rnnviz train --task seoul
                 --epochs 500 --probe-every 1` with OMP_NUM_THREADS=1 (steps / seconds of its last record;
                 the app records a probe at every record point, the CLI's default is every 10th), 12 pairs
                 alternating which goes first (a run lasts about a second, and single pairs range from
                 0.8x to 1.6x on this machine); then 6 pairs with the epochs slider at its end (2,000);
                 plus the cores used meanwhile
Selectors are by role and label (button "Train", the "task" radio's "seoul", the slider labelled
"epochs"), as a user finds them; nothing depends on the page's layout or Streamlit's CSS classes.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from .browser import (OBSERVER_JS, ROOT, SPEED, Server, Watch, browser_unavailable, choose_task, click_train,  # noqa: F401
                      cpu_split,
                      launch, open_app, set_slider_end, slider, timeline, wait_run)


def _rates(progress: list) -> dict:
    """steps/s from progress texts: the trainer's own figure (the last one shown: a finished run's is
    its whole run's) and epochs per second."""
    shown = [float(m.group(1).replace(",", "")) for _, p in progress if p and (m := re.search(r"([\d,.]+) steps/s", p))]
    pts = [(t, int(m.group(1).replace(",", ""))) for t, p in progress
           if p and "training" in p and (m := re.search(r"epoch ([\d,]+) of", p))]
    dom = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]) if len(pts) > 1 and pts[-1][0] > pts[0][0] else None
    return {"self_reported": shown[-1] if shown else None, "from_progress_texts": dom, "samples": len(pts)}


def cli_rate(epochs: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "rnnviz", "train", "--task", "seoul", "--epochs", str(epochs),
                        "--probe-every", "1", "--out", str(out / "ck"), "--quiet"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    try:
        if p.returncode:
            return {"error": f"exit {p.returncode}: {p.stderr[-300:]}"}
        recs = json.loads((out / "ck" / "history.json").read_text())["records"]
        return {"steps_per_s": recs[-1]["step"] / recs[-1]["seconds"], "train_seconds": recs[-1]["seconds"],
                "process_wall_s": wall}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _value(thumb) -> int:
    return int(thumb.get_attribute("aria-valuetext").replace(",", ""))


def _app_vs_cli(page, server, epochs: int, n: int, log) -> dict:
    """n pairs of the same seoul run (full speed, `epochs`) in the app and from the CLI, alternating which
    goes first; the median of the paired CLI/app ratios of steps/s (the machine is noisy)."""
    from .util import median
    pairs = []
    for i in range(n):
        got = {}
        for side in ("app", "cli") if i % 2 == 0 else ("cli", "app"):
            if side == "cli":
                got["cli"] = cli_rate(epochs)
                continue
            cpu0, t0 = cpu_split(server), click_train(page)
            wait_run(page, 300, poll=0.25)
            cpu1, t1 = cpu_split(server), time.perf_counter()
            tl = timeline(page)
            got["app"] = _rates(tl["progress"])
            # cores used meanwhile: the browser's share competes with the worker for the 2 cores
            for k in ("server", "workers", "browser"):
                got["app"][f"{k}_cpu_per_wall"] = (cpu1[k] - cpu0[k]) / (t1 - t0)
            window = [t for t, p in tl["progress"] if p and "training" in p]
            span = (window[-1] - window[0]) if len(window) > 1 else 0
            got["app"]["refreshes_per_s_full_speed"] = (len(window) - 1) / span if span else None
        pairs.append(got)
        log(f"  app vs CLI, seoul {epochs} epochs full speed: app {got['app']} | cli {got['cli']}")
    ratios = [p["cli"]["steps_per_s"] / p["app"]["self_reported"] for p in pairs
              if p["app"].get("self_reported") and "steps_per_s" in p["cli"]]
    return {"epochs": epochs, "pairs": pairs, "cli_over_app_ratios": ratios, "median": median(ratios)}


def part4(quick: bool, log: Callable[[str], None], targets: list) -> dict:
    from playwright.sync_api import sync_playwright

    from .util import check

    res: dict = {"not_measured": {}}
    with sync_playwright() as pw:
        browser = launch(pw)                 # before the server: its start-up is not part of the cold start
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        watch = Watch(page)
        server = Server()
        try:
            try:
                res["cold_start_s"] = open_app(page, server)
                log(f"  cold start (process start -> Train visible): {res['cold_start_s']:.2f} s")
                page.evaluate(OBSERVER_JS)
                def refreshes(tl, what):                             # progress-text changes per second
                    t1 = tl["first_progress_epoch_s"]
                    window = [t for t, _ in tl["progress"] if t1 is not None and t1 + 0.5 <= t <= t1 + 5.5]
                    if t1 is not None and tl["progress"] and tl["progress"][-1][0] >= t1 + 5.5:
                        res.setdefault("refreshes", {})[what] = len(window) / 5.0

                for label in ("first click",) if quick else ("first click", "second click"):  # hihell, defaults
                    watch.click = click_train(page)
                    end = wait_run(page, 120)
                    tl = timeline(page)
                    refreshes(tl, f"hihell at the lesson's pace ({label})")
                    tl.update(result=end["head"], finished_text=end["progress"], plotly_js=watch.plotly_js())
                    res[label.replace(" ", "_")] = {k: v for k, v in tl.items() if k != "progress"}
                    log(f"  {label}: first chart {tl['first_chart_s']} s, first epoch in progress "
                        f"{tl['first_progress_epoch_s']} s; plotly.js bundle {tl['plotly_js']}; result {end['head']}")
                choose_task(page, "seoul")
                if not quick:                                        # a longer run at the lesson's pace
                    click_train(page)
                    wait_run(page, 120)
                    refreshes(timeline(page), "seoul at the lesson's pace")
                res["refreshes_per_s"] = min(res.get("refreshes", {}).values(), default=None)
                log(f"  refreshes of the progress text per second while training: {res.get('refreshes')}")
                set_slider_end(page, SPEED, "full speed")            # app vs CLI: the same run, full speed
                page.evaluate("() => window.__bench.charts(false)")   # only the progress text is watched now
                epochs = slider(page, "epochs")
                res["app_vs_cli"] = _app_vs_cli(page, server, _value(epochs), 1 if quick else 12, log)
                res["app_slowdown"] = res["app_vs_cli"]["median"]
                if not quick:                                        # and a longer run: the slider's end
                    epochs.focus()
                    epochs.press("End")
                    time.sleep(1.0)
                    res["app_vs_cli_long"] = _app_vs_cli(page, server, _value(epochs), 6, log)
                    res["app_slowdown_long"] = res["app_vs_cli_long"]["median"]
            except Exception as e:   # a page the app does not (yet) have: keep what was measured
                res["not_measured"]["error"] = f"{type(e).__name__}: {str(e)[:500]}"
                res["server_log_tail"] = server.tail()
                shot = Path(tempfile.gettempdir()) / "bench-app-failure.png"
                try:
                    page.screenshot(path=str(shot), full_page=True)
                    res["failure_screenshot"] = str(shot)
                except Exception:
                    pass
                log(f"  app part stopped: {res['not_measured']['error']}")
            res["errors"] = watch.errors()
            res["offline_resources"] = sorted(set(watch.offline))
        finally:
            server.stop()
            browser.close()
    why = res["not_measured"].get("error", "not reached")
    for name, key, target, how, unit in [("app: first chart after the first Train click", "first_click", 1.0, "<=", " s"),
                                         ("app: refreshes per second while training", "refreshes_per_s", 4.0, ">=", "/s"),
                                         ("app: CLI steps/s / app steps/s", "app_slowdown", 1.2, "<=", "x"),
                                         ("app: the same, a run of the epochs slider's end", "app_slowdown_long",
                                          1.2, "<=", "x")]:
        if key == "app_slowdown_long" and quick:
            continue
        v = res.get(key)
        v = v.get("first_chart_s") if isinstance(v, dict) else v
        check(targets, name, v, target, how, unit, note="" if v is not None else why[:200])
        if v is None:
            res["not_measured"][key] = why
    if not res["not_measured"]:
        res.pop("not_measured")
    return res
