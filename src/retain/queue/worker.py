"""``QueueWorker``: runs a reflector over a durable queue, one job at a time.

Run one per process (or several processes on one file); each claims a due job with a
lease, runs it, and acknowledges it. A job that raises is retried with backoff, then
marked dead with its error (:class:`~retain.queue.RetryPolicy`). A worker killed midway
leaves its job leased; when the lease runs out another worker takes it, unless the job's
writes are replayed, not repeated, by the next attempt). While a job runs its lease is
renewed every third of ``lease_seconds`` on the worker's clock, so long jobs are not taken
over; with a :class:`~retain.clock.ManualClock` nothing here waits in real time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from langgraph.store.base import BaseStore

from retain.clock import Clock, as_clock, release
from retain.errors import LeaseLostError
from retain.queue.base import Job, JobQueue
from retain.reflector import Reflector, run_reflector

__all__ = ["JobOutcome", "QueueWorker", "run_job"]

logger = logging.getLogger("retain.queue")


@dataclass(frozen=True)
class JobOutcome:
    """What running one job came to."""

    job: Job
    status: Literal["done", "retry", "dead", "lost"]
    result: Any = None
    error: BaseException | None = None


def _effects(queue: JobQueue, job: Job) -> Any:
    scope = getattr(queue, "effects_of", None)
    if scope is None:
        return contextlib.nullcontext()
    return scope(job)


@contextlib.contextmanager
def _heartbeat(
    queue: JobQueue, job: Job, lease_seconds: float | None, clock: Clock
) -> Iterator[None]:
    """Renew ``job``'s lease every third of ``lease_seconds`` (on ``clock``) while the
    block runs, so a job longer than its lease is not taken over by another worker."""
    if lease_seconds is None:
        yield
        return
    every = lease_seconds / 3
    condition = threading.Condition()
    stopped = False
    waiting = threading.Event()  # the beat thread is waiting on the clock

    def beat() -> None:
        with condition:  # held until clock.wait releases it: then the job may start
            try:
                due = clock.now() + every
            finally:
                waiting.set()  # set even if the clock failed, so the job never hangs
            while not stopped:
                clock.wait(condition, due)
                if stopped or clock.now() < due:
                    continue
                try:
                    if not queue.extend(job, lease_seconds=lease_seconds):
                        logger.warning("job %s: its lease was lost while it ran", job.id)
                        break
                except Exception as e:  # the next beat tries again; the lease may still hold
                    logger.warning("job %s: renewing its lease failed: %s", job.id, e)
                due = clock.now() + every
        release(clock, condition)

    thread = threading.Thread(target=beat, name=f"retain-lease-{job.id}", daemon=True)
    thread.start()
    waiting.wait()
    with condition:  # acquired once the beat thread waits (the condition released)
        pass
    try:
        yield
    finally:
        with condition:
            stopped = True
            condition.notify_all()
        thread.join()


def run_job(
    queue: JobQueue,
    job: Job,
    reflector: Reflector,
    *,
    store: BaseStore | None = None,
    lease_seconds: float | None = None,
    clock: Clock | Callable[[], float] | None = None,
) -> JobOutcome:
    """Run one leased job and record the outcome in the queue. With ``lease_seconds`` (the
    length it was claimed for), the lease is renewed on ``clock`` (default: the system
    clock) while the job runs."""
    from retain.stores.base import provenance

    beats = _heartbeat(queue, job, lease_seconds, as_clock(clock))
    try:
        with beats, _effects(queue, job), provenance(job_id=job.id):
            result = run_reflector(reflector, job.payload, job.config, store)
    except LeaseLostError as e:
        logger.warning("job %s: %s", job.id, e)
        return JobOutcome(job, "lost", error=e)
    except Exception as e:
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        try:
            failed = queue.fail(job, detail)
        except LeaseLostError as lost:
            return JobOutcome(job, "lost", error=lost)
        status: Literal["retry", "dead"] = "dead" if failed.state == "dead" else "retry"
        log = logger.error if status == "dead" else logger.warning
        log("job %s failed (attempt %s/%s): %s", job.id, job.attempts, job.max_attempts, detail)
        return JobOutcome(failed, status, error=e)
    if not queue.complete(job, result):
        return JobOutcome(job, "lost", result=result)
    return JobOutcome(job, "done", result=result)


class QueueWorker:
    """Claims and runs the jobs of ``queue`` with ``reflector``.

    Args:
        queue: The durable queue (for example :class:`~retain.queue.SQLiteQueue`).
        reflector: A Runnable or function; see :mod:`retain.reflector`.
        store: Handed to the reflector as the LangGraph store.
        lease_seconds: The visibility timeout: how long a job stays leased to this worker
            before another may take it. A running job's lease is renewed every third of
            it, so only a worker that died (or stalls for a whole lease) loses its job.
        poll_interval: The longest wait between checks for jobs other processes add.
        clock: Time for waits and lease renewals (default: the system clock); pass the
            queue's :class:`~retain.clock.ManualClock` in tests.

    Example:
        >>> import tempfile, os
        >>> from retain.queue import QueueWorker, SQLiteQueue
        >>> queue = SQLiteQueue(os.path.join(tempfile.mkdtemp(), "memories.db"))
        >>> _ = queue.enqueue({"n": 2})
        >>> worker = QueueWorker(queue, lambda payload: payload["n"] * 10)
        >>> worker.run_once().result
        20
    """

    def __init__(
        self,
        queue: JobQueue,
        reflector: Reflector,
        *,
        store: BaseStore | None = None,
        worker_id: str | None = None,
        lease_seconds: float = 300.0,
        poll_interval: float = 1.0,
        clock: Clock | Callable[[], float] | None = None,
        on_outcome: Callable[[JobOutcome], None] | None = None,
    ) -> None:
        self.queue = queue
        self.reflector = reflector
        self.store = store
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self._clock = as_clock(clock)
        self._on_outcome = on_outcome
        self._stopped = False
        self._wake = threading.Condition()

    def run_once(self) -> JobOutcome | None:
        """Claim and run one due job; ``None`` if none is due."""
        job = self.queue.claim(self.worker_id, lease_seconds=self.lease_seconds)
        if job is None:
            return None
        outcome = run_job(
            self.queue,
            job,
            self.reflector,
            store=self.store,
            lease_seconds=self.lease_seconds,
            clock=self._clock,
        )
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        return outcome

    def run(self, *, until_idle: bool = False) -> int:
        """Run jobs until :meth:`stop` (or, with ``until_idle``, until none is pending).
        Returns how many jobs it ran."""
        count = 0
        try:
            while not self._stopped:
                if self.run_once() is not None:
                    count += 1
                    continue
                due = self.queue.next_due()
                if until_idle and due is None:
                    break
                now = self._clock.now()
                deadline = now + self.poll_interval
                if due is not None:
                    deadline = min(deadline, max(now, due))
                with self._wake:
                    if not self._stopped:
                        self._clock.wait(self._wake, deadline)
        finally:
            release(self._clock, self._wake)
        return count

    def stop(self) -> None:
        """Make :meth:`run` return after the job in progress."""
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
