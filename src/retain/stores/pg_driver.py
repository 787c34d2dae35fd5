"""The only code of :class:`retain.stores.PostgresStore` that talks to psycopg.

Every store operation is written once, as a generator of steps (:class:`Sql`,
:class:`Copy`) that receives each step's rows and returns the operation's result.
:class:`PgConnections` runs such a generator in one transaction, on a pooled connection:
:meth:`~PgConnections.drive` on the sync ``ConnectionPool``, :meth:`~PgConnections.adrive`
on the running event loop's connections (:class:`LoopConnections`). Deadlocks are retried
(bounded) and psycopg's errors become retain's.

Example: a step generator and the sync driver (needs a server, hence not run here):

.. code-block:: python

    def count_items() -> Steps[int]:
        rows = yield Sql("SELECT count(*) FROM retain_items")
        return int(rows[0][0])

    PgConnections("postgresql://localhost/app").drive(count_items())
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from pgvector.psycopg import register_vector, register_vector_async
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from retain.errors import StoreError, StoreUnavailableError

__all__ = ["RETRIES", "Copy", "LoopConnections", "PgConnections", "Sql", "Steps", "redact"]

RETRIES = 5  # attempts for a transaction that hit a deadlock or serialization failure
T = TypeVar("T")


@dataclass(frozen=True)
class Sql:
    """A step: run ``query`` with ``params``; the generator receives the rows."""

    query: str
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class Copy:
    """A step: binary ``COPY statement FROM STDIN`` of ``rows`` with column ``types``."""

    statement: str
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]


Steps = Generator["Sql | Copy", list[tuple[Any, ...]], T]
"""An operation: yields steps, receives their rows, returns its result."""

_CONFLICTS = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


def unavailable(url: str, e: BaseException) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"Cannot connect to PostgreSQL at {redact(url)}: "
        f"{str(e).strip() or type(e).__name__}. Check that the server is running and that "
        "the URL's host, port, user, password and database are right "
        "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)."
    )


class LoopConnections:
    """At most ``size`` async connections of one event loop, reused, with no background task.

    psycopg_pool's ``AsyncConnectionPool`` runs worker tasks on the loop; a loop ended by
    ``asyncio.run`` while such a pool is open must cancel them, and one lost cancellation
    hung a test run forever. Here a connection is opened on demand inside the caller's task
    and kept idle for reuse; nothing runs between calls.
    """

    def __init__(self, url: str, kwargs: dict[str, Any], *, size: int, timeout: float) -> None:
        self.url, self.kwargs, self.timeout = url, kwargs, timeout
        self.closed = False
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for one transaction; returned for reuse when it is left idle."""
        if self.closed:
            raise PoolClosed("the connections are closed")
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout)
        except asyncio.TimeoutError:
            raise PoolTimeout(f"no connection became free within {self.timeout:.0f} s") from None
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            while self._idle and conn is None:
                candidate = self._idle.pop()
                if not (candidate.closed or candidate.broken):
                    conn = candidate
            if conn is None:
                conn = await psycopg.AsyncConnection.connect(self.url, **self.kwargs)
                await register_vector_async(conn)
            yield conn
        finally:
            if conn is not None:
                reusable = not (self.closed or conn.closed or conn.broken) and (
                    conn.info.transaction_status == TransactionStatus.IDLE
                )
                if reusable:
                    self._idle.append(conn)
                else:
                    await conn.close()
            self._slots.release()

    def drop(self) -> None:
        """Close the idle connections without awaiting (their loop may have ended)."""
        self.closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.pgconn.finish()

    async def aclose(self) -> None:
        """Close the idle connections on their own loop."""
        self.closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


