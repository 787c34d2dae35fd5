"""The only code of :class:`retain.stores.PostgresStore` that talks to psycopg.

Every store operation is written once, as a generator of steps (:class:`Sql`,
:class:`Copy`) that receives each step's rows and returns the operation's result.
:class:`PgConnections` runs such a generator in one transaction, on a pooled connection:
:meth:`~PgConnections.drive` on the sync ``ConnectionPool``, :meth:`~PgConnections.adrive`
on the running event loop's connections (:class:`LoopConnections`). Deadlocks are retried
(bounded) and psycopg's errors become retain's (:func:`classify`): a lost connection is
:class:`StoreUnavailableError`, a lock or statement timeout :class:`StoreLockedError` or
:class:`StoreTimeoutError`, anything else the server refused :class:`StoreServerError`
with its message. Connections are checked before each use, so those a server restart or
``pg_terminate_backend`` broke are replaced instead of failing calls. Every session gets
the store's ``lock_timeout`` and ``statement_timeout``. Passwords never appear in messages
or ``repr`` (:func:`redact`).

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
import math
import re
import threading
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from pgvector.psycopg import register_vector, register_vector_async
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from retain.errors import (
    ConfigurationError,
    StoreError,
    StoreLockedError,
    StoreServerError,
    StoreTimeoutError,
    StoreUnavailableError,
)

__all__ = [
    "RETRIES",
    "Copy",
    "LoopConnections",
    "PgConnections",
    "Sql",
    "Steps",
    "check_conninfo",
    "classify",
    "redact",
]

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


_URL_PASSWORD = re.compile(r"(://[^:/@?#]*):[^@]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(
    r"(?<![?&\w])(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']\S*)", re.IGNORECASE
)


def _password(conninfo: str) -> str | None:
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except (psycopg.Error, TypeError, ValueError):
        return None
    return str(password) if password else None


def redact(conninfo: str, text: str | None = None) -> str:
    """``text`` (default: ``conninfo`` itself) with the password of ``conninfo`` replaced by
    ``***``, in every form libpq accepts: ``postgresql://user:PASSWORD@host``,
    ``?password=PASSWORD`` and ``password=PASSWORD`` (or ``password='...'``).

    Example:
        >>> redact("postgresql://app:s3cret@db/app")
        'postgresql://app:***@db/app'
        >>> redact("host=db password='s3 cret' dbname=app")
        'host=db password=*** dbname=app'
        >>> redact("postgresql://db/app?password=s3cret", "auth failed for s3cret")
        'auth failed for ***'
    """
    out = conninfo if text is None else text
    out = _URL_PASSWORD.sub(r"\1:***@", out)
    out = _QUERY_PASSWORD.sub(r"\1***", out)
    out = _KEYWORD_PASSWORD.sub(r"\1***", out)
    password = _password(conninfo)
    return out.replace(password, "***") if password else out


def check_conninfo(conninfo: object) -> str:
    """``conninfo`` if libpq can parse it (a ``postgresql://`` URL or ``key=value``
    pairs), else :class:`ConfigurationError` (which does not repeat the string: it may hold
    a password)."""
    if not isinstance(conninfo, str) or not conninfo.strip():
        raise ConfigurationError(
            f"A PostgreSQL connection string is needed, such as "
            f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE; got {type(conninfo).__name__} "
            f"{'of length ' + str(len(conninfo)) if isinstance(conninfo, str) else ''}."
        )
    try:
        conninfo_to_dict(conninfo)
    except psycopg.Error:
        raise ConfigurationError(
            "The PostgreSQL connection string is neither a postgresql:// URL nor libpq "
            "key=value pairs; write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
            "(the string is not repeated here: it may hold a password)."
        ) from None
    return conninfo


def unavailable(url: str, e: BaseException) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"Cannot connect to PostgreSQL at {redact(url)}: "
        f"{redact(url, str(e).strip()) or type(e).__name__}. Check that the server is running "
        "and that the URL's host, port, user, password and database are right "
        "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)."
    )


# SQLSTATE classes and codes that mean the connection itself failed or was refused
_CONNECTION_STATES = ("08", "28", "3D000", "53300", "57P01", "57P02", "57P03")


def classify(url: str, e: psycopg.Error) -> StoreError:
    """The retain error for a psycopg error on the server at ``url``.

    No SQLSTATE (the client lost or never had a connection) or a connection-class one:
    :class:`StoreUnavailableError`. ``lock_timeout`` ran out: :class:`StoreLockedError`;
    ``statement_timeout``: :class:`StoreTimeoutError`. Anything else the server refused
    (a limit exceeded, stack depth, ...): :class:`StoreServerError` with its message.
    """
    state = e.sqlstate
    text = redact(url, str(e).strip()) or type(e).__name__
    lost = isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError))
    if (state is None and lost) or (state is not None and state.startswith(_CONNECTION_STATES)):
        return unavailable(url, e)
    if state == "55P03":  # lock_not_available
        return StoreLockedError(
            f"PostgreSQL at {redact(url)}: another client held a lock past lock_timeout "
            f"({text}). Retry later, open the store with a larger lock_timeout, or find the "
            "client holding a long transaction. Nothing was written."
        )
    if state == "57014":  # query_canceled: statement_timeout
        return StoreTimeoutError(
            f"PostgreSQL at {redact(url)} cancelled a statement that ran past "
            f"statement_timeout ({text}). Open the store with a larger statement_timeout "
            "(or None) if such operations are expected. Nothing was written."
        )
    return StoreServerError(
        f"PostgreSQL at {redact(url)} refused the operation: {text} (SQLSTATE {state}). "
        "Nothing of it was written.",
        sqlstate=state,
        server_message=text,
    )


def _timeout_ms(name: str, seconds: float | None) -> int:
    """A timeout in seconds as PostgreSQL's milliseconds (0: none), or
    :class:`ConfigurationError`."""
    if seconds is None:
        return 0
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if not ok or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(
            f"{name} must be a number of seconds > 0, or None; got {seconds!r}."
        )
    return max(1, round(seconds * 1000))


class LoopConnections:
    """At most ``size`` async connections of one event loop, reused, with no background task.

    psycopg_pool's ``AsyncConnectionPool`` runs worker tasks on the loop; a loop ended by
    ``asyncio.run`` while such a pool is open must cancel them, and one lost cancellation
    hung a test run forever. Here a connection is opened on demand inside the caller's task
    and kept idle for reuse; nothing runs between calls.
    """

    def __init__(
        self,
        url: str,
        kwargs: dict[str, Any],
        *,
        size: int,
        timeout: float,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.url, self.kwargs, self.timeout = url, kwargs, timeout
        self.settings = settings or {}
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
            raise StoreTimeoutError(
                f"No connection to PostgreSQL at {redact(self.url)} became free within "
                f"{self.timeout:.0f} s: all of this event loop's connections were busy. Open "
                "the store with a larger pool_size, or make fewer concurrent calls."
            ) from None
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            while self._idle and conn is None:
                candidate = self._idle.pop()
                if await _alive(candidate):
                    conn = candidate
                else:  # broken by a server restart or pg_terminate_backend: replace it
                    await candidate.close()
            if conn is None:
                conn = await psycopg.AsyncConnection.connect(self.url, **self.kwargs)
                await register_vector_async(conn)
                for name, value in self.settings.items():
                    await conn.execute("SELECT set_config(%s, %s, false)", (name, value))
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


async def _alive(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection still answers (an empty query: one round trip)."""
    if conn.closed or conn.broken:
        return False
    try:
        await conn.execute("")
    except psycopg.Error:
        return False
    return True


