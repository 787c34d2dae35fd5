"""Write hooks: code that runs inside a store's write transaction, just before it commits.

The durable queue uses this to acknowledge a job in the same transaction as the memories
the job wrote, so a crash can never leave the writes without the acknowledgement (or the
reverse). A hook that raises rolls the whole write back.

* :func:`write_hook`: for :class:`~retain.stores.SQLiteStore`, ``hook(store, connection)``
  runs SQL on the write's own connection.
* :func:`pg_write_hook`: for :class:`~retain.stores.PostgresStore`, whose writes are
  generators of SQL steps (:mod:`retain.stores.pg_driver`): ``hook(store)`` returns more
  steps, run in the same transaction on the same connection (no second connection is
  ever taken while the write holds one).
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from collections.abc import Callable, Generator, Iterator
from typing import Any

__all__ = [
    "PgWriteHook",
    "WriteHook",
    "pg_write_hook",
    "pg_write_steps",
    "run_write_hooks",
    "write_hook",
]

WriteHook = Callable[[Any, sqlite3.Connection], None]
"""``hook(store, connection)``: called inside the write transaction of ``store``."""

_HOOKS: contextvars.ContextVar[tuple[WriteHook, ...]] = contextvars.ContextVar(
    "retain_write_hooks", default=()
)


@contextlib.contextmanager
def write_hook(hook: WriteHook) -> Iterator[None]:
    """Run ``hook(store, connection)`` inside every store write made in this block (this
    thread or task only), just before the write commits."""
    token = _HOOKS.set((*_HOOKS.get(), hook))
    try:
        yield
    finally:
        _HOOKS.reset(token)


def run_write_hooks(store: Any, conn: sqlite3.Connection) -> None:
    """Called by the stores inside their write transaction."""
    for hook in _HOOKS.get():
        hook(store, conn)


PgWriteHook = Callable[[Any], Generator[Any, list[tuple[Any, ...]], None]]
"""``hook(store)``: SQL steps (``Sql``) run inside a ``PostgresStore`` write transaction."""

_PG_HOOKS: contextvars.ContextVar[tuple[PgWriteHook, ...]] = contextvars.ContextVar(
    "retain_pg_write_hooks", default=()
)


@contextlib.contextmanager
def pg_write_hook(hook: PgWriteHook) -> Iterator[None]:
    """Add ``hook(store)``'s steps to every ``PostgresStore`` write made in this block (this
    thread or task only), just before the write commits."""
    token = _PG_HOOKS.set((*_PG_HOOKS.get(), hook))
    try:
        yield
    finally:
        _PG_HOOKS.reset(token)


def pg_write_steps(store: Any) -> Generator[Any, list[tuple[Any, ...]], None]:
    """Called (``yield from``) by ``PostgresStore`` at the end of its write steps."""
    for hook in _PG_HOOKS.get():
        yield from hook(store)
