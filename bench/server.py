"""Part 5 (server): the memory of the lab's server and its worker processes, two lessons training.

One student in Chromium: the server started (its lifespan starts the worker processes), the default
page opened, then the Text generation lesson's run (Shakespeare, the lesson's LSTM 128 for 2,000
steps) started, and while it trains the Vanishing/exploding gradients lesson's three runs (copy
task, the lesson's defaults). Every 0.5 s the bench reads the PSS and RSS of the server process and
all its descendants (bench/procs.py: PSS is the honest sum for processes forked from one fork
server); the target is on the largest PSS sum while both lessons train. Memory is in MB (10^6 bytes).
"""
from __future__ import annotations

import time
from typing import Callable

from tools.script_runs import ScriptRuns

from . import page as P
from .browser import Server, Watch, launch, note_failure
from .procs import mb, memory
from .util import check

LIMIT_B = 1e9             # the live-layer issue: under 1 GB
WINDOW_S = 120            # sample at most this long once both lessons train
TEXT = "Text generation"
GRADIENTS = "Vanishing/exploding gradients"
STATUS_JS = """() => [...document.querySelectorAll('[data-testid="rnnviz-background"]')].map(e => e.textContent)"""


def _point(server, label: str, **extra) -> dict:
    m = memory(server.proc.pid)
    return {"label": label, "pss_mb": mb(m["pss"]), "rss_mb": mb(m["rss"]), "processes": m["processes"],
            "each": [{"what": p["what"], "pss_mb": mb(p["pss"]), "rss_mb": mb(p["rss"])} for p in m["each"]], **extra}


def _say(log, p: dict) -> None:
    kinds: dict[str, list[float]] = {}
    for e in p["each"]:
        kinds.setdefault(e["what"], []).append(e["pss_mb"])
    each = ", ".join(f"{k} {'+'.join(f'{v:.0f}' for v in vs)}" for k, vs in kinds.items())
    log(f"  {p['label']}: PSS {p['pss_mb']:.0f} MB, RSS {p['rss_mb']:.0f} MB over {p['processes']} processes ({each})")


def _measure(page, runs, server, res: dict, log) -> None:
    server.wait_ready()
    time.sleep(2.0)
    res["points"] = [_point(server, "started, no page yet")]
    _say(log, res["points"][-1])
    P.open_app(page, server)
    time.sleep(3.0)                               # the server's warm-up thread (torch, plotly) has run
    res["points"].append(_point(server, "one page open"))
    _say(log, res["points"][-1])

    P.open_lesson(page, runs, TEXT)
    P.click_train(page)
    deadline = time.perf_counter() + 60
    while not P.since_click(page)["progress"] and time.perf_counter() < deadline:
        time.sleep(0.2)
    P.open_lesson(page, runs, GRADIENTS)
    t0 = P.click_train(page)
    samples, both = [], []
    while time.perf_counter() - t0 < WINDOW_S:
        b = P.since_click(page)
        grad_active = not (P.started(b) and P.ended(b["last"]))
        status = " ".join(page.evaluate(STATUS_JS))
        text_active = "Text generation" in status and "training" in status
        m = memory(server.proc.pid)
        s = {"t": round(time.perf_counter() - t0, 2), "pss": m["pss"], "rss": m["rss"], "gradients": grad_active,
             "text": text_active}
        samples.append(s)
        if grad_active and text_active:
            both.append(s)
        if not grad_active:
            break
        time.sleep(0.5)
    res["samples"] = [{**s, "pss": mb(s["pss"]), "rss": mb(s["rss"])} for s in samples]
    res["both_training_samples"] = len(both)
    if both:
        peak = max(both, key=lambda s: s["pss"])
        res["peak_pss_mb"], res["rss_at_peak_mb"] = mb(peak["pss"]), mb(peak["rss"])
        res["peak_rss_mb"] = mb(max(s["rss"] for s in both))
        res["peak_pss_b"] = peak["pss"]
    res["points"].append(_point(server, "the gradients lesson's runs ended" if samples and not samples[-1]["gradients"]
                                else f"after {WINDOW_S} s of sampling"))
    _say(log, res["points"][-1])
    log(f"  both lessons training: {len(both)} samples over {both[-1]['t'] - both[0]['t'] if both else 0:.1f} s; "
        f"largest PSS sum {res.get('peak_pss_mb')} MB (RSS then {res.get('rss_at_peak_mb')} MB; largest RSS sum "
        f"{res.get('peak_rss_mb')} MB)")


def part5(quick: bool, log: Callable[[str], None], targets: list) -> dict:
    from playwright.sync_api import sync_playwright

    res: dict = {"not_measured": {}, "unit": "MB = 10^6 bytes"}
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        watch, runs = Watch(page), ScriptRuns(page)
        server = Server()
        try:
            try:
                _measure(page, runs, server, res, log)
            except Exception as e:   # keep what was measured, and a look at the page
                note_failure(res, e, page, server, "server", log)
            res["errors"] = watch.errors()
        finally:
            server.stop()
            res["server_tracebacks"] = server.tracebacks()
            server.close(remove=True)
            browser.close()
    peak = res.pop("peak_pss_b", None)
    why = res["not_measured"].get("error") or ("" if peak else "the two lessons never trained at the same time")
    check(targets, "server: PSS of the server and its workers, two lessons training", None if peak is None else peak / 1e6,
          LIMIT_B / 1e6, unit=" MB", note=why[:200])
    check(targets, "server: page errors and server tracebacks", len(res.get("errors", [])) + res["server_tracebacks"],
          0, unit="")
    if why and "error" not in res["not_measured"]:
        res["not_measured"]["peak"] = why
    if not res["not_measured"]:
        res.pop("not_measured")
    return res
