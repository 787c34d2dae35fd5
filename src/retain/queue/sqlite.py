"""``SQLiteQueue``: the durable job queue in a SQLite file, usually the store's own file.

* Jobs live in the ``retain_jobs`` table (migration 2 of :mod:`retain.stores.migrations`),
  next to the memories, so one file holds both and a backup of it is consistent. The
  connection and its write transactions are the store's own (:mod:`retain.stores.sqlite_conn`:
  WAL, busy timeout, retries while another process holds the lock).
* Claiming is a ``BEGIN IMMEDIATE`` transaction: SQLite lets one writer in at a time, so
  two workers (threads or processes) never lease the same job.
* Every move of a job is decided by :mod:`retain.queue.machine`; this module runs the SQL.
* Inside :meth:`SQLiteQueue.effects_of`, every write a ``SQLiteStore`` on the same file
  makes is journalled for the job in its own transaction, so a job that runs again replays
  its committed writes instead of repeating them (:mod:`retain.queue.effects`), and a
  worker whose lease was taken over has its writes rolled back
  (:class:`~retain.errors.LeaseLostError`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from retain.clock import Clock, as_clock
from retain.errors import (
    ConfigurationError,
    QueueError,
    StoreError,
)
from retain.queue import machine
from retain.queue.base import Job, RetryPolicy
from retain.queue.effects import AttemptWrites, lease_lost
from retain.queue.rows import EFFECTS_TABLE_SQL, SQLITE, job_from_row
from retain.queue.table import INSERT, SELECT, JobTable
from retain.stores.hooks import write_hook
from retain.stores.sqlite_conn import connect, store_errors, write_transaction

__all__ = ["SQLiteQueue"]

T = TypeVar("T")


class SQLiteQueue(JobTable):
    """A durable job queue in a SQLite file (its operations are
    :class:`~retain.queue.table.JobTable`'s).

    Args:
        path: The database file; pass the store's file (or use :meth:`for_store`) so a
            job's memory writes and its progress commit together.
        name: Several queues can share one file; each sees only its own jobs.
        retry: Attempts and backoff for failing jobs.
        clock: The time (a :class:`~retain.clock.Clock` or a ``() -> seconds`` function;
            default the system clock); tests pass a :class:`~retain.clock.ManualClock`.
        busy_timeout_ms: How long SQLite waits for another connection's write lock.
        lock_retries: How many times a write transaction is retried after that wait.

    Example:
        >>> import tempfile, os
        >>> from retain.queue import SQLiteQueue
        >>> queue = SQLiteQueue(os.path.join(tempfile.mkdtemp(), "memories.db"))
        >>> job, superseded = queue.enqueue({"messages": [["user", "hi"]]}, key="thread-1")
        >>> leased = queue.claim("worker-1", lease_seconds=60)
        >>> leased.id == job.id, leased.state, leased.attempts
        (True, 'running', 1)
        >>> queue.complete(leased, result="ok"), queue.counts()["done"]
        (True, 1)
    """

    _store_attr = "path"
    _store_kind = ("database file", "SQLiteStore")

    def __init__(
        self,
        path: str | Path,
        *,
        name: str = "default",
        retry: RetryPolicy | None = None,
        clock: Clock | Callable[[], float] | None = None,
        busy_timeout_ms: int = 30_000,
        lock_retries: int = 3,
    ) -> None:
        self.path = str(path)
        if self.path == ":memory:" or self.path.startswith("file::memory:"):
            raise ConfigurationError(
                "A durable queue needs a database file; ':memory:' would lose every job "
                "when the process ends. Pass a path such as '.retain/memories.db'."
            )
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.dialect = SQLITE
        self.retry_policy = retry or RetryPolicy()
        self._clock = as_clock(clock).now
        self._real = os.path.realpath(self.path)
        self._lock = threading.RLock()
        self._busy_timeout_ms = busy_timeout_ms
        self._lock_retries = lock_retries
        with self._errors("Cannot open the job queue in"):
            self._conn = connect(
                self.path, busy_timeout_ms=busy_timeout_ms, lock_retries=lock_retries
            )
            self._transaction(
                lambda conn: conn.execute(
                    EFFECTS_TABLE_SQL.format(id_type="INTEGER", time_type="REAL")
                )
            )

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteQueue({self.path!r}, name={self.name!r})"

    # -- transactions --------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, doing: str = "Job queue error in") -> Iterator[None]:
        """SQLite and store errors as :class:`QueueError` (lease errors pass through)."""
        try:
            with store_errors(self.path):
                yield
        except QueueError:
            raise
        except StoreError as e:
            raise QueueError(f"{doing} {self.path}: {e}") from e

    def _transaction(self, body: Callable[[Any], T]) -> T:
        """``body(connection)`` in one ``BEGIN IMMEDIATE`` transaction (retried while another
        process holds the write lock), under this queue's lock."""
        with self._lock, self._errors():
            return write_transaction(
                self._conn,
                lambda: body(self._conn),
                path=self.path,
                busy_timeout_ms=self._busy_timeout_ms,
                lock_retries=self._lock_retries,
            )

    def _read(self, sql: str, params: Mapping[str, Any]) -> list[Any]:
        """Reads need no write lock: one statement, outside a write transaction."""
        with self._lock, self._errors():
            return self._conn.execute(self.dialect.sql(sql), params).fetchall()

    def _job(self, job_id: int) -> Job:
        return job_from_row(self._conn.execute(f"{SELECT} WHERE id = ?", (job_id,)).fetchone())

    # -- producing -------------------------------------------------------------------------

    def _insert(self, params: dict[str, Any], superseded: machine.Change) -> tuple[Job, list[int]]:
        def insert(conn: sqlite3.Connection) -> tuple[Job, list[int]]:
            if params["ik"] is not None:
                found = self._by_idempotency_key(conn, params["ik"])
                if found is not None:
                    return found, []
            ids: list[int] = []
            if params["key"] is not None:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM retain_jobs WHERE queue = ? AND key = ? AND "
                        "state = 'queued' ORDER BY id",
                        (self.name, params["key"]),
                    )
                ]
                conn.execute(
                    SQLITE.transition("supersede", superseded, many=True),
                    {"ids": SQLITE.ids_value(ids), **SQLITE.values(superseded)},
                )
            cursor = self._run(conn, INSERT, params)
            assert cursor.lastrowid is not None
            return self._job(cursor.lastrowid), ids

        return self._transaction(insert)

    @contextlib.contextmanager
    def effects_of(self, job: Job) -> Iterator[None]:
        """Inside this block, writes to a retain store on this file are journalled for
        ``job`` in their own transaction (or roll back if ``job``'s lease was lost), and
        writes an earlier attempt of ``job`` committed are replayed, not repeated."""

        def ours(store: Any) -> bool:
            path = getattr(store, "path", None)
            return isinstance(path, str) and os.path.realpath(path) == self._real

        writes = AttemptWrites(job, self._committed(job), ours)

        def stamp(store: Any, conn: sqlite3.Connection) -> None:
            row = writes.record(store)
            if row is None:
                return
            now = self._clock()
            count = conn.execute(
                "UPDATE retain_jobs SET effect_at = ? WHERE id = ? AND lease_token = ? AND "
                "state = 'running'",
                (now, job.id, job.lease_token),
            ).rowcount
            if not count:
                raise lease_lost(job)
            conn.execute(
                "INSERT INTO retain_job_effects(job_id, seq, target, at) VALUES (?, ?, ?, ?)",
                (job.id, *row, now),
            )

        with write_hook(stamp), writes.replaying():
            yield
