"""An app that answers every request with its process id (tests of server processes)."""

from __future__ import annotations

import os
from typing import Any


def make() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = str(os.getpid()).encode()
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def broken() -> Any:
    """An app factory that cannot start."""
    raise RuntimeError("this app cannot start")
