"""Every error retain raises derives from :class:`RetainError`.

The tree::

    RetainError
    ├── ConfigurationError        a bad argument to a retain factory or class (also ValueError)
    │   ├── MissingDependencyError    an optional package is not installed (also ImportError)
    │   ├── ProfileSchemaError        a user-profile schema with fields lacking a description
    │   │                             or a default
    │   └── EmbeddingDimensionError   the embedding model returned vectors of the wrong size
    ├── InvalidInputError         bad data passed at call time: messages, existing memories, ...
    │   │                         (also ValueError)
    │   ├── InvalidNamespaceError     a namespace label that is empty, not a string or has a '.'
    │   │                             (also LangGraph's InvalidNamespaceError)
    │   └── InvalidValueError         a value to store that is not a JSON object (also TypeError)
    ├── ModelOutputError          the model's answer stayed invalid after the bounded repair
    │                             attempts; carries the raw output and what was valid
    ├── StoreError                a memory store failed
    │   ├── StoreLockedError          the database stayed locked by another connection past the
    │   │                             busy timeout and the bounded retries
    │   ├── StoreCorruptedError       the database file is not a database or is damaged
    │   ├── StoreUnavailableError     the database server cannot be reached (also ConnectionError)
    │   ├── StoreTimeoutError         a statement ran past its timeout, or no pooled connection
    │   │                             became free in time (also TimeoutError)
    │   ├── StoreServerError          the database server refused an operation; carries its
    │   │                             message and SQLSTATE
    │   └── QueueError                the durable job queue failed
    │       └── LeaseLostError            a worker's lease on a job ran out and another
    │                                     worker took the job; the late writes were undone
    ├── ExecutorShutdownError     work submitted to a ReflectionExecutor after shutdown()
    │                             (also RuntimeError)
    └── ServiceError              the retain server refused a request or cannot be reached
        ├── AuthenticationError       no API key, or an unknown or revoked one (HTTP 401)
        ├── PermissionDeniedError     the key lacks the permission (read, write, admin) (403)
        ├── NotFoundError             nothing there, or outside the key's namespaces (404;
        │                             also LookupError)
        └── ServerUnavailableError    the server cannot be reached (also ConnectionError)

retain.local (the embedded models) adds ``ModelWeightsError`` (a ConfigurationError:
weights with the wrong sha256) and ``LocalRuntimeError`` (a MissingDependencyError: a
broken llama.cpp build).

Messages say what went wrong and what to do next. Catch ``RetainError`` to handle
everything retain raises; catch a subclass to handle one kind of failure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langgraph.store.base import InvalidNamespaceError as _LangGraphInvalidNamespaceError

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "EmbeddingDimensionError",
    "ExecutorShutdownError",
    "InvalidInputError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "LeaseLostError",
    "MissingDependencyError",
    "ModelOutputError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProfileSchemaError",
    "QueueError",
    "RetainError",
    "ServerUnavailableError",
    "ServiceError",
    "StoreCorruptedError",
    "StoreError",
    "StoreLockedError",
    "StoreServerError",
    "StoreTimeoutError",
    "StoreUnavailableError",
]


class RetainError(Exception):
    """Root of every error raised by retain."""


class ConfigurationError(RetainError, ValueError):
    """A retain factory or class got an argument it cannot use.

    The message names the argument and how to fix it.
    """


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency is missing. The message has the install command."""

    def __init__(
        self, what: str, package: str, extra: str | None = None, *, command: str | None = None
    ) -> None:
        self.package = package
        self.extra = extra
        if command is None:
            command = f"pip install 'retain[{extra}]'" if extra else f"pip install {package}"
        super().__init__(
            f"{what} needs the package {package!r}, which is not installed. "
            f"Install it with: {command}"
        )


class ProfileSchemaError(ConfigurationError):
    """A user-profile schema whose fields lack a description or a default."""


class InvalidInputError(RetainError, ValueError):
    """The data passed to a call (messages, existing memories, options) is invalid."""


class InvalidNamespaceError(InvalidInputError, _LangGraphInvalidNamespaceError):
    """A namespace label is empty, not a string, or contains ``'.'`` (or a NUL byte).

    Also LangGraph's ``InvalidNamespaceError``, so code written for LangGraph's stores
    catches it unchanged.
    """


