"""The lab's finished script runs, counted from a Playwright page's websocket."""
from __future__ import annotations

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

MAX_FRAME = 512     # bytes: script_finished is a few; deltas are big and not parsed


class ScriptRuns:
    """Counts the page's finished script runs (ForwardMsg script_finished; fragment runs apart), read
    from its websocket: the page's own DOM may never show a short run as "running", and a widget
    change's rerun must have finished before the next click, or the click's callback gets the old
    settings. `page` is a Playwright Page; count from before it opens the app."""

    def __init__(self, page):
        self.done, self.fragments = 0, 0
        self.first = 1          # `done` once the first run since the page (re)opened has finished
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        self.first = self.done + 1
        ws.on("framereceived", self._frame)

    @property
    def opened(self) -> bool:
        """The first script run since the page (re)connected has finished: a change made during it
        would otherwise be taken for finished when that run ends."""
        return self.done >= self.first

    def _frame(self, payload) -> None:
        if not isinstance(payload, (bytes, bytearray)) or len(payload) > MAX_FRAME:
            return
        try:
            msg = ForwardMsg.FromString(bytes(payload))
        except Exception:  # noqa: BLE001 - not a ForwardMsg
            return
        if msg.WhichOneof("type") == "script_finished":
            self.done += msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
            self.fragments += msg.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
