"""Browser plumbing shared by the parts that drive the lab in Chromium (app, server, lessons,
classroom): the Streamlit server we start and stop, Chromium via Playwright, and what one page reports
(console errors, page exceptions). What the bench reads on a page is in bench/page.py, its finished
script runs in tools/script_runs.py (shared with the browser tests); the processes' CPU and memory
in bench/procs.py.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` in a subprocess we own (stopped by its pid), with the lab's defaults but
    its runs in a temporary folder (RNNVIZ_RUNS: every run is written there when it ends, which is
    where the bench reads finished runs' histories); the shipped checkpoints stay where they are."""

    def __init__(self, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.data = Path(tempfile.mkdtemp(prefix="bench-rnnviz-"))
        self.runs = self.data / "runs"
        self.log_path = self.data / "streamlit.log"
        self.log = open(self.log_path, "w")
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "PYTHONUNBUFFERED": "1", "RNNVIZ_RUNS": str(self.runs), **(env or {})}
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(self.port), "--browser.gatherUsageStats", "false",
             # no file watcher: a source file saved by someone else mid-run would make Streamlit rerun
             # and re-import the app while it is measured
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from the process start until /_stcore/health answers."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}: {self.tail(600)}")
            try:
                with urllib.request.urlopen(self.url + "_stcore/health", timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.t0
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise TimeoutError(f"streamlit did not answer within {timeout:.0f} s: {self.tail(600)}")
            time.sleep(0.1)

    def tail(self, n: int = 1500) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def tracebacks(self) -> int:
        return self.tail(10**8).count("Traceback")

    def stop(self) -> None:
        """SIGTERM (the server writes its runs down first), then wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def remove(self) -> None:
        shutil.rmtree(self.data, ignore_errors=True)


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
