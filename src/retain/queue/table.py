"""The queue operations on the ``retain_jobs`` table, written once for both back-ends.

:class:`JobTable` runs every move of :mod:`retain.queue.machine` (claim, complete, fail,
extend, cancel, retry) and every read (get, jobs, counts, next due) as SQL with named
parameters, on a DB-API connection a subclass provides, and ``enqueue``'s checks and values.
:class:`~retain.queue.SQLiteQueue` and :class:`~retain.queue.PostgresQueue` add only what
differs: opening the database, their transactions, how a new job supersedes the queued ones
(``_insert``: one statement on PostgreSQL), and how a job's writes ride in a store's
transaction (:meth:`effects_of`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from typing_extensions import Self

from retain.errors import ConfigurationError, InvalidInputError, LeaseLostError
from retain.queue import machine
from retain.queue.base import Job, RetryPolicy
from retain.queue.codec import encode, encode_job
from retain.queue.machine import JOB_STATES, JobState, check_state
from retain.queue.rows import JOB_COLUMNS, Dialect, job_from_row

__all__ = ["JobTable"]

T = TypeVar("T")
SELECT = f"SELECT {JOB_COLUMNS} FROM retain_jobs"
"""Every column of a job, in :func:`~retain.queue.rows.job_from_row`'s order."""
INSERT = (
    "INSERT INTO retain_jobs (queue, key, idempotency_key, payload, config, state, run_at, "
    "attempts, max_attempts, created_at, updated_at) VALUES (%(q)s, %(key)s, %(ik)s, "
    "%(body)s, %(conf)s, 'queued', %(run_at)s, 0, %(max)s, %(now)s, %(now)s)"
)
"""A new queued job, from the parameters :meth:`JobTable.enqueue` binds."""


