"""``SQLiteQueue``: the durable job queue in a SQLite file, usually the store's own file.

* Jobs live in the ``retain_jobs`` table (migration 2 of :mod:`retain.stores.migrations`),
  next to the memories, so one file holds both and a backup of it is consistent.
* Claiming is a ``BEGIN IMMEDIATE`` transaction: SQLite lets one writer in at a time, so
  two workers (threads or processes) never lease the same job.
* Inside :meth:`SQLiteQueue.effects_of`, every write a ``SQLiteStore`` on the same file
  makes also stamps the job as applied, in the same transaction; a job whose effect is
  stamped is never run again, and a worker whose lease was taken over has its writes
  rolled back (:class:`~retain.errors.LeaseLostError`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from retain.errors import ConfigurationError, InvalidInputError, LeaseLostError, QueueError
from retain.queue.base import Job, JobState, RetryPolicy, failed_attempt
from retain.queue.codec import encode, portable_config
from retain.queue.rows import JOB_COLUMNS, JOB_STATES, check_state, job_from_row
from retain.stores.hooks import write_hook
from retain.stores.migrations import apply_sqlite_migrations

__all__ = ["SQLiteQueue"]


class SQLiteQueue:
    """A durable job queue in a SQLite file.

    Args:
        path: The database file; pass the store's file (or use :meth:`for_store`) so a
            job's memory writes and its acknowledgement commit together.
        name: Several queues can share one file; each sees only its own jobs.
        retry: Attempts and backoff for failing jobs.
        clock: Seconds now (default ``time.time``); tests pass a manual clock.

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
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = 30_000,
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
        self._clock = clock
        self._real = os.path.realpath(self.path)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                self.path,
                check_same_thread=False,
                isolation_level=None,
                timeout=busy_timeout_ms / 1000,
            )
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            apply_sqlite_migrations(self._conn)
        except sqlite3.Error as e:
            raise QueueError(f"Cannot open the job queue in {self.path}: {e}") from e

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
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise QueueError(f"The job queue in {self.path} is unavailable: {e}") from e
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as e:
                self._conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise QueueError(f"Job queue error in {self.path}: {e}") from e
                raise

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise QueueError(f"Job queue error in {self.path}: {e}") from e

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
        with self._write() as conn:
            if idempotency_key is not None:
                row = conn.execute(
                    f"SELECT {JOB_COLUMNS} FROM retain_jobs WHERE idempotency_key = ?",
                    (idempotency_key,),
                ).fetchone()
                if row is not None:
                    return job_from_row(row), []
            superseded: list[int] = []
            if key is not None:
                superseded = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM retain_jobs WHERE queue = ? AND key = ? AND "
                        "state = 'queued'",
                        (self.name, key),
                    )
                ]
                if superseded:
                    conn.execute(
                        "UPDATE retain_jobs SET state = 'superseded', updated_at = ? WHERE "
                        f"id IN ({','.join('?' * len(superseded))})",
                        (now, *superseded),
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
            row = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM retain_jobs WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
        return job_from_row(row), superseded

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
        with self._write() as conn:
            ids = [r[0] for r in conn.execute(sql, args)]
            if ids:
                conn.execute(
                    f"UPDATE retain_jobs SET run_at = ?, updated_at = ? WHERE run_at > ? AND "
                    f"id IN ({','.join('?' * len(ids))})",
                    (now, now, now, *ids),
                )
        return ids

    def cancel(self, job_ids: Sequence[int]) -> int:
        """Cancel queued jobs; returns how many were cancelled."""
        if not job_ids:
            return 0
        with self._write() as conn:
            count = conn.execute(
                "UPDATE retain_jobs SET state = 'cancelled', updated_at = ? WHERE "
                f"state = 'queued' AND id IN ({','.join('?' * len(job_ids))})",
                (self._clock(), *job_ids),
            ).rowcount
        return int(count)

    # -- consuming -------------------------------------------------------------------------

    def claim(self, worker: str, *, lease_seconds: float) -> Job | None:
        """Lease the next due job; ``None`` when nothing is due."""
        if lease_seconds <= 0:
            raise InvalidInputError(f"lease_seconds must be > 0; got {lease_seconds!r}.")
        now = self._clock()
        with self._write() as conn:
            while True:
                row = conn.execute(
                    "SELECT id, state, attempts, max_attempts, effect_at FROM retain_jobs "
                    "WHERE queue = ? AND ((state = 'queued' AND run_at <= ?) OR "
                    "(state = 'running' AND leased_until <= ?)) ORDER BY run_at, id LIMIT 1",
                    (self.name, now, now),
                ).fetchone()
                if row is None:
                    return None
                job_id, state, attempts, max_attempts, effect_at = row
                if state == "running" and effect_at is not None:
                    # The worker died after its writes committed: the job took effect.
                    conn.execute(
                        "UPDATE retain_jobs SET state = 'done', lease_token = NULL, "
                        "leased_until = NULL, updated_at = ? WHERE id = ?",
                        (now, job_id),
                    )
                    continue
                if state == "running" and attempts >= max_attempts:
                    conn.execute(
                        "UPDATE retain_jobs SET state = 'dead', lease_token = NULL, "
                        "leased_until = NULL, updated_at = ?, error = COALESCE(error || "
                        "char(10), '') || ? WHERE id = ?",
                        (now, f"worker lost on attempt {attempts} (lease expired)", job_id),
                    )
                    continue
                conn.execute(
                    "UPDATE retain_jobs SET state = 'running', lease_token = ?, "
                    "leased_until = ?, worker = ?, attempts = attempts + 1, updated_at = ? "
                    "WHERE id = ?",
                    (uuid.uuid4().hex, now + lease_seconds, worker, now, job_id),
                )
                found = conn.execute(
                    f"SELECT {JOB_COLUMNS} FROM retain_jobs WHERE id = ?", (job_id,)
                ).fetchone()
                return job_from_row(found)

    def extend(self, job: Job, *, lease_seconds: float) -> bool:
        """Extend a lease still held; ``False`` if it was lost."""
        with self._write() as conn:
            count = conn.execute(
                "UPDATE retain_jobs SET leased_until = ?, updated_at = ? WHERE id = ? AND "
                "lease_token = ? AND state = 'running'",
                (self._clock() + lease_seconds, self._clock(), job.id, job.lease_token),
            ).rowcount
        return bool(count)

    def complete(self, job: Job, result: Any = None) -> bool:
        """Acknowledge a leased job; ``False`` if its lease was lost meanwhile."""
        try:
            stored = None if result is None else encode(result, "result")
        except InvalidInputError:
            stored = None  # the caller's future still gets the value; the row keeps none
        with self._write() as conn:
            count = conn.execute(
                "UPDATE retain_jobs SET state = 'done', result = ?, lease_token = NULL, "
                "leased_until = NULL, updated_at = ? WHERE id = ? AND lease_token = ? AND "
                "state = 'running'",
                (stored, self._clock(), job.id, job.lease_token),
            ).rowcount
        return bool(count)

    def fail(self, job: Job, error: str) -> Job:
        """Record a failed attempt: requeue after the backoff, or mark the job dead."""
        now = self._clock()
        with self._write() as conn:
            row = conn.execute(
                "SELECT attempts, max_attempts, effect_at FROM retain_jobs WHERE id = ? AND "
                "lease_token = ? AND state = 'running'",
                (job.id, job.lease_token),
            ).fetchone()
            if row is None:
                raise LeaseLostError(
                    f"Job {job.id}'s lease was lost before its failure was recorded; another "
                    "worker runs it now."
                )
            attempts, max_attempts, effect_at = row
            state, run_at, message = failed_attempt(
                self.retry_policy,
                attempts=attempts,
                max_attempts=max_attempts,
                effects_committed=effect_at is not None,
                error=error,
                run_at=job.run_at,
                now=now,
            )
            conn.execute(
                "UPDATE retain_jobs SET state = ?, run_at = ?, lease_token = NULL, "
                "leased_until = NULL, updated_at = ?, error = COALESCE(error || char(10), '') "
                "|| ? WHERE id = ?",
                (state, run_at, now, message, job.id),
            )
            found = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM retain_jobs WHERE id = ?", (job.id,)
            ).fetchone()
        return job_from_row(found)

    @contextlib.contextmanager
    def effects_of(self, job: Job) -> Iterator[None]:
        """Inside this block, writes to a retain store on this file stamp ``job`` as applied
        in their own transaction, or roll back if ``job``'s lease was lost."""

        def stamp(store: Any, conn: sqlite3.Connection) -> None:
            path = getattr(store, "path", None)
            if not isinstance(path, str) or os.path.realpath(path) != self._real:
                return
            count = conn.execute(
                "UPDATE retain_jobs SET effect_at = ? WHERE id = ? AND lease_token = ? AND "
                "state = 'running'",
                (self._clock(), job.id, job.lease_token),
            ).rowcount
            if not count:
                raise LeaseLostError(
                    f"Job {job.id}'s lease ran out and another worker took it over; this "
                    "worker's writes were rolled back."
                )

        with write_hook(stamp):
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
        rows = self._read(f"SELECT {JOB_COLUMNS} FROM retain_jobs WHERE id = ?", (job_id,))
        return job_from_row(rows[0]) if rows else None

    def jobs(self, state: JobState | None = None, *, limit: int = 100) -> list[Job]:
        """Jobs in ``state`` (every state with ``None``), oldest first."""
        check_state(state)
        sql = f"SELECT {JOB_COLUMNS} FROM retain_jobs WHERE queue = ?"
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
        """Queue a dead job again, due now, with a fresh attempt budget."""
        now = self._clock()
        with self._write() as conn:
            count = conn.execute(
                "UPDATE retain_jobs SET state = 'queued', run_at = ?, attempts = 0, "
                "max_attempts = ?, updated_at = ? WHERE id = ? AND queue = ? AND state = 'dead' "
                "AND effect_at IS NULL",
                (now, self.retry_policy.max_attempts, now, job_id, self.name),
            ).rowcount
            if not count:
                raise InvalidInputError(
                    f"Job {job_id} is not a dead job of queue {self.name!r} that can run again "
                    "(dead jobs whose writes committed cannot); see queue.jobs('dead')."
                )
            row = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM retain_jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return job_from_row(row)

    def prune(self, *, older_than: float) -> int:
        """Delete finished jobs (done, superseded, cancelled) last changed more than
        ``older_than`` seconds ago; dead jobs stay. Returns how many."""
        with self._write() as conn:
            count = conn.execute(
                "DELETE FROM retain_jobs WHERE queue = ? AND state IN ('done', 'superseded', "
                "'cancelled') AND updated_at < ?",
                (self.name, self._clock() - older_than),
            ).rowcount
        return int(count)
