"""Opening a SQLite file safely for several processes, write transactions that retry while
another connection holds the lock, and SQLite errors turned into retain's typed ones."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from retain.errors import ConfigurationError, StoreCorruptedError, StoreError, StoreLockedError
from retain.stores.migrations import (
    SQLITE_MIGRATIONS,
    ForeignDatabaseError,
    apply_sqlite_migrations,
    foreign_schema,
)

__all__ = ["connect", "is_busy", "store_errors", "translate", "write_transaction"]

T = TypeVar("T")

_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary result codes)
_CORRUPT = ("not a database", "malformed", "corrupt", "disk image")


def is_busy(error: BaseException) -> bool:
    """Whether a SQLite error means another connection holds the lock (SQLITE_BUSY)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _BUSY_CODES:
        return True
    text = str(error).lower()
    return "database is locked" in text or "database table is locked" in text


def translate(error: sqlite3.Error, path: str, *, waited_s: float | None = None) -> StoreError:
    """The retain error for a SQLite error on the file at ``path``."""
    if is_busy(error):
        waited = f" for {waited_s:.1f} s" if waited_s is not None else ""
        return StoreLockedError(
            f"The SQLite file {path} stayed locked by another connection{waited} ({error}). "
            "Retry later, open the store with a larger busy_timeout_ms, or find the process "
            "holding a long write transaction on it (e.g. an open sqlite3 shell)."
        )
    text = str(error).lower()
    if isinstance(error, sqlite3.DatabaseError) and any(word in text for word in _CORRUPT):
        return StoreCorruptedError(
            f"The file {path} is not a readable SQLite database ({error}). Restore it from a "
            "backup, or move it away to let retain create a new store at that path; retain "
            "did not write to it."
        )
    return StoreError(f"SQLite error on {path}: {error}")


@contextlib.contextmanager
def store_errors(path: str) -> Iterator[None]:
    """Turn ``sqlite3`` errors raised in the block into retain's typed errors."""
    try:
        yield
    except sqlite3.Error as e:
        raise translate(e, path) from e


def _check_path(path: str) -> None:
    """:class:`ConfigurationError` for a path that cannot be a store's file (empty: SQLite
    would make a throwaway temporary database; a directory), after creating its folder."""
    if path == ":memory:":
        return
    if not path.strip():
        raise ConfigurationError(
            "The SQLite store needs a file path (or ':memory:'); got an empty path, which "
            "SQLite would turn into a temporary database deleted on close."
        )
    target = Path(path)
    if target.is_dir():
        raise ConfigurationError(
            f"The SQLite store path {path} is a directory; name a file in it, e.g. "
            f"{target / 'memories.db'}."
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigurationError(
            f"Cannot create the folder of the SQLite store {path}: {e}. Choose a path in a "
            "writable folder."
        ) from e


def _foreign(path: str, names: list[str]) -> ConfigurationError:
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return ConfigurationError(
        f"The file {path} is a SQLite database of another application (it has {shown} and no "
        "retain_migrations table); retain did not write to it. Give retain its own file, "
        "e.g. .retain/memories.db."
    )


def connect(path: str, *, busy_timeout_ms: int, lock_retries: int) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, busy
    timeout, foreign keys on, migrations applied. Raises retain's typed errors.

    A file that already holds another application's tables (no ``retain_migrations``) is
    refused with :class:`ConfigurationError` before anything is written to it: retain's
    tables are not added and the journal mode is not changed."""
    _check_path(path)
    try:
        conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_ms / 1000
        )
    except sqlite3.Error as e:
        raise translate(e, path) from e
    try:
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        foreign = foreign_schema(conn)  # read only: before the journal mode is set
        if foreign:
            raise _foreign(path, foreign)
        if path != ":memory:":
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if _pending_migrations(conn):
            _retrying(lambda: apply_sqlite_migrations(conn), path, busy_timeout_ms, lock_retries)
    except ForeignDatabaseError as e:  # another application created tables meanwhile
        conn.close()
        raise _foreign(path, e.names) from None
    except sqlite3.Error as e:
        conn.close()
        raise translate(e, path) from e
    except (StoreError, ConfigurationError):
        conn.close()
        raise
    return conn


def _pending_migrations(conn: sqlite3.Connection) -> bool:
    """Whether migrations are due, found by reading only (so opening a store does not wait
    for another process's write transaction)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retain_migrations'"
    ).fetchone()
    if exists is None:
        return True
    done = {r[0] for r in conn.execute("SELECT version FROM retain_migrations")}
    return any(m.version not in done for m in SQLITE_MIGRATIONS)


def _backoff(attempt: int) -> float:
    return float(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))


def _retrying(func: Callable[[], T], path: str, busy_timeout_ms: int, retries: int) -> T:
    started = time.monotonic()
    for attempt in range(retries + 1):
        try:
            return func()
        except sqlite3.Error as e:
            if not is_busy(e):
                raise
            if attempt == retries:
                raise translate(e, path, waited_s=time.monotonic() - started) from e
            time.sleep(_backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def write_transaction(
    conn: sqlite3.Connection,
    body: Callable[[], T],
    *,
    path: str,
    busy_timeout_ms: int,
    lock_retries: int,
) -> T:
    """Run ``body`` in a ``BEGIN IMMEDIATE`` transaction: all of it or none of it.

    While another connection holds the write lock, SQLite waits up to the busy timeout;
    if it is still held, the whole transaction is retried ``lock_retries`` times with
    exponential backoff, then :class:`StoreLockedError` is raised. Nothing is written
    when any error escapes ``body``.
    """

    def attempt() -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    try:
        return _retrying(attempt, path, busy_timeout_ms, lock_retries)
    except sqlite3.Error as e:
        raise translate(e, path) from e