class InvalidValueError(InvalidInputError, TypeError):
    """A value to store is not a JSON object (a ``dict`` of JSON-serialisable values).

    Also a ``TypeError``, which is what ``json.dumps`` raises for such values.
    """


class EmbeddingDimensionError(ConfigurationError):
    """The embedding model returned vectors of another size (or count) than the index says.

    Fix the index's ``dims`` or the model; nothing was written.
    """


class ModelOutputError(RetainError):
    """The model's output failed validation and could not be repaired.

    Nothing is silently dropped: ``raw`` holds the model's last raw output(s),
    ``errors`` the validation problems, and ``valid`` whatever part of the answer
    was valid (for the memory manager, the memory operations that did validate).
    """

    def __init__(
        self,
        message: str,
        *,
        raw: Sequence[Any] = (),
        errors: Sequence[str] = (),
        valid: Sequence[Any] = (),
    ) -> None:
        self.raw = list(raw)
        self.errors = list(errors)
        self.valid = list(valid)
        details = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{message}\n{details}" if details else message)


class StoreError(RetainError):
    """A memory store operation failed."""


class StoreLockedError(StoreError):
    """Another connection kept the database locked past the busy timeout and retries
    (SQLite), or held a row lock past ``lock_timeout`` (PostgreSQL).

    The message names the file or server; retry later, raise the timeout, or find the
    process holding the lock.
    """


class StoreCorruptedError(StoreError):
    """The database file is not a database or is damaged. The message names the file."""


class StoreUnavailableError(StoreError, ConnectionError):
    """The database server cannot be reached (wrong URL, server down, bad credentials).

    The message names the URL (password hidden) and what to check.
    """

    def __init__(self, message: str) -> None:
        # a driver's text ending in "?" or "." is not followed by a second full stop
        super().__init__(re.sub(r"([.?!])\. ", r"\1 ", message))


class StoreTimeoutError(StoreError, TimeoutError):
    """A statement ran past the store's ``statement_timeout``, or every pooled connection
    stayed busy past the pool's timeout. Nothing of the operation was written."""


class StoreServerError(StoreError):
    """The database server refused an operation for another reason than a lost
    connection (a limit exceeded, a constraint, ...). ``sqlstate`` is the server's error
    code and ``server_message`` its own message; nothing of the operation was written."""

    def __init__(self, message: str, *, sqlstate: str | None, server_message: str) -> None:
        self.sqlstate = sqlstate
        self.server_message = server_message
        super().__init__(message)


class QueueError(StoreError):
    """The durable job queue failed (the database, or a job that does not exist)."""


class LeaseLostError(QueueError):
    """A worker held a job past its lease; another worker took the job over.

    The late worker's writes to the queue's database were rolled back, so the job's
    effect is applied once, by the worker that holds the lease.
    """


class ExecutorShutdownError(RetainError, RuntimeError):
    """Work was submitted to a ``ReflectionExecutor`` after ``shutdown()``."""


class ServiceError(RetainError):
    """The retain server (``retain serve``) refused a request, or cannot be reached.

    ``status`` is the HTTP status (0 when no answer came), ``type`` the retain error type
    the server named (for example ``"InvalidNamespaceError"``) and ``hint`` what to do.
    """

    def __init__(
        self, message: str, *, status: int = 0, type: str | None = None, hint: str = ""
    ) -> None:
        self.status = status
        self.type = type or self.__class__.__name__
        self.hint = hint
        super().__init__(f"{message} {hint}".strip() if hint else message)


class AuthenticationError(ServiceError):
    """No API key was given, or it is unknown or revoked (HTTP 401)."""


class PermissionDeniedError(ServiceError):
    """The API key lacks the permission the request needs: read, write or admin (HTTP 403)."""


class NotFoundError(ServiceError, LookupError):
    """Nothing is there, or it lies outside the API key's namespaces (HTTP 404; the server
    answers both the same way, so a key learns nothing about other tenants)."""


class ServerUnavailableError(ServiceError, ConnectionError):
    """The retain server cannot be reached (wrong URL, not running, network down)."""