class PgConnections:
    """A sync pool, async connections (one :class:`LoopConnections` per event loop), and the two
    drivers. Call :meth:`open` before :meth:`drive`."""

    def __init__(self, url: str, *, pool_size: int, connect_timeout: float) -> None:
        self.url = url
        self.pool_size = pool_size
        self.timeout = connect_timeout * 3
        self.kwargs: dict[str, Any] = {
            "autocommit": True,  # transactions are explicit: one per operation
            "connect_timeout": max(1, int(connect_timeout)),
        }
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=self.kwargs,
            configure=register_vector,
            open=False,
            timeout=self.timeout,
        )
        self._apools: dict[asyncio.AbstractEventLoop, LoopConnections] = {}
        self._lock = threading.Lock()

    def open(self) -> None:
        """Open the sync pool (once the schema exists: connections load pgvector's types)."""
        self._pool.open()

    def connect(self) -> psycopg.Connection[Any]:
        """A plain connection outside the pools (for migrations)."""
        try:
            return psycopg.connect(self.url, **self.kwargs)
        except psycopg.OperationalError as e:
            raise unavailable(self.url, e) from e

    # -- sync --------------------------------------------------------------------------------

    def drive(self, steps: Steps[T], *, factory: Callable[[], Steps[T]] | None = None) -> T:
        """Run ``steps`` in one transaction; after a deadlock, run ``factory()`` again."""
        for attempt in range(RETRIES):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    return self._run(conn, steps)
            except _CONFLICTS as e:
                if factory is None or attempt == RETRIES - 1:
                    raise StoreError(f"PostgreSQL transaction kept conflicting: {e}") from e
                steps = factory()
            except Exception as e:
                translated = self._translate(e)
                if translated is e:
                    raise
                raise translated from e
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _run(conn: psycopg.Connection[Any], steps: Steps[T]) -> T:
        rows: list[tuple[Any, ...]] = []
        try:
            step = next(steps)
            while True:
                with conn.cursor() as cur:
                    if isinstance(step, Copy):
                        with cur.copy(step.statement) as copy:
                            copy.set_types(list(step.types))
                            for row in step.rows:
                                copy.write_row(row)
                        rows = []
                    else:
                        cur.execute(step.query, step.params)
                        rows = cur.fetchall() if cur.description else []
                step = steps.send(rows)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    # -- async -------------------------------------------------------------------------------

    def _apool(self) -> LoopConnections:
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._apools.get(loop)
            if pool is None:
                for old in [lp for lp in self._apools if lp.is_closed()]:
                    self._apools.pop(old).drop()
                pool = LoopConnections(
                    self.url, self.kwargs, size=self.pool_size, timeout=self.timeout
                )
                self._apools[loop] = pool
        return pool

    async def adrive(self, steps: Steps[T], *, factory: Callable[[], Steps[T]] | None = None) -> T:
        """Async :meth:`drive`, on the running event loop's pool."""
        for attempt in range(RETRIES):
            try:
                pool = self._apool()
                async with pool.connection() as conn, conn.transaction():
                    return await self._arun(conn, steps)
            except _CONFLICTS as e:
                if factory is None or attempt == RETRIES - 1:
                    raise StoreError(f"PostgreSQL transaction kept conflicting: {e}") from e
                steps = factory()
            except Exception as e:
                translated = self._translate(e)
                if translated is e:
                    raise
                raise translated from e
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _arun(conn: psycopg.AsyncConnection[Any], steps: Steps[T]) -> T:
        rows: list[tuple[Any, ...]] = []
        try:
            step = next(steps)
            while True:
                async with conn.cursor() as cur:
                    if isinstance(step, Copy):
                        async with cur.copy(step.statement) as copy:
                            copy.set_types(list(step.types))
                            for row in step.rows:
                                await copy.write_row(row)
                        rows = []
                    else:
                        await cur.execute(step.query, step.params)
                        rows = await cur.fetchall() if cur.description else []
                step = steps.send(rows)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    # -- errors and closing ------------------------------------------------------------------

    def _translate(self, e: Exception) -> Exception:
        if isinstance(e, PoolClosed):
            return StoreError("This PostgresStore is closed; open a new one.")
        if isinstance(e, (psycopg.OperationalError, PoolTimeout)):
            return unavailable(self.url, e)
        if isinstance(e, psycopg.Error):
            return StoreError(f"PostgreSQL error: {e}")
        return e

    def close(self) -> None:
        self._pool.close()
        with self._lock:
            pools, self._apools = list(self._apools.values()), {}
        for pool in pools:
            pool.drop()

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._apools.pop(loop, None)
        if pool is not None:
            await pool.aclose()
        self.close()
