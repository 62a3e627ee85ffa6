"""The lab's server as the browser tests and the benchmarks run it: `streamlit run app.py` in a
subprocess we own, its runs (and, if asked, its checkpoints) in a folder of its own, its log in a file.
stop() sends SIGTERM, as a host's service manager does (the server writes its runs down first);
start() again on the same port and folder is a restart."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    def __init__(self, data: Path | None = None, log_dir: Path | None = None, env: dict | None = None,
                 port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.data = Path(data or tempfile.mkdtemp(prefix="rnnviz-lab-"))
        self.runs = self.data / "runs"
        self.log_path = Path(log_dir or self.data) / f"streamlit-{self.port}.log"
        self.log = open(self.log_path, "a")
        self.env = {"RNNVIZ_RUNS": str(self.runs), **(env or {})}
        self.start()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--browser.gatherUsageStats", "false",
             # no file watcher: a source file saved meanwhile would make Streamlit re-import the app
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def tracebacks(self) -> int:
        return self.log_text().count("Traceback")

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from the process start until /_stcore/health answers."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "_stcore/health", timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.t0
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise TimeoutError(f"streamlit did not answer within {timeout:.0f} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM, then wait for the server to exit (it writes its runs down first); its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def close(self, remove: bool = False) -> None:
        """Stop it and close its log; with `remove`, delete its folder (runs, checkpoints, log) too."""
        self.stop()
        self.log.close()
        if remove:
            shutil.rmtree(self.data, ignore_errors=True)
