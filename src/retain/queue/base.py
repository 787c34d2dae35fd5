"""What every durable job queue shares: the job record, the retry policy, and the
:class:`JobQueue` protocol that a back-end (SQLite, PostgreSQL) implements. The states a
job moves through, and every move, are in :mod:`retain.queue.machine`.

A worker holds a *lease* on a running job (``leased_until``); when the lease runs out
(the worker crashed or stalled), another worker claims the job again. Writes a job makes
to a retain store in the queue's own database commit together with a record of the job's
progress (see :mod:`retain.stores.hooks`): a job that runs again after a crash or a
failure replays the writes its earlier attempts committed instead of making them twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from retain.errors import ConfigurationError
from retain.queue.machine import JobState

__all__ = ["Job", "JobQueue", "JobState", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failing job is retried.

    Attempt ``n`` (1-based) that fails is retried after
    ``min(max_delay, base_delay * factor ** (n - 1))`` seconds; after ``max_attempts``
    attempts the job is *dead*: kept with its error, visible in ``queue.jobs("dead")``.

    Example:
        >>> from retain.queue import RetryPolicy
        >>> policy = RetryPolicy(max_attempts=4, base_delay=1.0, factor=2.0, max_delay=3.0)
        >>> [policy.delay(n) for n in (1, 2, 3)]
        [1.0, 2.0, 3.0]
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be >= 1; got {self.max_attempts}.")
        if self.base_delay < 0 or self.factor < 1 or self.max_delay < 0:
            raise ConfigurationError(
                "base_delay and max_delay must be >= 0 and factor >= 1; got "
                f"{self.base_delay}, {self.max_delay}, {self.factor}."
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_delay, self.base_delay * self.factor ** (attempt - 1)))


@dataclass(frozen=True)
class Job:
    """One unit of background work, as stored in the queue."""

    id: int
    queue: str
    key: str | None
    payload: Any
    config: dict[str, Any]
    state: JobState
    run_at: float
    attempts: int
    max_attempts: int
    idempotency_key: str | None = None
    lease_token: str | None = None
    leased_until: float | None = None
    worker: str | None = None
    error: str | None = None
    result: Any = None
    created_at: float = 0.0
    updated_at: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class JobQueue(Protocol):
    """A durable job queue. Times are seconds on the queue's clock (wall time by default).

    Back-ends: :class:`retain.queue.SQLiteQueue`, and :class:`retain.queue.PostgresQueue`
    (``SELECT ... FOR UPDATE SKIP LOCKED`` in :meth:`claim`).
    """

    name: str

    def enqueue(
        self,
        payload: Any,
        *,
        config: Mapping[str, Any] | None = None,
        key: str | None = None,
        delay: float = 0.0,
        idempotency_key: str | None = None,
    ) -> tuple[Job, list[int]]:
        """Store a job due in ``delay`` seconds. A queued job with the same ``key`` is
        superseded (its ids are returned); a job with the same ``idempotency_key`` is
        returned instead of a new one."""
        ...

    def claim(self, worker: str, *, lease_seconds: float) -> Job | None:
        """Lease the next due job (or one whose lease ran out); ``None`` if none is due."""
        ...

    def complete(self, job: Job, result: Any = None) -> bool:
        """Acknowledge a leased job; ``False`` if the lease was lost meanwhile."""
        ...

    def fail(self, job: Job, error: str) -> Job:
        """Record a failed attempt: requeue with backoff, or mark the job dead."""
        ...

    def extend(self, job: Job, *, lease_seconds: float) -> bool:
        """Extend a lease still held; ``False`` if it was lost."""
        ...

    def expedite(self, *, key: str | None = None, key_prefix: str | None = None) -> list[int]:
        """Make queued jobs due now: those with ``key``, or whose key starts with
        ``key_prefix`` (all queued jobs when both are ``None``). Returns their ids."""
        ...

    def next_due(self) -> float | None:
        """When the next job becomes claimable (``None``: nothing pending)."""
        ...

    def get(self, job_id: int) -> Job | None:
        """One job by id."""
        ...

    def jobs(self, state: JobState | None = None, *, limit: int = 100) -> list[Job]:
        """Jobs in ``state`` (all states with ``None``), oldest first."""
        ...

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        ...

    def retry(self, job_id: int) -> Job:
        """Queue a dead job again with a fresh attempt budget."""
        ...

    def cancel(self, job_ids: Sequence[int]) -> int:
        """Cancel queued jobs; returns how many were cancelled."""
        ...
