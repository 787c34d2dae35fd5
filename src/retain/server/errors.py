"""One place where errors become HTTP answers: ``{"error": {"type", "message", "hint"}}``.

=====================================  ======  ==========================================
error                                  status  meaning
=====================================  ======  ==========================================
AuthenticationError                    401     no key, or unknown or revoked
PermissionDeniedError                  403     the key lacks read, write or admin
NotFoundError                          404     nothing there, or outside the key's prefixes
InvalidInputError (and subclasses),    400     bad namespace, value, filter, argument
ConfigurationError
(request body fails the schema)        422     type ``InvalidInputError``
StoreLockedError, StoreUnavailableError 503    retry later
StoreTimeoutError                      503     retry later
ModelOutputError                       502     the model's answer stayed invalid
any other error                        500     type ``InternalError``; details only in the log
=====================================  ======  ==========================================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from retain.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ModelOutputError,
    NotFoundError,
    PermissionDeniedError,
    RetainError,
    StoreLockedError,
    StoreTimeoutError,
    StoreUnavailableError,
)
from retain.server.models import ErrorOut

__all__ = ["ERROR_RESPONSES", "error_body", "install_error_handlers", "status_of"]

logger = logging.getLogger("retain.server")

_STATUS: list[tuple[type[BaseException], int, str]] = [
    (AuthenticationError, 401, "Send a valid key: 'Authorization: Bearer <key>'."),
    (PermissionDeniedError, 403, "Use a key with the permission this needs."),
    (NotFoundError, 404, "Check the namespace and key, and the key's prefixes."),
    (InvalidInputError, 400, "Fix the request; the message says what is wrong."),
    (ConfigurationError, 400, "Fix the request or the server's configuration."),
    (StoreLockedError, 503, "The database is busy; retry in a moment."),
    (StoreUnavailableError, 503, "The database cannot be reached; retry later."),
    (StoreTimeoutError, 503, "The database is busy; retry in a moment."),
    (ModelOutputError, 502, "The model's answer was invalid; retry, or use another model."),
]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "model": ErrorOut}
    for code, text in [
        (400, "Bad input"),
        (401, "No, unknown or revoked API key"),
        (403, "The key lacks the permission"),
        (404, "Not found, or outside the key's namespaces"),
        (422, "The request body does not match the schema"),
    ]
}


def status_of(error: BaseException) -> tuple[int, str]:
    """The HTTP status and hint for ``error``."""
    for cls, status, hint in _STATUS:
        if isinstance(error, cls):
            return status, hint
    return 500, "The server failed; its log has the details."


def error_body(type_: str, message: str, hint: str = "") -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, "hint": hint}}


def _answer(request: Request, error: RetainError) -> JSONResponse:
    status, hint = status_of(error)
    if status >= 500:
        logger.warning(
            "%s %s: %s: %s", request.method, request.url.path, type(error).__name__, error
        )
    message = str(error)
    if isinstance(error, (AuthenticationError, PermissionDeniedError, NotFoundError)):
        message = error.args[0] if error.args else message
        hint = error.hint or hint
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        error_body(type(error).__name__, message, hint), status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Translate every error into the one JSON shape."""

    @app.exception_handler(RetainError)
    async def retain_error(request: Request, error: RetainError) -> JSONResponse:
        return _answer(request, error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in error.errors()
        )
        return JSONResponse(
            error_body("InvalidInputError", f"The request is invalid: {problems}", ""),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        kind = "NotFoundError" if error.status_code == 404 else "HTTPError"
        return JSONResponse(
            error_body(kind, str(error.detail), ""),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(
            error_body("InternalError", "The server failed on this request.", status_of(error)[1]),
            status_code=500,
        )
