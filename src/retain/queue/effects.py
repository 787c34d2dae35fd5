"""Job-level exactly-once: the writes of one attempt of a job, numbered and journalled.

Inside ``queue.effects_of(job)``, every write transaction of a retain store on the queue's
own database gets the next ordinal of the attempt (1, 2, ...). The write's transaction also
records ``(job, ordinal)`` in ``retain_job_effects`` and stamps the job, after checking
that the worker still holds the job's lease (else the write rolls back:
:class:`~retain.errors.LeaseLostError`). So a write and its record commit together.

When a job runs again (its worker died, or its attempt raised after some writes committed),
the new attempt's writes are numbered the same way and those whose ordinal is journalled
are *replayed*: the store skips them, as already applied. All of a job's writes then apply
once, the ones before the crash by the first attempt and the rest by the next. This holds
for a reflector that makes its writes in the same order when run again on the same input
(retain's store manager with a deterministic model; a real model may answer differently
the second time: what the earlier attempt wrote is kept either way, never written twice).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any

from retain.errors import LeaseLostError
from retain.queue.base import Job
from retain.stores.hooks import write_replay

__all__ = ["AttemptWrites", "lease_lost"]

_ORDINAL: contextvars.ContextVar[int] = contextvars.ContextVar("retain_job_write", default=0)


def lease_lost(job: Job) -> LeaseLostError:
    """The error a write raises (rolling back) when ``job``'s lease was taken over."""
    return LeaseLostError(
        f"Job {job.id}'s lease ran out and another worker took it over; this worker's "
        "writes were rolled back."
    )


class AttemptWrites:
    """Numbers the writes of one attempt of ``job`` made to stores for which ``ours(store)``
    holds, and tells the stores to skip those whose number is in ``committed``."""

    def __init__(self, job: Job, committed: set[int], ours: Callable[[Any], bool]) -> None:
        self.job = job
        self.committed = frozenset(committed)
        self._ours = ours
        self._lock = threading.Lock()
        self._count = 0

    def replayed(self, store: Any) -> bool:
        """Asked by a store before it writes: number the write; ``True`` to skip it."""
        if not self._ours(store):
            return False
        with self._lock:
            self._count += 1
            ordinal = self._count
        _ORDINAL.set(ordinal)
        return ordinal in self.committed

    def ordinal(self, store: Any) -> int | None:
        """The number of the write ``store`` is committing (``None``: not ours to record)."""
        if not self._ours(store):
            return None
        ordinal = _ORDINAL.get()
        if ordinal == 0:  # a write path that did not ask first: number it now
            with self._lock:
                self._count += 1
                ordinal = self._count
        return ordinal

    @contextlib.contextmanager
    def replaying(self) -> Iterator[None]:
        """Ask :meth:`replayed` before every store write in this block."""
        token = _ORDINAL.set(0)
        try:
            with write_replay(self.replayed):
                yield
        finally:
            _ORDINAL.reset(token)
