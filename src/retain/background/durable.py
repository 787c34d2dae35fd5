"""The durable runner behind ``ReflectionExecutor(..., durable=True)`` (or ``queue=``):
pending work lives in a :class:`~retain.queue.JobQueue`; the scheduler claims due jobs only
when a worker is free and checks every ``poll_interval`` seconds for jobs other processes
added. At exit, queued jobs stay queued for the next worker. Threads:
:class:`~retain.background.threads.ThreadRunner`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import BaseStore

from retain.background.runner import Submission
from retain.background.threads import ThreadRunner
from retain.clock import Clock
from retain.errors import ExecutorShutdownError, QueueError
from retain.queue.base import Job, JobQueue
from retain.queue.worker import run_job
from retain.reflector import Reflector

__all__ = ["DurableRunner"]


@dataclass
class _Claimed:
    job: Job
    future: Future[Any] | None  # None: a job another process submitted


class DurableRunner(ThreadRunner[_Claimed]):
    """Runs a reflector in background threads, pending work kept in a durable queue."""

    mode = "durable"

    def __init__(
        self,
        reflector: Reflector,
        *,
        queue: JobQueue,
        store: BaseStore | None,
        clock: Clock,
        max_workers: int,
        lease_seconds: float = 300.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.queue = queue
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._futures: dict[int, Future[Any]] = {}  # job id -> future
        # when the scheduler looks at the queue again by itself (None: once a worker frees
        # up); a submission due earlier wakes it, a later one need not
        self._rescan_at: float | None = float("-inf")
        self._worker_id = f"executor:{id(self):x}"
        super().__init__(
            reflector, store=store, clock=clock, max_workers=max_workers, retry_after=poll_interval
        )

    def _add(self, sub: Submission) -> tuple[Future[Any], bool]:
        future: Future[Any] = Future()
        job, superseded = self.queue.enqueue(
            sub.payload,
            config=sub.config,
            key=None if sub.key is None else str(sub.key),
            delay=sub.delay,
            idempotency_key=sub.idempotency_key,
        )
        for job_id in superseded:
            old = self._futures.pop(job_id, None)
            if old is not None:
                old.cancel()
        if job.id in self._futures:  # an idempotent resubmission
            return self._futures[job.id], False
        if job.state in ("done", "dead", "superseded", "cancelled"):
            self._settle_known(future, job)
            return future, False
        self._futures[job.id] = future
        future.add_done_callback(self._cancel_job(job.id))
        # the scheduler finds it in time without a wake-up unless it is due before its rescan
        return future, not (self._rescan_at is None or job.run_at >= self._rescan_at)

    def _settle_known(self, future: Future[Any], job: Job) -> None:
        if job.state == "done":
            future.set_result(job.result)
        elif job.state == "dead":
            future.set_exception(QueueError(f"Job {job.id} is dead: {job.error}"))
        else:
            future.cancel()

    def _cancel_job(self, job_id: int) -> Callable[[Future[Any]], None]:
        def on_done(future: Future[Any]) -> None:
            if future.cancelled():
                with self._cond:
                    if self._futures.get(job_id) is future:
                        del self._futures[job_id]
                self.queue.cancel([job_id])

        return on_done

    def _make_due(self, match: Callable[[Hashable], bool], key_prefix: str | None) -> int:
        return len(self.queue.expedite(key_prefix=key_prefix))

    def _count(self) -> int:
        counts = self.queue.counts()
        return counts["queued"] + counts["running"]

    def _dispatch(self) -> float | None:
        now = self._clock.now()
        while not self._stopping and self._busy + len(self._ready) < self._max_workers:
            job = self.queue.claim(self._worker_id, lease_seconds=self._lease_seconds)
            if job is None:
                break
            future = self._futures.get(job.id)
            if future is not None and not future.running():
                future.set_running_or_notify_cancel()
            self._ready.append(_Claimed(job, future))
        if self._stopping or self._busy + len(self._ready) >= self._max_workers:
            return None  # woken when a worker frees up
        due = self.queue.next_due()
        poll = now + self._poll_interval
        return poll if due is None else min(due, poll)

    def _before_wait(self, deadline: float | None) -> None:
        self._rescan_at = deadline

    def _after_wait(self) -> None:
        self._rescan_at = float("-inf")

    def _run(self, work: _Claimed) -> None:
        outcome = run_job(
            self.queue,
            work.job,
            self.reflector,
            store=self.store,
            lease_seconds=self._lease_seconds,
            clock=self._clock,
        )
        if outcome.status == "retry":
            if work.future is not None:  # pending again until the retry runs
                with self._cond:
                    self._futures[work.job.id] = work.future
            return
        with self._cond:
            future = self._futures.pop(work.job.id, None)
        if future is None or future.done():
            return
        if outcome.status != "done" and outcome.error is not None:
            future.set_exception(outcome.error)
        else:
            future.set_result(outcome.result)

    def _drain(self, cancel_futures: bool) -> None:
        claimed = {w.job.id for w in self._ready}
        waiting = {
            i: f
            for i, f in self._futures.items()
            if not f.running() and not f.done() and i not in claimed
        }
        if cancel_futures:
            self.queue.cancel(list(waiting))
        for job_id, future in waiting.items():
            self._futures.pop(job_id, None)
            if cancel_futures:
                future.cancel()
            else:
                future.set_exception(
                    ExecutorShutdownError(
                        f"Job {job_id} stays queued in {self.queue!r}; a worker started "
                        "later runs it."
                    )
                )
