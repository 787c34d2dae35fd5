"""The inspector: ``retain serve``'s web pages at ``/ui`` (docs/inspector.md).

See, search, correct and erase what an agent remembers, signed in with an API key and
limited to what its prefixes and permissions allow: the pages call the same
:class:`~retain.server.service.Service` operations as the REST API. Server-rendered HTML
(Jinja2, autoescaped), no JavaScript, every asset inside the package.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from retain.errors import AuthenticationError, NotFoundError, PermissionDeniedError, RetainError
from retain.server.errors import status_of
from retain.server.ui.routes import COOKIE, SignInRequired, UnsafeRequest, render, router

__all__ = ["COOKIE", "ServerTiming", "install_ui"]

_HIDDEN = "Nothing found there, or it lies outside this key's namespaces."
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServerTiming:
    """ASGI middleware: every HTTP answer carries ``Server-Timing: app;dur=<ms>``, the time
    from the request's arrival to its response's start (the whole render for a page); the
    ``/ui`` pages also get their security headers (CSP without scripts, no framing, no
    caching)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/mcp"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        ui = str(scope.get("path", "")).startswith("/ui")

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.2f}".encode()))
                if ui:
                    headers.extend(_HEADERS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, timed)


def _is_ui(request: Request) -> bool:
    return request.url.path == "/ui" or request.url.path.startswith("/ui/")


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", status=status, title=title, message=message)


async def _ui_error(request: Request, error: Exception) -> Response:
    if isinstance(error, SignInRequired):
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET":
            target = "/ui/namespaces"
        return RedirectResponse("/ui/login?next=" + quote(target, safe=""), status_code=303)
    if isinstance(error, UnsafeRequest):
        return _error_page(
            request, 403, "Refused", "This form was not sent from the inspector's own pages."
        )
    if isinstance(error, NotFoundError):
        return _error_page(request, 404, "Not found", _HIDDEN)
    if isinstance(error, (PermissionDeniedError, AuthenticationError)):
        status, _ = status_of(error)
        message = error.args[0] if error.args else "Refused."
        return _error_page(request, status, "Not allowed", str(message))
    if isinstance(error, RetainError):
        status, _ = status_of(error)
        return _error_page(request, status, "Cannot do that", str(error))
    if isinstance(error, RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in error.errors()
        )
        return _error_page(request, 400, "Bad request", problems)
    if isinstance(error, StarletteHTTPException) and error.status_code == 404:
        return _error_page(request, 404, "Not found", _HIDDEN)
    status = error.status_code if isinstance(error, StarletteHTTPException) else 500
    return _error_page(request, status, "Error", "The request failed.")


def install_ui(app: FastAPI) -> None:
    """Mount the inspector on ``app`` (a :func:`~retain.server.create_app` application):
    pages at ``/ui``, assets at ``/ui/static``; errors under ``/ui`` answer HTML pages
    with the API's statuses (404 outside the key's prefixes, 403 without the permission)."""
    app.include_router(router)
    app.mount(
        "/ui/static", StaticFiles(directory=Path(__file__).parent / "static"), name="ui-static"
    )
    for cls in (RetainError, RequestValidationError, StarletteHTTPException):
        previous = app.exception_handlers.get(cls)

        async def handler(request: Request, error: Exception, previous: Any = previous) -> Response:
            if _is_ui(request) or previous is None:
                return await _ui_error(request, error)
            answer: Response = await previous(request, error)
            return answer

        app.add_exception_handler(cls, handler)
    app.add_exception_handler(SignInRequired, _ui_error)
    app.add_exception_handler(UnsafeRequest, _ui_error)
    app.add_middleware(ServerTiming)
