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
* :func:`write_replay`: asked by both stores *before* a write: a check that answers
  ``True`` makes the store skip the write, which an earlier attempt of the same job already
  committed (the queue's replay of a job that runs again).
* :func:`purge_jobs` / :func:`pg_purge_jobs`: run by ``purge`` in its own transaction, so
  the jobs that carry a purged user's conversation go with the user's memories.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

__all__ = [
    "PgWriteHook",
    "WriteHook",
    "WriteReplay",
    "job_namespace",
    "pg_purge_jobs",
    "pg_write_hook",
    "pg_write_steps",
    "purge_jobs",
    "run_write_hooks",
    "write_hook",
    "write_replay",
    "write_replayed",
]

H = TypeVar("H")


class _Registry(Generic[H]):
    """Callables registered for the current thread or task (a context variable), in the
    order they were added."""

    def __init__(self, name: str) -> None:
        self._var: contextvars.ContextVar[tuple[H, ...]] = contextvars.ContextVar(name, default=())

    @contextlib.contextmanager
    def added(self, item: H) -> Iterator[None]:
        token = self._var.set((*self._var.get(), item))
        try:
            yield
        finally:
            self._var.reset(token)

    def __iter__(self) -> Iterator[H]:
        return iter(self._var.get())


WriteHook = Callable[[Any, sqlite3.Connection], None]
"""``hook(store, connection)``: called inside the write transaction of ``store``."""

_HOOKS: _Registry[WriteHook] = _Registry("retain_write_hooks")


def write_hook(hook: WriteHook) -> contextlib.AbstractContextManager[None]:
    """Run ``hook(store, connection)`` inside every store write made in this block (this
    thread or task only), just before the write commits."""
    return _HOOKS.added(hook)


def run_write_hooks(store: Any, conn: sqlite3.Connection) -> None:
    """Called by the stores inside their write transaction."""
    for hook in _HOOKS:
        hook(store, conn)


PgWriteHook = Callable[[Any], Generator[Any, list[tuple[Any, ...]], None]]
"""``hook(store)``: SQL steps (``Sql``) run inside a ``PostgresStore`` write transaction."""

_PG_HOOKS: _Registry[PgWriteHook] = _Registry("retain_pg_write_hooks")


def pg_write_hook(hook: PgWriteHook) -> contextlib.AbstractContextManager[None]:
    """Add ``hook(store)``'s steps to every ``PostgresStore`` write made in this block (this
    thread or task only), just before the write commits."""
    return _PG_HOOKS.added(hook)


def pg_write_steps(store: Any) -> Generator[Any, list[tuple[Any, ...]], None]:
    """Called (``yield from``) by ``PostgresStore`` at the end of its write steps."""
    for hook in _PG_HOOKS:
        yield from hook(store)


WriteReplay = Callable[[Any, frozenset[str]], bool]
"""``check(store, namespaces)``: ``True`` if the write ``store`` is about to make to
``namespaces`` (as the store spells them) is to be skipped."""

_REPLAYS: _Registry[WriteReplay] = _Registry("retain_write_replays")


def write_replay(check: WriteReplay) -> contextlib.AbstractContextManager[None]:
    """Ask ``check(store, namespaces)`` before every store write made in this block (this
    thread or task only); the store skips a write for which it answers ``True``."""
    return _REPLAYS.added(check)


def write_replayed(store: Any, namespaces: Iterable[str]) -> bool:
    """Called by both stores before a write to ``namespaces`` (every check is asked, so
    each can count the write): whether to skip it, as already applied."""
    written = frozenset(namespaces)
    replayed = False
    for check in _REPLAYS:
        replayed = check(store, written) or replayed
    return replayed


# -- purge -------------------------------------------------------------------------------


def job_namespace(key: str | None) -> tuple[str, ...] | None:
    """The namespace a job's key names, for keys made by
    :func:`retain.executor.debounce_key` (``[namespace, thread]`` as JSON); ``None`` for
    other keys.

    Example:
        >>> job_namespace('[["memories","alice"],"t1"]'), job_namespace("my-key")
        (('memories', 'alice'), None)
    """
    if not key or not key.startswith("[["):
        return None
    try:
        decoded = json.loads(key)
    except ValueError:
        return None
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[0], list)):
        return None
    if not all(isinstance(label, str) for label in decoded[0]):
        return None
    return tuple(decoded[0])


def _under(keyed: Sequence[tuple[Any, str | None]], prefix: Sequence[str]) -> list[Any]:
    """The ids of the ``(id, key)`` rows whose key names a namespace under ``prefix``."""
    size = len(prefix)
    out = []
    for job_id, key in keyed:
        namespace = job_namespace(key)
        if namespace is not None and namespace[:size] == tuple(prefix):
            out.append(job_id)
    return out


_KEYED_JOBS = "SELECT id, key FROM retain_jobs WHERE key LIKE '[[%'"


def purge_jobs(conn: sqlite3.Connection, prefix: Sequence[str]) -> int:
    """Delete, inside ``purge``'s SQLite transaction, every job (any state, any queue) whose
    key names a namespace under ``prefix``: its payload holds the user's conversation and
    its result the memories made from it. A worker running one of them loses its lease, so
    its later writes roll back. Returns how many jobs were deleted."""
    ids = _under(conn.execute(_KEYED_JOBS).fetchall(), prefix)
    if ids:
        conn.execute(
            "DELETE FROM retain_jobs WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
    return len(ids)


def pg_purge_jobs(prefix: Sequence[str]) -> Generator[Any, list[tuple[Any, ...]], int]:
    """:func:`purge_jobs` as ``PostgresStore`` steps (``yield from`` inside its purge)."""
    from retain.stores.pg_driver import Sql

    rows = yield Sql(_KEYED_JOBS + " FOR UPDATE")
    ids = _under(rows, prefix)
    if ids:
        yield Sql("DELETE FROM retain_jobs WHERE id = ANY(%(ids)s)", {"ids": ids})
    return len(ids)
