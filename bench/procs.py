"""The server's processes as the kernel counts them: CPU time of the server, its workers and the
browser (they compete for the same cores), and memory of the server with all its descendants.

Memory: the worker processes fork from one fork server (multiprocessing "forkserver", which has
imported torch once), so they share most of their pages with it and with each other. RSS counts a
shared page in every process that maps it, and a sum of RSS overstates the total several times; PSS
(proportional set size, /proc/<pid>/smaps_rollup) charges each process 1/n of a page n processes
share, so the PSS of all the processes adds up to what they hold together. Both are reported.
"""
from __future__ import annotations

import os

from .util import proc_cpu


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def descendants(root: int, skip: int | None = None) -> list[int]:
    """Every process below `root` (not `root` itself; not `skip` nor anything below it)."""
    kids, stack, found = _children(), [root], []
    while stack:
        for c in kids.get(stack.pop(), []):
            if c != skip:
                stack.append(c)
                found.append(c)
    return found


def cpu_split(server_pid: int) -> dict:
    """CPU seconds so far of the server process, of its descendants (the fork server and the training
    workers) and of everything else this process started (Chromium, the Playwright driver)."""
    return {"server": proc_cpu(server_pid) or 0.0,
            "workers": sum(proc_cpu(p) or 0.0 for p in descendants(server_pid)),
            "browser": sum(proc_cpu(p) or 0.0 for p in descendants(os.getpid(), skip=server_pid))}


def _rollup(pid: int) -> dict | None:
    """{"pss": bytes, "rss": bytes} of one process, from /proc/<pid>/smaps_rollup."""
    got = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in ("Pss", "Rss"):
                    got[key.lower()] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return got if len(got) == 2 else None


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _name(pid: int, server_pid: int) -> str:
    """What a process of the server's tree is (a worker is forked by the fork server: same command line)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        text = " ".join(a.decode(errors="replace") for a in args if a)
    except OSError:
        return "?"
    if "forkserver" in text:
        return "fork server" if _ppid(pid) == server_pid else "worker"
    if "resource_tracker" in text:
        return "resource tracker"
    if "streamlit" in text:
        return "server"
    return "worker" if "multiprocessing" in text or "rnnviz" in text else text[:60]


def memory(server_pid: int) -> dict:
    """PSS and RSS (bytes) of the server and all its descendants, summed and per process."""
    procs = []
    for pid in [server_pid, *descendants(server_pid)]:
        got = _rollup(pid)
        if got is not None:
            procs.append({"pid": pid, "what": "server" if pid == server_pid else _name(pid, server_pid), **got})
    return {"pss": sum(p["pss"] for p in procs), "rss": sum(p["rss"] for p in procs),
            "processes": len(procs), "each": procs}


def mb(n: float | None) -> float | None:
    return None if n is None else round(n / 1e6, 1)
