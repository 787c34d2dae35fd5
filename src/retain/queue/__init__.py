"""Durable background jobs: a queue in the store's own database, so pending memory work
survives crashes and restarts and takes effect once.

* :class:`JobQueue`: the protocol a back-end implements; :class:`SQLiteQueue` is the
  SQLite back-end (a PostgreSQL one can follow behind the same protocol).
* :class:`Job`, :class:`RetryPolicy`: the stored job and the backoff for failures.
* :class:`QueueWorker`: runs a reflector over the queue (one per process, or several).

Most code uses these through :class:`retain.ReflectionExecutor` with ``durable=True``.
"""

from retain.queue.base import Job, JobQueue, JobState, RetryPolicy
from retain.queue.sqlite import SQLiteQueue
from retain.queue.worker import QueueWorker, run_job

__all__ = ["Job", "JobQueue", "JobState", "QueueWorker", "RetryPolicy", "SQLiteQueue", "run_job"]
