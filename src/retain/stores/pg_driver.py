"""The only code of :class:`retain.stores.PostgresStore` that talks to psycopg.

Every store operation is written once, as a generator of steps (:class:`Sql`,
:class:`Copy`) that receives each step's rows and returns the operation's result.
:class:`PgConnections` runs such a generator in one transaction, on a pooled connection:
:meth:`~PgConnections.drive` on the sync ``ConnectionPool``, :meth:`~PgConnections.adrive`
on an ``AsyncConnectionPool`` of the running event loop. Deadlocks are retried (bounded)
and psycopg's errors become retain's.

Example: a step generator and the sync driver (needs a server, hence not run here):

.. code-block:: python

    def count_items() -> Steps[int]:
        rows = yield Sql("SELECT count(*) FROM retain_items")
        return int(rows[0][0])

    PgConnections("postgresql://localhost/app").drive(count_items())
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from pgvector.psycopg import register_vector, register_vector_async
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed, PoolTimeout

from retain.errors import StoreError, StoreUnavailableError

__all__ = ["RETRIES", "Copy", "PgConnections", "Sql", "Steps", "redact"]

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


class PgConnections:
    """A sync pool, async pools (one per event loop, opened on first use), and the two
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
        self._apools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}
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

    async def _apool(self) -> AsyncConnectionPool:
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._apools.get(loop)
            fresh = pool is None
            if pool is None:
                for old in [lp for lp in self._apools if lp.is_closed()]:
                    self._drop(self._apools.pop(old))
                pool = AsyncConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs=self.kwargs,
                    configure=register_vector_async,
                    open=False,
                    timeout=self.timeout,
                )
                self._apools[loop] = pool
        if fresh:
            await pool.open()
        return pool

    async def adrive(self, steps: Steps[T], *, factory: Callable[[], Steps[T]] | None = None) -> T:
        """Async :meth:`drive`, on the running event loop's pool."""
        for attempt in range(RETRIES):
            try:
                pool = await self._apool()
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

    @staticmethod
    def _drop(pool: AsyncConnectionPool) -> None:
        """Close the idle connections of an async pool whose event loop has ended (it can
        no longer be closed with ``await``)."""
        for conn in list(getattr(pool, "_pool", ())):
            conn.pgconn.finish()

    def close(self) -> None:
        self._pool.close()
        with self._lock:
            pools, self._apools = list(self._apools.values()), {}
        for pool in pools:
            self._drop(pool)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._apools.pop(loop, None)
        if pool is not None:
            await pool.close()
        self.close()
