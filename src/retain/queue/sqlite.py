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
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from retain.clock import Clock, as_clock
from retain.errors import (
    ConfigurationError,
    InvalidInputError,
    LeaseLostError,
    QueueError,
    StoreError,
)
from retain.queue import machine
from retain.queue.base import Job, RetryPolicy
from retain.queue.codec import encode, portable_config
from retain.queue.effects import AttemptWrites, lease_lost
from retain.queue.machine import JOB_STATES, JobState, check_state
from retain.queue.rows import EFFECTS_TABLE_SQL, JOB_COLUMNS, SQLITE, job_from_row
from retain.stores.hooks import write_hook
from retain.stores.sqlite_conn import connect, store_errors, write_transaction

__all__ = ["SQLiteQueue"]

T = TypeVar("T")
_SELECT = f"SELECT {JOB_COLUMNS} FROM retain_jobs"
_DUE = (
    "queue = :q AND ((state = 'queued' AND run_at <= :now) OR "
    "(state = 'running' AND leased_until <= :now))"
)


class SQLiteQueue:
    """A durable job queue in a SQLite file.

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
                lambda: self._conn.execute(
                    EFFECTS_TABLE_SQL.format(id_type="INTEGER", time_type="REAL")
                )
            )

    @classmethod
    def for_store(cls, store: Any, **kwargs: Any) -> SQLiteQueue:
        """The queue in ``store``'s own database file (a :class:`~retain.stores.SQLiteStore`)."""
        path = getattr(store, "path", None)
        if not isinstance(path, str):
            raise ConfigurationError(
                f"{type(store).__name__} has no database file for a durable queue; use a "
                "retain SQLiteStore or pass SQLiteQueue(path) yourself."
            )
        return cls(path, **kwargs)

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

    def _transaction(self, body: Callable[[], T]) -> T:
        """``body`` in one ``BEGIN IMMEDIATE`` transaction (retried while another process
        holds the write lock), under this queue's lock."""
        with self._lock, self._errors():
            return write_transaction(
                self._conn,
                body,
                path=self.path,
                busy_timeout_ms=self._busy_timeout_ms,
                lock_retries=self._lock_retries,
            )

    def _read(self, sql: str, args: Mapping[str, Any] | Sequence[Any] = ()) -> list[Any]:
        with self._lock, self._errors():
            return self._conn.execute(sql, args).fetchall()

    def _job(self, job_id: int) -> Job:
        return job_from_row(self._conn.execute(f"{_SELECT} WHERE id = ?", (job_id,)).fetchone())

    def _move(
        self, op: machine.Operation, change: machine.Change, job_id: int, token: str | None = None
    ) -> int:
        """Write ``change`` to job ``job_id`` if it is still in a source state of ``op``
        (and, with ``token``, still leased with it); returns the rows changed (0 or 1)."""
        sql = SQLITE.transition(op, change, leased=token is not None)
        params = {"id": job_id, "token": token, **SQLITE.values(change)}
        return int(self._conn.execute(sql, params).rowcount)

    # -- producing -------------------------------------------------------------------------

    def enqueue(
        self,
        payload: Any,
        *,
        config: Mapping[str, Any] | None = None,
        key: str | None = None,
        delay: float = 0.0,
        idempotency_key: str | None = None,
    ) -> tuple[Job, list[int]]:
        """Store a job due in ``delay`` seconds; see :meth:`retain.queue.JobQueue.enqueue`."""
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
            raise InvalidInputError(f"delay must be a number of seconds >= 0; got {delay!r}.")
        body = encode(payload)
        conf = json.dumps(portable_config(config))
        now = self._clock()
        conn = self._conn

        def insert() -> tuple[Job, list[int]]:
            if idempotency_key is not None:
                row = conn.execute(
                    f"{_SELECT} WHERE idempotency_key = ?", (idempotency_key,)
                ).fetchone()
                if row is not None:
                    return job_from_row(row), []
            superseded: list[int] = []
            if key is not None:
                superseded = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM retain_jobs WHERE queue = ? AND key = ? AND "
                        "state = 'queued' ORDER BY id",
                        (self.name, key),
                    )
                ]
                change = machine.supersede(now=now)
                conn.execute(
                    SQLITE.transition("supersede", change, many=True),
                    {"ids": SQLITE.ids_value(superseded), **SQLITE.values(change)},
                )
            cursor = conn.execute(
                "INSERT INTO retain_jobs(queue, key, idempotency_key, payload, config, state, "
                "run_at, attempts, max_attempts, created_at, updated_at) VALUES "
                "(?, ?, ?, ?, ?, 'queued', ?, 0, ?, ?, ?)",
                (
                    self.name,
                    key,
                    idempotency_key,
                    body,
                    conf,
                    now + float(delay),
                    self.retry_policy.max_attempts,
                    now,
                    now,
                ),
            )
            assert cursor.lastrowid is not None
            return self._job(cursor.lastrowid), superseded

        return self._transaction(insert)

    def expedite(self, *, key: str | None = None, key_prefix: str | None = None) -> list[int]:
        """Make queued jobs due now (by ``key``, by ``key_prefix``, or all); returns ids."""
        sql = "SELECT id FROM retain_jobs WHERE queue = ? AND state = 'queued'"
        args: list[Any] = [self.name]
        if key is not None:
            sql += " AND key = ?"
            args.append(key)
        if key_prefix is not None:
            sql += " AND substr(key, 1, ?) = ?"
            args += [len(key_prefix), key_prefix]
        now = self._clock()

        def due_now() -> list[int]:
            ids = [r[0] for r in self._conn.execute(sql + " ORDER BY id", args)]
            self._conn.execute(
                "UPDATE retain_jobs SET run_at = ?, updated_at = ? WHERE run_at > ? AND "
                f"state = 'queued' AND {SQLITE.ids_format.format('?')}",
                (now, now, now, SQLITE.ids_value(ids)),
            )
            return ids

        return self._transaction(due_now)

    def cancel(self, job_ids: Sequence[int]) -> int:
        """Cancel queued jobs; returns how many were cancelled."""
        if not job_ids:
            return 0
        change = machine.cancel(now=self._clock())
        sql = SQLITE.transition("cancel", change, many=True)
        params = {"ids": SQLITE.ids_value(job_ids), **SQLITE.values(change)}
        return self._transaction(lambda: int(self._conn.execute(sql, params).rowcount))

    # -- consuming -------------------------------------------------------------------------

    def claim(self, worker: str, *, lease_seconds: float) -> Job | None:
        """Lease the next due job; ``None`` when nothing is due."""
        if lease_seconds <= 0:
            raise InvalidInputError(f"lease_seconds must be > 0; got {lease_seconds!r}.")
        now = self._clock()

        def lease() -> Job | None:
            while True:
                row = self._conn.execute(
                    f"{_SELECT} WHERE {_DUE} ORDER BY run_at, id LIMIT 1",
                    {"q": self.name, "now": now},
                ).fetchone()
                if row is None:
                    return None
                job = job_from_row(row)
                change = machine.claim(
                    job, worker=worker, token=uuid.uuid4().hex, now=now, lease_seconds=lease_seconds
                )
                self._move("claim", change, job.id)
                if change.state == "running":
                    return machine.apply(job, change)  # type: ignore[no-any-return]

        return self._transaction(lease)

    def extend(self, job: Job, *, lease_seconds: float) -> bool:
        """Extend a lease still held; ``False`` if it was lost."""
        change = machine.extend(now=self._clock(), lease_seconds=lease_seconds)
        return bool(
            self._transaction(lambda: self._move("extend", change, job.id, job.lease_token))
        )

    def complete(self, job: Job, result: Any = None) -> bool:
        """Acknowledge a leased job; ``False`` if its lease was lost meanwhile."""
        try:
            stored = None if result is None else encode(result, "result")
        except InvalidInputError:
            stored = None  # the caller's future still gets the value; the row keeps none
        change = machine.complete(stored, now=self._clock())
        return bool(
            self._transaction(lambda: self._move("complete", change, job.id, job.lease_token))
        )

    def fail(self, job: Job, error: str) -> Job:
        """Record a failed attempt: requeue after the backoff, or mark the job dead."""
        now = self._clock()

        def record() -> Job:
            row = self._conn.execute(
                f"{_SELECT} WHERE id = ? AND lease_token = ? AND state = 'running'",
                (job.id, job.lease_token),
            ).fetchone()
            if row is None:
                raise LeaseLostError(
                    f"Job {job.id}'s lease was lost before its failure was recorded; another "
                    "worker runs it now."
                )
            stored = job_from_row(row)
            change = machine.fail(stored, self.retry_policy, error, now=now)
            self._move("fail", change, job.id, job.lease_token)
            return machine.apply(stored, change)  # type: ignore[no-any-return]

        return self._transaction(record)

    @contextlib.contextmanager
    def effects_of(self, job: Job) -> Iterator[None]:
        """Inside this block, writes to a retain store on this file are journalled for
        ``job`` in their own transaction (or roll back if ``job``'s lease was lost), and
        writes an earlier attempt of ``job`` committed are replayed, not repeated."""

        def ours(store: Any) -> bool:
            path = getattr(store, "path", None)
            return isinstance(path, str) and os.path.realpath(path) == self._real

        committed = {
            r[0]
            for r in self._read("SELECT seq FROM retain_job_effects WHERE job_id = ?", (job.id,))
        }
        writes = AttemptWrites(job, committed, ours)

        def stamp(store: Any, conn: sqlite3.Connection) -> None:
            ordinal = writes.ordinal(store)
            if ordinal is None:
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
                "INSERT INTO retain_job_effects(job_id, seq, at) VALUES (?, ?, ?)",
                (job.id, ordinal, now),
            )

        with write_hook(stamp), writes.replaying():
            yield

    # -- inspecting ------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When the next job becomes claimable; ``None`` when nothing is pending."""
        row = self._read(
            "SELECT MIN(t) FROM (SELECT MIN(run_at) AS t FROM retain_jobs WHERE queue = ? AND "
            "state = 'queued' UNION ALL SELECT MIN(leased_until) FROM retain_jobs WHERE "
            "queue = ? AND state = 'running')",
            (self.name, self.name),
        )
        return None if row[0][0] is None else float(row[0][0])

    def get(self, job_id: int) -> Job | None:
        """One job by id."""
        rows = self._read(f"{_SELECT} WHERE id = ?", (job_id,))
        return job_from_row(rows[0]) if rows else None

    def jobs(self, state: JobState | None = None, *, limit: int = 100) -> list[Job]:
        """Jobs in ``state`` (every state with ``None``), oldest first."""
        check_state(state)
        sql = f"{_SELECT} WHERE queue = ?"
        args: list[Any] = [self.name]
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        rows = self._read(sql + " ORDER BY id LIMIT ?", (*args, limit))
        return [job_from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state (every state present, zeros included)."""
        rows = self._read(
            "SELECT state, COUNT(*) FROM retain_jobs WHERE queue = ? GROUP BY state",
            (self.name,),
        )
        counts: dict[str, int] = dict.fromkeys(JOB_STATES, 0)
        counts.update({r[0]: r[1] for r in rows})
        return counts

    def retry(self, job_id: int) -> Job:
        """Queue a dead job again, due now, with a fresh attempt budget. Writes its earlier
        attempts committed are replayed, not repeated."""
        change = machine.retry(self.retry_policy, now=self._clock())

        def requeue() -> Job | None:
            row = self._conn.execute(
                f"{_SELECT} WHERE id = ? AND queue = ?", (job_id, self.name)
            ).fetchone()
            if row is None or not self._move("retry", change, job_id):
                return None
            return machine.apply(job_from_row(row), change)  # type: ignore[no-any-return]

        job = self._transaction(requeue)
        if job is None:
            raise InvalidInputError(
                f"Job {job_id} is not a dead job of queue {self.name!r}; see queue.jobs('dead')."
            )
        return job

    def prune(self, *, older_than: float) -> int:
        """Delete finished jobs (done, superseded, cancelled) last changed more than
        ``older_than`` seconds ago; dead jobs stay. Returns how many."""
        states = ", ".join(f"'{s}'" for s in machine.FINISHED_STATES)
        cutoff = self._clock() - older_than
        return self._transaction(
            lambda: int(
                self._conn.execute(
                    f"DELETE FROM retain_jobs WHERE queue = ? AND state IN ({states}) AND "
                    "updated_at < ?",
                    (self.name, cutoff),
                ).rowcount
            )
        )
