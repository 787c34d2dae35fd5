"""Durable background jobs: a queue in the store's own database, so pending memory work
survives crashes and restarts and takes effect once.

* :class:`JobQueue`: the protocol a back-end implements; :class:`SQLiteQueue` is the
  SQLite back-end, :class:`PostgresQueue` the PostgreSQL one (``FOR UPDATE SKIP LOCKED``,
  several worker processes; ``pip install 'retain[postgres]'``, imported on first use).
* :func:`open_queue`: the queue in a store's own database (what ``durable=True`` uses).
* :class:`Job`, :class:`RetryPolicy`: the stored job and the backoff for failures.
* :class:`QueueWorker`: runs a reflector over the queue (one per process, or several).
* :mod:`retain.queue.machine`: the job states and every move between them, as pure
  functions both back-ends run; :mod:`retain.queue.effects`: how a job's writes commit
  with a record of them, so a job that runs again replays them instead of repeating them.

Most code uses these through :class:`retain.ReflectionExecutor` with ``durable=True``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retain.errors import ConfigurationError
from retain.queue.base import Job, JobQueue, JobState, RetryPolicy
from retain.queue.sqlite import SQLiteQueue
from retain.queue.worker import QueueWorker, run_job

if TYPE_CHECKING:
    from retain.queue.postgres import PostgresQueue

__all__ = [
    "Job",
    "JobQueue",
    "JobState",
    "PostgresQueue",
    "QueueWorker",
    "RetryPolicy",
    "SQLiteQueue",
    "open_queue",
    "run_job",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresQueue":  # psycopg is an optional extra: import it on first use
        from retain.queue.postgres import PostgresQueue

        return PostgresQueue
    raise AttributeError(f"module 'retain.queue' has no attribute {name!r}")


def open_queue(store: Any, **kwargs: Any) -> SQLiteQueue | PostgresQueue:
    """The durable queue in ``store``'s own database: a :class:`SQLiteQueue` in a
    :class:`~retain.stores.SQLiteStore`'s file, a :class:`PostgresQueue` in a
    :class:`~retain.stores.PostgresStore`'s database. Keyword arguments (``name``,
    ``retry``, ``clock``, ...) go to the queue.

    Example:
        >>> import tempfile, os
        >>> from retain.queue import open_queue
        >>> from retain.stores import SQLiteStore
        >>> open_queue(SQLiteStore(os.path.join(tempfile.mkdtemp(), "m.db"))).name
        'default'

    Raises:
        ConfigurationError: the store keeps no database a queue can share.
    """
    if isinstance(getattr(store, "conn_string", None), str):
        from retain.queue.postgres import PostgresQueue

        return PostgresQueue.for_store(store, **kwargs)
    if isinstance(getattr(store, "path", None), str):
        return SQLiteQueue.for_store(store, **kwargs)
    raise ConfigurationError(
        f"{type(store).__name__} keeps no database a durable queue can share; use a retain "
        "SQLiteStore or PostgresStore, or pass queue= (a SQLiteQueue or PostgresQueue)."
    )
