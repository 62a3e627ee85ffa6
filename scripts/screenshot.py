"""Take the README's screenshot: the gradients lesson's defaults (lag 40) trained to their end, in
Chromium, in presenter mode (the main chart first).

    python scripts/screenshot.py            # writes docs/gradients.png

It starts the app on a free port with its runs in a temporary folder, opens the link
/gradients?train=1&present=true and waits until every run has finished.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gradients.png"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    port, data = _port(), Path(tempfile.mkdtemp(prefix="rnnviz-shot-"))
    env = {**os.environ, "RNNVIZ_RUNS": str(data / "runs"), "RNNVIZ_CHECKPOINTS": str(data / "checkpoints")}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
            page.goto(url + "/gradients?train=1&present=true")
            lines = page.get_by_test_id("rnnviz-progress")
            lines.first.wait_for(timeout=120_000)
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline and not all("· finished" in t for t in lines.all_inner_texts()):
                page.wait_for_timeout(1000)
            page.wait_for_timeout(3000)       # the views redraw for the finished runs
            OUT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(OUT))
            browser.close()
        print(f"wrote {OUT.relative_to(ROOT)}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
