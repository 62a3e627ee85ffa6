"""Browser plumbing shared by the parts that drive the lab in Chromium (app, server, lessons,
classroom): the Streamlit server we start and stop (tools/lab_server.py), Chromium via Playwright, and what one page reports
(console errors, page exceptions). What the bench reads on a page is in bench/page.py, its finished
script runs in tools/script_runs.py (shared with the browser tests); the processes' CPU and memory
in bench/procs.py.
"""
from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path

from tools.lab_server import ROOT, LabServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
OFFLINE = ("net::ERR_NAME_NOT_RESOLVED", "net::ERR_INTERNET_DISCONNECTED", "net::ERR_CONNECTION_REFUSED")


def browser_unavailable() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM}"
    if not (ROOT / "app.py").exists():
        return "app.py does not exist yet"
    return ""


class Server(LabServer):
    """The lab's server for the bench: the lab's defaults, but its runs in a temporary folder (every run
    is written there when it ends, which is where the bench reads finished runs' histories); the
    shipped checkpoints stay where they are."""

    def tail(self, n: int = 1500) -> str:
        return self.log_text()[-n:]


def launch(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


class Watch:
    """Console errors, page exceptions and failed requests of one page (offline resources apart), and
    when Streamlit's plotly bundle was asked for and arrived."""

    def __init__(self, page):
        self.console, self.pageerrors, self.offline, self.bundle = [], [], [], {}
        page.on("request", lambda r: self.bundle.setdefault("requested", time.perf_counter())
                if "PlotlyChart" in r.url else None)
        page.on("requestfinished", lambda r: self.bundle.setdefault("loaded", time.perf_counter())
                if "PlotlyChart" in r.url else None)
        page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.pageerrors.append(str(e)))
        page.on("requestfailed", lambda r: self.offline.append(r.url) if (r.failure or "") in OFFLINE else None)

    def plotly_js(self, click: float | None) -> dict:
        """When the plotly bundle (~4.7 MB of JS) was asked for and had arrived, in seconds after
        `click` (perf_counter of this process; negative: before it)."""
        return {k: None if click is None else round(v - click, 3) for k, v in self.bundle.items()}

    def errors(self) -> list[str]:
        """Console errors that are not the browser reporting an unreachable external resource."""
        real = [c for c in self.console if not (c.startswith("Failed to load resource") and self.offline)]
        return real + [f"pageerror: {e}" for e in self.pageerrors]


def note_failure(res: dict, e: Exception, page, server: Server, part: str, log) -> None:
    """A part that stopped part-way keeps what it measured, plus why, the server's log and a look at
    the page (bench-<part>-failure.png in the temporary folder)."""
    res["not_measured"]["error"] = f"{type(e).__name__}: {str(e)[:500]}"
    res["traceback"] = traceback.format_exc(limit=-3)
    res["server_log_tail"] = server.tail()
    shot = Path(tempfile.gettempdir()) / f"bench-{part}-failure.png"
    try:
        page.screenshot(path=str(shot), full_page=True)
        res["failure_screenshot"] = str(shot)
    except Exception:  # noqa: BLE001 - a diagnosis, never a failure of its own
        pass
    log(f"  {part} part stopped: {res['not_measured']['error']}")