class PgConnections:
    """A sync pool, async connections (one :class:`LoopConnections` per event loop), and the two
    drivers. Call :meth:`open` before :meth:`drive`.

    ``lock_timeout`` and ``statement_timeout`` (seconds, ``None`` for the server's
    default) are set on every pooled session; the plain connections of :meth:`connect`
    (migrations, which may wait for another process's migration or build an index) get
    neither."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int,
        connect_timeout: float,
        lock_timeout: float | None = 30.0,
        statement_timeout: float | None = 300.0,
    ) -> None:
        self.url = check_conninfo(url)
        self.pool_size = pool_size
        self.timeout = connect_timeout * 3
        self.kwargs: dict[str, Any] = {
            "autocommit": True,  # transactions are explicit: one per operation
            "connect_timeout": max(1, int(connect_timeout)),
        }
        self.settings = {
            "lock_timeout": str(_timeout_ms("lock_timeout", lock_timeout)),
            "statement_timeout": str(_timeout_ms("statement_timeout", statement_timeout)),
        }
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=self.kwargs,
            configure=self._configure,
            check=ConnectionPool.check_connection,  # drop connections a restart broke
            open=False,
            timeout=self.timeout,
        )
        self._apools: dict[asyncio.AbstractEventLoop, LoopConnections] = {}
        self._lock = threading.Lock()

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        register_vector(conn)
        for name, value in self.settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))

    def open(self) -> None:
        """Open the sync pool (once the schema exists: connections load pgvector's types)."""
        self._pool.open()

    def connect(self) -> psycopg.Connection[Any]:
        """A plain connection outside the pools (for migrations)."""
        try:
            return psycopg.connect(self.url, **self.kwargs)
        except psycopg.Error as e:
            raise classify(self.url, e) from e

    # -- sync --------------------------------------------------------------------------------

    def drive(self, steps: Steps[T], *, factory: Callable[[], Steps[T]] | None = None) -> T:
        """Run ``steps`` in one transaction; after a deadlock, run ``factory()`` again."""
        for attempt in range(RETRIES):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    return self._run(conn, steps)
            except Exception as e:
                steps = self._again(e, attempt, factory)
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
                    self.url,
                    self.kwargs,
                    size=self.pool_size,
                    timeout=self.timeout,
                    settings=self.settings,
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
            except Exception as e:
                steps = self._again(e, attempt, factory)
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

    def _again(
        self, e: Exception, attempt: int, factory: Callable[[], Steps[T]] | None
    ) -> Steps[T]:
        """After ``e`` ended transaction attempt ``attempt`` (0-based): the steps to run
        again (a deadlock or serialization conflict, with a ``factory`` and attempts left),
        else ``e`` raised as the store's error."""
        if isinstance(e, _CONFLICTS):
            if factory is None or attempt == RETRIES - 1:
                raise StoreError(f"PostgreSQL transaction kept conflicting: {e}") from e
            return factory()
        translated = self._translate(e)
        if translated is e:
            raise e
        raise translated from e

    def _translate(self, e: Exception) -> Exception:
        if isinstance(e, PoolClosed):
            return StoreError("This PostgresStore is closed; open a new one.")
        if isinstance(e, PoolTimeout):
            stats = self._pool.get_stats()
            if stats.get("pool_size", 0) < self.pool_size or stats.get("connections_errors"):
                return unavailable(self.url, e)  # the pool could not open connections
            return StoreTimeoutError(
                f"No connection to PostgreSQL at {redact(self.url)} became free within "
                f"{self.timeout:.0f} s: all {self.pool_size} were busy. Open the store with a "
                "larger pool_size, or make fewer concurrent calls."
            )
        if isinstance(e, psycopg.Error):
            return classify(self.url, e)
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
