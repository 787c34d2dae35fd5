"""The job state machine, written once and free of I/O.

A job's life::

    queued ──claim──> running ──complete──> done
      ^  │  │            │ └──fail, attempts left──> queued (run_at = now + backoff)
      │  │  │            ├────fail, no attempts left──> dead (kept, with every error)
      │  │  │            └──lease ran out──> running again (another worker), or dead
      │  │  │                                 when that was its last attempt
      │  │  └──newer job with the same key──> superseded
      │  └──cancel──> cancelled
      └──retry (a dead job)

Each operation is a pure function from the job as stored to a :class:`Change` (the columns
the move writes). :class:`~retain.queue.SQLiteQueue` and :class:`~retain.queue.PostgresQueue`
only run SQL: they read a job's row, ask this module what it becomes, and write the change
guarded by :data:`SOURCES` (the states the move starts from) and, for a worker's moves, its
lease token, so a stale worker's move changes nothing.

Example:
    >>> from retain.queue.base import Job, RetryPolicy
    >>> from retain.queue import machine
    >>> job = Job(id=1, queue="q", key=None, payload={}, config={}, state="queued",
    ...           run_at=0.0, attempts=0, max_attempts=2)
    >>> job = machine.apply(job, machine.claim(job, worker="w", token="t", now=5.0,
    ...                                        lease_seconds=30.0))
    >>> job.state, job.attempts, job.leased_until
    ('running', 1, 35.0)
    >>> job = machine.apply(job, machine.fail(job, RetryPolicy(max_attempts=2), "boom",
    ...                                       now=6.0))
    >>> job.state, job.run_at, job.error
    ('queued', 7.0, 'attempt 1: boom')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from retain.errors import InvalidInputError

__all__ = [
    "FINISHED_STATES",
    "JOB_STATES",
    "PENDING_STATES",
    "SOURCES",
    "Change",
    "JobState",
    "Operation",
    "append_error",
    "apply",
    "cancel",
    "check_state",
    "claim",
    "complete",
    "extend",
    "fail",
    "is_due",
    "retry",
    "supersede",
]

JobState = Literal["queued", "running", "done", "dead", "superseded", "cancelled"]
JOB_STATES: tuple[JobState, ...] = get_args(JobState)
PENDING_STATES: tuple[JobState, ...] = ("queued", "running")
FINISHED_STATES: tuple[JobState, ...] = ("done", "superseded", "cancelled")
"""States a job ends in that ``prune`` may delete (dead jobs are kept for inspection)."""

Operation = Literal["claim", "complete", "fail", "extend", "cancel", "supersede", "retry"]

SOURCES: Mapping[Operation, tuple[JobState, ...]] = {
    "claim": ("queued", "running"),  # running: only once its lease ran out (see is_due)
    "complete": ("running",),
    "fail": ("running",),
    "extend": ("running",),
    "cancel": ("queued",),
    "supersede": ("queued",),
    "retry": ("dead",),
}
"""The states each operation moves a job from; a job in any other state is left alone."""

_LEASE_CLEARED = {"lease_token": None, "leased_until": None}


@dataclass(frozen=True)
class Change:
    """What one move writes to a job's row: ``values`` by column name (``state`` always)."""

    values: Mapping[str, Any]

    @property
    def state(self) -> JobState:
        """The state the job is in after the move."""
        state: JobState = self.values["state"]
        return state


def check_state(state: JobState | None) -> None:
    """Raise :class:`~retain.errors.InvalidInputError` unless ``state`` is a job state or
    ``None``."""
    if state is not None and state not in JOB_STATES:
        raise InvalidInputError(f"state must be one of {JOB_STATES}; got {state!r}.")


def append_error(previous: str | None, line: str) -> str:
    """The error text after one more failed attempt's ``line``.

    Example:
        >>> append_error(None, "attempt 1: boom"), append_error("a", "b")
        ('attempt 1: boom', 'a\\nb')
    """
    return line if not previous else f"{previous}\n{line}"


def is_due(job: Any, now: float) -> bool:
    """Whether a worker may claim ``job`` now: queued and due, or running on a lease that
    ran out (its worker died or stalled). The queues' claim queries say the same in SQL."""
    if job.state == "queued":
        return bool(job.run_at <= now)
    return job.state == "running" and job.leased_until is not None and job.leased_until <= now


def claim(job: Any, *, worker: str, token: str, now: float, lease_seconds: float) -> Change:
    """A due job leased to ``worker`` for ``lease_seconds``; a running job whose lease ran
    out on its last attempt is dead instead.

    A job whose lost attempt had already committed some of its writes runs again: those
    writes are replayed, not repeated (see :meth:`retain.queue.SQLiteQueue.effects_of`).
    """
    if job.state == "running" and job.attempts >= job.max_attempts:
        return Change(
            {
                "state": "dead",
                **_LEASE_CLEARED,
                "error": append_error(
                    job.error, f"worker lost on attempt {job.attempts} (lease expired)"
                ),
                "updated_at": now,
            }
        )
    return Change(
        {
            "state": "running",
            "lease_token": token,
            "leased_until": now + lease_seconds,
            "worker": worker,
            "attempts": job.attempts + 1,
            "updated_at": now,
        }
    )


def complete(result: str | None, *, now: float) -> Change:
    """A running job acknowledged, with its (encoded) result."""
    return Change({"state": "done", "result": result, **_LEASE_CLEARED, "updated_at": now})


def fail(job: Any, policy: Any, error: str, *, now: float) -> Change:
    """A running job whose attempt ``job.attempts`` raised ``error``: queued again after
    ``policy``'s backoff, or dead when it is out of attempts. Writes the attempt committed
    before it failed are replayed, not repeated, by the next attempt."""
    line = f"attempt {job.attempts}: {error}"
    values: dict[str, Any] = {
        **_LEASE_CLEARED,
        "error": append_error(job.error, line),
        "updated_at": now,
    }
    if job.attempts >= job.max_attempts:
        return Change({"state": "dead", **values})
    return Change({"state": "queued", "run_at": now + policy.delay(job.attempts), **values})


def extend(*, now: float, lease_seconds: float) -> Change:
    """A running job's lease renewed until ``now + lease_seconds``."""
    return Change({"state": "running", "leased_until": now + lease_seconds, "updated_at": now})


def cancel(*, now: float) -> Change:
    """A queued job cancelled (its future was cancelled)."""
    return Change({"state": "cancelled", "updated_at": now})


def supersede(*, now: float) -> Change:
    """A queued job replaced by a newer one with the same key."""
    return Change({"state": "superseded", "updated_at": now})


def retry(policy: Any, *, now: float) -> Change:
    """A dead job queued again, due now, with a fresh attempt budget."""
    return Change(
        {
            "state": "queued",
            "run_at": now,
            "attempts": 0,
            "max_attempts": policy.max_attempts,
            "updated_at": now,
        }
    )


def apply(job: Any, change: Change) -> Any:
    """``job`` (a :class:`~retain.queue.Job`) with ``change`` applied, as the row would be."""
    return dataclasses.replace(job, **dict(change.values))
