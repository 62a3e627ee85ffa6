"""Starting processes safely from a Streamlit server (or any program whose __main__ must not rerun)."""
from __future__ import annotations

import sys
import threading
import types
from contextlib import contextmanager

_MAIN_LOCK = threading.Lock()


@contextmanager
def without_main():
    """A new process imports its parent's __main__ module first; in a Streamlit server that is the page
    script (Streamlit installs each script run's module as __main__), which must not run in a worker.
    So, while a process starts, __main__ is a bare module with nothing to import."""
    with _MAIN_LOCK:
        real, stand_in = sys.modules.get("__main__"), types.ModuleType("__main__")
        sys.modules["__main__"] = stand_in
        try:
            yield
        finally:
            if sys.modules.get("__main__") is stand_in:   # (unless a script run installed its own meanwhile)
                sys.modules["__main__"] = real
