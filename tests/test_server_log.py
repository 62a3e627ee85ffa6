"""The server's log keeps real exceptions and leaves out the one Streamlit's WebSocket endpoint logs for
a tab closed while the server sent to it (app.ClosedTabFilter)."""
from __future__ import annotations

import asyncio
import logging

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnected, WebSocketState

import app  # noqa: F401  (installs the filter on uvicorn's error log)


def _closed_tab_error() -> WebSocketDisconnected:
    """What Streamlit's endpoint raises, made as it is made: a receive after the server's send found the
    tab gone, then the endpoint's close()."""
    async def nothing(*_):
        return None
    ws = WebSocket({"type": "websocket", "path": "/_stcore/stream", "headers": []}, nothing, nothing)
    ws.application_state = WebSocketState.DISCONNECTED      # as Starlette sets it when a send fails
    try:
        try:
            asyncio.run(ws.receive_bytes())
        except RuntimeError:                                   # the endpoint's "text frame" branch
            asyncio.run(ws.close())
    except WebSocketDisconnected as e:
        return e
    raise AssertionError("Starlette raised nothing: the filter's case no longer happens")


def _logged(exc: BaseException, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="uvicorn.error"):
        try:
            raise exc
        except BaseException:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application\n")
    return [r.getMessage() for r in caplog.records]


def test_a_closed_tab_is_not_logged_as_an_exception(caplog):
    assert _logged(_closed_tab_error(), caplog) == []


@pytest.mark.parametrize("exc", [RuntimeError("a bug"), WebSocketDisconnected("closed twice by our code")])
def test_every_other_exception_is_still_logged(exc, caplog):
    assert _logged(exc, caplog) == ["Exception in ASGI application\n"]