class JobTable:
    """The operations of a durable queue over ``retain_jobs`` (see the module docstring).

    Subclasses set :attr:`name`, :attr:`retry_policy`, :attr:`dialect` and ``_clock``, say
    where a store keeps its database (``_store_attr``, ``_store_kind``), and implement
    :meth:`_transaction`, :meth:`_insert` and :meth:`effects_of`."""

    name: str
    retry_policy: RetryPolicy
    dialect: Dialect
    _clock: Callable[[], float]
    _store_attr: ClassVar[str]
    """The store attribute naming its database, and this queue's first argument."""
    _store_kind: ClassVar[tuple[str, str]]
    """What that database is, and the retain store that has one (for the error)."""

    @classmethod
    def for_store(cls, store: Any, **kwargs: Any) -> Self:
        """The queue in ``store``'s own database (a retain store of this queue's kind)."""
        where = getattr(store, cls._store_attr, None)
        if not isinstance(where, str):
            database, store_class = cls._store_kind
            raise ConfigurationError(
                f"{type(store).__name__} has no {database} for a durable queue; use a retain "
                f"{store_class} or pass {cls.__name__}({cls._store_attr}) yourself."
            )
        make: Callable[..., Self] = cls
        return make(where, **kwargs)

    def _transaction(self, body: Callable[[Any], T]) -> T:
        """``body(connection)`` in one write transaction: all of it or none of it."""
        raise NotImplementedError

    def effects_of(self, job: Job) -> contextlib.AbstractContextManager[None]:
        """Inside this block, store writes on this queue's database are journalled for
        ``job`` (see :mod:`retain.queue.effects`)."""
        raise NotImplementedError

    # -- SQL -------------------------------------------------------------------------------

    def _run(self, conn: Any, sql: str, params: Mapping[str, Any]) -> Any:
        """Run ``sql`` written with ``%(name)s`` parameters, in this queue's dialect."""
        return conn.execute(self.dialect.sql(sql), params)

    def _read(self, sql: str, params: Mapping[str, Any]) -> list[Any]:
        return self._transaction(lambda conn: self._run(conn, sql, params).fetchall())

    def _by_idempotency_key(self, conn: Any, idempotency_key: str | None) -> Job | None:
        row = self._run(
            conn, f"{SELECT} WHERE idempotency_key = %(ik)s", {"ik": idempotency_key}
        ).fetchone()
        return None if row is None else job_from_row(row)

    def _move(
        self,
        conn: Any,
        op: machine.Operation,
        change: machine.Change,
        job_id: int,
        token: str | None = None,
    ) -> int:
        """Write ``change`` to job ``job_id`` if it is still in a source state of ``op``
        (and, with ``token``, still leased with it); returns the rows changed (0 or 1)."""
        sql = self.dialect.transition(op, change, leased=token is not None)
        params = {"id": job_id, "token": token, **self.dialect.values(change)}
        return int(conn.execute(sql, params).rowcount)

    def _committed(self, job: Job) -> list[tuple[int, str]]:
        """The journal of the writes earlier attempts of ``job`` committed, ``(seq,
        target)`` rows (none, without a read, when no write of the job was ever stamped)."""
        if job.extra.get("effect_at") is None:
            return []
        rows = self._read(
            "SELECT seq, target FROM retain_job_effects WHERE job_id = %(id)s ORDER BY seq",
            {"id": job.id},
        )
        return [(int(r[0]), str(r[1])) for r in rows]

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
        body, conf = encode_job(payload, config, delay)
        now = self._clock()
        params = {
            "q": self.name,
            "key": key,
            "ik": idempotency_key,
            "body": body,
            "conf": conf,
            "run_at": now + float(delay),
            "max": self.retry_policy.max_attempts,
            "now": now,
        }
        return self._insert(params, machine.supersede(now=now))

    def _insert(self, params: dict[str, Any], superseded: machine.Change) -> tuple[Job, list[int]]:
        """Insert the job :data:`INSERT` binds with ``params`` in one transaction, unless
        one with its idempotency key exists (then that job, ``[]``); with a key, write
        ``superseded`` to the queued jobs with that key (returning the new job and their
        ids)."""
        raise NotImplementedError

    def expedite(self, *, key: str | None = None, key_prefix: str | None = None) -> list[int]:
        """Make queued jobs due now (by ``key``, by ``key_prefix``, or all); returns ids."""
        sql = "SELECT id FROM retain_jobs WHERE queue = %(q)s AND state = 'queued'"
        params: dict[str, Any] = {"q": self.name, "now": self._clock()}
        if key is not None:
            sql += " AND key = %(key)s"
            params["key"] = key
        if key_prefix is not None:
            sql += " AND substr(key, 1, %(n)s) = %(prefix)s"
            params |= {"n": len(key_prefix), "prefix": key_prefix}

        def due_now(conn: Any) -> list[int]:
            ids = [r[0] for r in self._run(conn, sql + " ORDER BY id", params).fetchall()]
            if ids:
                self._run(
                    conn,
                    "UPDATE retain_jobs SET run_at = %(now)s, updated_at = %(now)s WHERE "
                    f"run_at > %(now)s AND state = 'queued' AND {self.dialect.ids('ids')}",
                    params | {"ids": self.dialect.ids_value(ids)},
                )
            return ids

        return self._transaction(due_now)

    def cancel(self, job_ids: Sequence[int]) -> int:
        """Cancel queued jobs; returns how many were cancelled."""
        if not job_ids:
            return 0
        change = machine.cancel(now=self._clock())
        sql = self.dialect.transition("cancel", change, many=True)
        params = {"ids": self.dialect.ids_value(job_ids), **self.dialect.values(change)}
        return self._transaction(lambda conn: int(conn.execute(sql, params).rowcount))

    # -- consuming -------------------------------------------------------------------------

    def claim(self, worker: str, *, lease_seconds: float) -> Job | None:
        """Lease the next due job (on PostgreSQL ``FOR UPDATE SKIP LOCKED``: never a job
        another worker is claiming); ``None`` when nothing is due."""
        if lease_seconds <= 0:
            raise InvalidInputError(f"lease_seconds must be > 0; got {lease_seconds!r}.")
        now = self._clock()
        sql = (
            f"{SELECT} WHERE queue = %(q)s AND ((state = 'queued' AND run_at <= %(now)s) OR "
            "(state = 'running' AND leased_until <= %(now)s)) ORDER BY run_at, id LIMIT 1"
            + self.dialect.skip_locked
        )

        def lease(conn: Any) -> Job | None:
            while True:
                row = self._run(conn, sql, {"q": self.name, "now": now}).fetchone()
                if row is None:
                    return None
                job = job_from_row(row)
                change = machine.claim(
                    job, worker=worker, token=uuid.uuid4().hex, now=now, lease_seconds=lease_seconds
                )
                self._move(conn, "claim", change, job.id)
                if change.state == "running":
                    return machine.apply(job, change)  # type: ignore[no-any-return]

        return self._transaction(lease)

    def extend(self, job: Job, *, lease_seconds: float) -> bool:
        """Extend a lease still held; ``False`` if it was lost."""
        change = machine.extend(now=self._clock(), lease_seconds=lease_seconds)
        return bool(
            self._transaction(
                lambda conn: self._move(conn, "extend", change, job.id, job.lease_token)
            )
        )

    def complete(self, job: Job, result: Any = None) -> bool:
        """Acknowledge a leased job; ``False`` if its lease was lost meanwhile."""
        try:
            stored = None if result is None else encode(result, "result")
        except InvalidInputError:
            stored = None  # the caller's future still gets the value; the row keeps none
        change = machine.complete(stored, now=self._clock())
        return bool(
            self._transaction(
                lambda conn: self._move(conn, "complete", change, job.id, job.lease_token)
            )
        )

    def fail(self, job: Job, error: str) -> Job:
        """Record a failed attempt: requeue after the backoff, or mark the job dead."""
        now = self._clock()
        sql = (
            f"{SELECT} WHERE id = %(id)s AND lease_token = %(token)s AND state = 'running'"
            + self.dialect.for_update
        )

        def record(conn: Any) -> Job:
            row = self._run(conn, sql, {"id": job.id, "token": job.lease_token}).fetchone()
            if row is None:
                raise LeaseLostError(
                    f"Job {job.id}'s lease was lost before its failure was recorded; another "
                    "worker runs it now."
                )
            stored = job_from_row(row)
            change = machine.fail(stored, self.retry_policy, error, now=now)
            self._move(conn, "fail", change, job.id, job.lease_token)
            return machine.apply(stored, change)  # type: ignore[no-any-return]

        return self._transaction(record)

    # -- inspecting ------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When the next job becomes claimable; ``None`` when nothing is pending."""
        rows = self._read(
            "SELECT MIN(t) FROM (SELECT MIN(run_at) AS t FROM retain_jobs WHERE queue = %(q)s "
            "AND state = 'queued' UNION ALL SELECT MIN(leased_until) FROM retain_jobs WHERE "
            "queue = %(q)s AND state = 'running') AS due",
            {"q": self.name},
        )
        return None if rows[0][0] is None else float(rows[0][0])

    def get(self, job_id: int) -> Job | None:
        """One job by id."""
        rows = self._read(f"{SELECT} WHERE id = %(id)s", {"id": job_id})
        return job_from_row(rows[0]) if rows else None

    def jobs(self, state: JobState | None = None, *, limit: int = 100) -> list[Job]:
        """Jobs in ``state`` (every state with ``None``), oldest first."""
        check_state(state)
        sql = f"{SELECT} WHERE queue = %(q)s"
        if state is not None:
            sql += " AND state = %(state)s"
        rows = self._read(
            sql + " ORDER BY id LIMIT %(limit)s", {"q": self.name, "state": state, "limit": limit}
        )
        return [job_from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state (every state present, zeros included)."""
        rows = self._read(
            "SELECT state, COUNT(*) FROM retain_jobs WHERE queue = %(q)s GROUP BY state",
            {"q": self.name},
        )
        counts: dict[str, int] = dict.fromkeys(JOB_STATES, 0)
        counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    def retry(self, job_id: int) -> Job:
        """Queue a dead job again, due now, with a fresh attempt budget. Writes its earlier
        attempts committed are replayed, not repeated."""
        change = machine.retry(self.retry_policy, now=self._clock())
        sql = f"{SELECT} WHERE id = %(id)s AND queue = %(q)s" + self.dialect.for_update

        def requeue(conn: Any) -> Job | None:
            row = self._run(conn, sql, {"id": job_id, "q": self.name}).fetchone()
            if row is None or not self._move(conn, "retry", change, job_id):
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
        states = ", ".join(f"'{s}'" for s in machine.FINISHED_STATES)  # constants
        sql = (
            f"DELETE FROM retain_jobs WHERE queue = %(q)s AND state IN ({states}) AND "
            "updated_at < %(cutoff)s"
        )
        params = {"q": self.name, "cutoff": self._clock() - older_than}
        return self._transaction(lambda conn: int(self._run(conn, sql, params).rowcount))
