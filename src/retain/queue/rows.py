"""The ``retain_jobs`` row layout both queues read: its columns, states and the :class:`Job`
built from a row. SQL dialects differ per queue; the row does not."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from retain.errors import InvalidInputError
from retain.queue.base import Job, JobState
from retain.queue.codec import decode

__all__ = ["JOB_COLUMNS", "JOB_STATES", "check_state", "job_from_row"]

JOB_COLUMNS = (
    "id, queue, key, idempotency_key, payload, config, state, run_at, attempts, "
    "max_attempts, lease_token, leased_until, worker, error, result, created_at, updated_at, "
    "effect_at"
)
"""The columns of ``SELECT {JOB_COLUMNS}``, in the order :func:`job_from_row` reads them."""

JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "dead", "superseded", "cancelled")


def check_state(state: JobState | None) -> None:
    """Raise :class:`~retain.errors.InvalidInputError` unless ``state`` is a job state or None."""
    if state is not None and state not in JOB_STATES:
        raise InvalidInputError(f"state must be one of {JOB_STATES}; got {state!r}.")


def job_from_row(row: Sequence[Any]) -> Job:
    """The :class:`Job` of a row selected with :data:`JOB_COLUMNS`."""
    return Job(
        id=row[0],
        queue=row[1],
        key=row[2],
        idempotency_key=row[3],
        payload=decode(row[4]),
        config=json.loads(row[5]),
        state=row[6],
        run_at=row[7],
        attempts=row[8],
        max_attempts=row[9],
        lease_token=row[10],
        leased_until=row[11],
        worker=row[12],
        error=row[13],
        result=None if row[14] is None else decode(row[14]),
        created_at=row[15],
        updated_at=row[16],
        extra={"effect_at": row[17]},
    )
