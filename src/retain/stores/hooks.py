"""Write hooks: code that runs inside a store's write transaction, just before it commits.

The durable queue uses this to acknowledge a job in the same transaction as the memories
the job wrote, so a crash can never leave the writes without the acknowledgement (or the
reverse). A hook that raises rolls the whole write back.
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["WriteHook", "run_write_hooks", "write_hook"]

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
