"""``PostgresQueue``: the durable job queue in PostgreSQL, usually the store's own database.

* Jobs live in the ``retain_jobs`` table (migration 2 of :mod:`retain.stores.pg_schema`),
  next to the memories, so one database holds both.
* Claiming is ``SELECT ... FOR UPDATE SKIP LOCKED``: several worker processes share the
  queue, none waits on a job another is claiming, and no job is leased twice.
* Every move of a job is decided by :mod:`retain.queue.machine`; this module runs the SQL.
* Inside :meth:`PostgresQueue.effects_of`, every write a ``PostgresStore`` on the same
  database makes is journalled for the job *in the store's own transaction* (more SQL
  steps on the connection the write already holds; see
  :func:`retain.stores.hooks.pg_write_hook`), so a job that runs again replays its
  committed writes instead of repeating them (:mod:`retain.queue.effects`), and a worker
  whose lease was taken over has its writes rolled back
  (:class:`~retain.errors.LeaseLostError`).
* Every queue call takes one pooled connection for one short transaction and gives it
  back; no call waits on a second connection while holding one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from retain.clock import Clock, as_clock
from retain.errors import (
    ConfigurationError,
    MissingDependencyError,
    QueueError,
)
from retain.queue import machine
from retain.queue.base import Job, RetryPolicy
from retain.queue.effects import AttemptWrites, lease_lost
from retain.queue.rows import EFFECTS_TABLE_SQL, JOB_COLUMNS, POSTGRES, job_from_row
from retain.queue.table import INSERT, JobTable
from retain.stores.hooks import pg_write_hook
from retain.stores.pg_schema import apply_pg_migrations

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

    from retain.stores.pg_driver import Sql, redact
except ImportError as e:  # pragma: no cover - exercised in a test with the package hidden
    raise MissingDependencyError("PostgresQueue", e.name or "psycopg", "postgres") from e

__all__ = ["PostgresQueue"]

T = TypeVar("T")

_EFFECTS_TABLE = EFFECTS_TABLE_SQL.format(id_type="bigint", time_type="float8")


def _same_database(a: str, b: str) -> bool:
    def norm(url: str) -> dict[str, str]:
        try:
            info = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            return {"url": url}
        info.pop("password", None)
        return {k: str(v) for k, v in info.items() if k in ("host", "port", "dbname", "user")}

    return a == b or norm(a) == norm(b)


class PostgresQueue(JobTable):
    """A durable job queue in PostgreSQL (``pip install 'retain[postgres]'``); its
    operations are :class:`~retain.queue.table.JobTable`'s.

    Args:
        conn_string: A libpq URL; pass the store's (or use :meth:`for_store`) so a job's
            memory writes and its acknowledgement commit together.
        name: Several queues can share one database; each sees only its own jobs.
        retry: Attempts and backoff for failing jobs.
        clock: The time (a :class:`~retain.clock.Clock` or a ``() -> seconds`` function;
            default the system clock); tests pass a :class:`~retain.clock.ManualClock`.
            Processes sharing a queue should share a clock (wall time).
        pool_size: Most connections this queue opens (each call holds one briefly).

    Raises:
        QueueError: the server cannot be reached or the schema cannot be set up.

    Example (needs a running server, hence not run here):

    .. code-block:: python

        queue = PostgresQueue("postgresql://postgres@localhost/app")
        job, superseded = queue.enqueue({"messages": [["user", "hi"]]}, key="thread-1")
        leased = queue.claim("worker-1", lease_seconds=60)
        queue.complete(leased, result="ok")
    """

    _store_attr = "conn_string"
    _store_kind = ("PostgreSQL database", "PostgresStore")

    def __init__(
        self,
        conn_string: str,
        *,
        name: str = "default",
        retry: RetryPolicy | None = None,
        clock: Clock | Callable[[], float] | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> None:
        if pool_size < 1:
            raise ConfigurationError(f"pool_size must be >= 1; got {pool_size}.")
        self.conn_string = conn_string
        self.name = name
        self.dialect = POSTGRES
        self.retry_policy = retry or RetryPolicy()
        self._clock = as_clock(clock).now
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, int(connect_timeout)),
        }
        try:
            with psycopg.connect(conn_string, **kwargs) as conn:
                apply_pg_migrations(conn, extra=[_EFFECTS_TABLE])
        except psycopg.Error as e:
            raise QueueError(
                f"Cannot open the job queue in {redact(conn_string)}: {str(e).strip()}. Check "
                "that the server is running and the URL is right "
                "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)."
            ) from e
        self._pool = ConnectionPool(
            conn_string,
            min_size=1,
            max_size=pool_size,
            kwargs=kwargs,
            open=False,
            timeout=connect_timeout * 3,
        )
        self._pool.open()

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresQueue({redact(self.conn_string)!r}, name={self.name!r})"

    # -- transactions --------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """One pooled connection, one transaction: committed on exit, rolled back on error."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except PoolClosed as e:
            raise QueueError("This PostgresQueue is closed; open a new one.") from e
        except PoolTimeout as e:
            raise QueueError(
                f"The job queue in {redact(self.conn_string)} is unavailable: {e}. Check the "
                "server, or raise pool_size if many threads share this queue."
            ) from e
        except psycopg.Error as e:
            raise QueueError(f"Job queue error in {redact(self.conn_string)}: {e}") from e

    def _transaction(self, body: Callable[[Any], T]) -> T:
        with self._tx() as conn:
            return body(conn)

    # -- producing -------------------------------------------------------------------------

    def _insert(self, params: dict[str, Any], superseded: machine.Change) -> tuple[Job, list[int]]:
        supersede = POSTGRES.transition(
            "supersede", superseded, rows="queue = %(q)s AND key = %(key)s"
        )
        with self._tx() as conn:
            if params["key"] is not None:  # one enqueue per key at a time: exact supersession
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (f"retain_jobs:{self.name}:{params['key']}",),
                )
            row = conn.execute(  # one statement: insert, then supersede older ones
                f"WITH new AS ({INSERT} ON CONFLICT (idempotency_key) DO NOTHING "
                f"RETURNING {JOB_COLUMNS}), old AS ({supersede} AND EXISTS (SELECT 1 FROM new) "
                "RETURNING id) "
                f"SELECT {JOB_COLUMNS}, (SELECT array_agg(id ORDER BY id) FROM old) FROM new",
                {**params, **POSTGRES.values(superseded)},
            ).fetchone()
            if row is None:  # a job with this idempotency key exists: it is the answer
                return self._by_idempotency_key(conn, params["ik"]), []  # type: ignore[return-value]
            return job_from_row(row[:-1]), list(row[-1] or [])

    @contextlib.contextmanager
    def effects_of(self, job: Job) -> Iterator[None]:
        """Inside this block, writes to a ``PostgresStore`` on this database are journalled
        for ``job`` in their own transaction (or roll back if ``job``'s lease was lost), and
        writes an earlier attempt of ``job`` committed are replayed, not repeated."""

        def ours(store: Any) -> bool:
            url = getattr(store, "conn_string", None)
            return isinstance(url, str) and _same_database(url, self.conn_string)

        writes = AttemptWrites(job, self._committed(job), ours)

        def stamp(store: Any) -> Generator[Sql, list[tuple[Any, ...]], None]:
            row = writes.record(store)
            if row is None:
                return
            rows = yield Sql(
                "WITH stamped AS (UPDATE retain_jobs SET effect_at = %(now)s WHERE id = %(id)s "
                "AND lease_token = %(token)s AND state = 'running' RETURNING id) "
                "INSERT INTO retain_job_effects (job_id, seq, target, at) SELECT id, %(seq)s, "
                "%(target)s, %(now)s FROM stamped RETURNING job_id",
                {
                    "now": self._clock(),
                    "id": job.id,
                    "token": job.lease_token,
                    "seq": row[0],
                    "target": row[1],
                },
            )
            if not rows:
                raise lease_lost(job)

        with pg_write_hook(stamp), writes.replaying():
            yield
