"""Job-level exactly-once: the writes of each attempt of a job, journalled.

Inside ``queue.effects_of(job)``, every write transaction of a retain store on the queue's
own database also records itself in ``retain_job_effects`` (its number in the job and the
namespaces it wrote) and stamps the job, after checking that the worker still holds the
job's lease (else the write rolls back: :class:`~retain.errors.LeaseLostError`). So a write
and its record commit together.

When a job runs again (its worker died, or its attempt raised after some writes committed),
each write of the new attempt is first matched against the journal: a write to the same
namespaces as a recorded write not yet matched is *replayed* (the store skips it, as
already applied); any other write is made and recorded. A job's writes then apply once,
those before the crash by the earlier attempt and the rest by the next. For a reflector
that writes the same way on the same input this is exact; when a re-run writes differently
(a real model may answer otherwise the second time), what an earlier attempt wrote to a
namespace stands and is never written twice, and writes to namespaces it did not reach
(the profile after the facts) are still made.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from retain.errors import LeaseLostError
from retain.queue.base import Job
from retain.stores.hooks import write_replay

__all__ = ["AttemptWrites", "lease_lost", "write_target"]

_CURRENT: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar(
    "retain_job_write", default=None
)


def write_target(namespaces: frozenset[str]) -> str:
    """How the journal names the namespaces one write touched.

    Example:
        >>> write_target(frozenset({"users.u1.profile", "memories.u1"}))
        '["memories.u1","users.u1.profile"]'
    """
    return json.dumps(sorted(namespaces), ensure_ascii=False, separators=(",", ":"))


def lease_lost(job: Job) -> LeaseLostError:
    """The error a write raises (rolling back) when ``job``'s lease was taken over."""
    return LeaseLostError(
        f"Job {job.id}'s lease ran out and another worker took it over; this worker's "
        "writes were rolled back."
    )


class AttemptWrites:
    """One attempt of ``job``: replays the writes in ``committed`` (``(seq, target)`` rows
    of the journal) and numbers the new ones, for stores where ``ours(store)`` holds."""

    def __init__(
        self, job: Job, committed: Iterable[tuple[int, str]], ours: Callable[[Any], bool]
    ) -> None:
        self.job = job
        rows = sorted(committed)
        self._unmatched = [target for _, target in rows]
        self._last = max((seq for seq, _ in rows), default=0)
        self._ours = ours
        self._lock = threading.Lock()

    def replayed(self, store: Any, namespaces: frozenset[str]) -> bool:
        """Asked by a store before it writes: ``True`` to skip the write (an earlier
        attempt made it), else number it for :meth:`record`."""
        if not self._ours(store):
            return False
        target = write_target(namespaces)
        with self._lock:
            if target in self._unmatched:
                self._unmatched.remove(target)
                return True
            self._last += 1
            seq = self._last
        _CURRENT.set((seq, target))
        return False

    def record(self, store: Any) -> tuple[int, str] | None:
        """The journal row (number, target) of the write ``store`` is committing; ``None``
        when ``store`` is not on the queue's database."""
        if not self._ours(store):
            return None
        current = _CURRENT.get()
        if current is None:  # a write that did not ask first: number it now
            with self._lock:
                self._last += 1
                current = (self._last, "")
        return current

    @contextlib.contextmanager
    def replaying(self) -> Iterator[None]:
        """Ask :meth:`replayed` before every store write in this block."""
        token = _CURRENT.set(None)
        try:
            with write_replay(self.replayed):
                yield
        finally:
            _CURRENT.reset(token)
