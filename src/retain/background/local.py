"""The local runner behind :class:`retain.ReflectionExecutor`: one scheduler thread and
a few worker threads, all daemons, woken exactly when work falls due (no polling for
work submitted in this process).

* **In-memory** (default): pending work lives in a :class:`DebounceSchedule`; at exit or
  :meth:`LocalRunner.shutdown` it runs right away (or is cancelled with
  ``cancel_futures=True``).
* **Durable** (with a :class:`~retain.queue.JobQueue`): pending work lives in the queue;
  the scheduler claims due jobs only when a worker is free and checks every
  ``poll_interval`` seconds for jobs other processes added. At exit, queued jobs stay
  queued for the next worker.
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import BaseStore

from retain.background.schedule import DebounceSchedule
from retain.clock import Clock
from retain.errors import ExecutorShutdownError, QueueError
from retain.queue.base import Job, JobQueue
from retain.queue.worker import run_job
from retain.reflector import Reflector, run_reflector

__all__ = ["LocalRunner", "register_for_exit"]

logger = logging.getLogger("retain.executor")

_RUNNERS: weakref.WeakSet[Any] = weakref.WeakSet()


def register_for_exit(runner: Any) -> None:
    """Call ``runner.shutdown(wait=True)`` when the interpreter exits (if still alive)."""
    _RUNNERS.add(runner)


@atexit.register
def _shutdown_all() -> None:
    for runner in list(_RUNNERS):
        try:
            runner.shutdown(wait=True)
        except Exception:  # never let one runner stop the others at exit
            logger.exception("shutting down %r at exit failed", runner)


@dataclass
class _Work:
    future: Future[Any] | None
    payload: Any = None
    config: dict[str, Any] | None = None
    job: Job | None = None
    store: BaseStore | None = None


class LocalRunner:
    """Runs a reflector in background threads; see the module docstring."""

    def __init__(
        self,
        reflector: Reflector,
        *,
        store: BaseStore | None,
        clock: Clock,
        max_workers: int,
        queue: JobQueue | None = None,
        lease_seconds: float = 300.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.reflector = reflector
        self.store = store
        self.queue = queue
        self._clock = clock
        self._max_workers = max_workers
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._cond = threading.Condition()
        self._schedule: DebounceSchedule[_Work] = DebounceSchedule()
        self._ready: collections.deque[_Work] = collections.deque()
        self._futures: dict[int, Future[Any]] = {}  # durable: job id -> future
        self._busy = 0
        # when the scheduler looks at the durable queue again by itself (None: once a
        # worker frees up); a submission due earlier wakes it, a later one need not
        self._rescan_at: float | None = float("-inf")
        self._closed = False
        self._stopping = False
        self._worker_id = f"executor:{id(self):x}"
        self._threads = [threading.Thread(target=self._scheduler, daemon=True, name="retain-sched")]
        self._threads += [
            threading.Thread(target=self._worker, daemon=True, name=f"retain-worker-{i}")
            for i in range(max_workers)
        ]
        for thread in self._threads:
            thread.start()
        register_for_exit(self)

    # -- submitting ------------------------------------------------------------------------

    def submit(
        self,
        key: Hashable | None,
        payload: Any,
        config: dict[str, Any],
        *,
        delay: float,
        idempotency_key: str | None = None,
        store: BaseStore | None = None,
    ) -> Future[Any]:
        """Schedule one run; ``key=None`` is never debounced. ``store`` (in-memory mode):
        the store this run is handed when the runner has none (the running graph's)."""
        future: Future[Any] = Future()
        with self._cond:
            if self._closed:
                raise ExecutorShutdownError(
                    "This ReflectionExecutor was shut down; create a new one to submit work."
                )
            if self.queue is None:
                replaced = self._schedule.add(
                    object() if key is None else key,
                    _Work(future, payload, config, store=store),
                    due=self._clock.now() + delay,
                )
                if replaced is not None and replaced.future is not None:
                    replaced.future.cancel()
            else:
                job, superseded = self.queue.enqueue(
                    payload,
                    config=config,
                    key=None if key is None else str(key),
                    delay=delay,
                    idempotency_key=idempotency_key,
                )
                for job_id in superseded:
                    old = self._futures.pop(job_id, None)
                    if old is not None:
                        old.cancel()
                if job.id in self._futures:  # an idempotent resubmission
                    return self._futures[job.id]
                if job.state in ("done", "dead", "superseded", "cancelled"):
                    self._settle_known(future, job)
                    return future
                self._futures[job.id] = future
                future.add_done_callback(self._cancel_job(job.id))
                if self._rescan_at is None or job.run_at >= self._rescan_at:
                    return future  # the scheduler finds it in time without a wake-up
            self._cond.notify_all()
        return future

    def _settle_known(self, future: Future[Any], job: Job) -> None:
        if job.state == "done":
            future.set_result(job.result)
        elif job.state == "dead":
            future.set_exception(QueueError(f"Job {job.id} is dead: {job.error}"))
        else:
            future.cancel()

    def _cancel_job(self, job_id: int) -> Callable[[Future[Any]], None]:
        def on_done(future: Future[Any]) -> None:
            if future.cancelled() and self.queue is not None:
                with self._cond:
                    if self._futures.get(job_id) is future:
                        del self._futures[job_id]
                self.queue.cancel([job_id])

        return on_done

    def trigger(self, match: Callable[[Hashable], bool] | None, key_prefix: str | None) -> int:
        """Make matching pending work due now; returns how many items."""
        with self._cond:
            if self.queue is None:
                count = self._schedule.make_due(self._clock.now(), match)
            else:
                count = len(self.queue.expedite(key_prefix=key_prefix))
            self._cond.notify_all()
        return count

    def pending(self) -> int:
        """How many submissions wait for their time (in-memory) or in the queue (durable)."""
        with self._cond:
            if self.queue is None:
                return len(self._schedule)
            counts = self.queue.counts()
            return counts["queued"] + counts["running"]

    # -- threads ---------------------------------------------------------------------------

    def _dispatch(self) -> float | None:
        """Move due work to the workers (holding the condition); returns the next deadline."""
        now = self._clock.now()
        if self.queue is None:
            for work in self._schedule.pop_due(now):
                if work.future is not None and work.future.set_running_or_notify_cancel():
                    self._ready.append(work)
            return self._schedule.next_due()
        while not self._stopping and self._busy + len(self._ready) < self._max_workers:
            job = self.queue.claim(self._worker_id, lease_seconds=self._lease_seconds)
            if job is None:
                break
            future = self._futures.get(job.id)
            if future is not None and not future.running():
                future.set_running_or_notify_cancel()
            self._ready.append(_Work(future, job=job))
        if self._stopping or self._busy + len(self._ready) >= self._max_workers:
            return None  # woken when a worker frees up
        due = self.queue.next_due()
        poll = now + self._poll_interval
        return poll if due is None else min(due, poll)

    def _scheduler(self) -> None:
        try:
            with self._cond:
                while True:
                    try:
                        deadline = self._dispatch()
                    except Exception:
                        logger.exception("retain executor: scheduling failed; retrying")
                        deadline = self._clock.now() + self._poll_interval
                    self._cond.notify_all()
                    if self._stopping:
                        return
                    self._rescan_at = deadline
                    self._clock.wait(self._cond, deadline)
                    self._rescan_at = float("-inf")
        finally:
            forget = getattr(self._clock, "forget", None)
            if forget is not None:
                forget(self._cond)

    def _worker(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._stopping:
                    self._cond.wait()
                if not self._ready:
                    return
                work = self._ready.popleft()
                self._busy += 1
            try:
                self._run(work)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _run(self, work: _Work) -> None:
        if work.job is None:
            assert work.future is not None
            try:
                store = self.store if self.store is not None else work.store
                result = run_reflector(self.reflector, work.payload, work.config, store)
            except Exception as e:
                logger.error("retain executor: reflection failed: %r", e, exc_info=e)
                work.future.set_exception(e)
            else:
                work.future.set_result(result)
            return
        assert self.queue is not None
        outcome = run_job(
            self.queue,
            work.job,
            self.reflector,
            store=self.store,
            lease_seconds=self._lease_seconds,
        )
        if outcome.status == "retry":
            future = work.future
            if future is not None:  # pending again until the retry runs
                with self._cond:
                    self._futures[work.job.id] = future
            return
        with self._cond:
            future = self._futures.pop(work.job.id, None)
        if future is None or future.done():
            return
        if outcome.status == "done":
            future.set_result(outcome.result)
        elif outcome.error is not None:
            future.set_exception(outcome.error)
        else:
            future.set_result(outcome.result)

    # -- stopping --------------------------------------------------------------------------

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop taking work. In-memory pending work runs now (or is cancelled with
        ``cancel_futures``); durable queued jobs stay queued (or are cancelled)."""
        with self._cond:
            if not self._closed:
                self._closed = True
                try:
                    self._drain(cancel_futures)
                finally:
                    self._stopping = True
                    self._cond.notify_all()
        if wait:
            current = threading.current_thread()
            for thread in self._threads:
                if thread is not current:
                    thread.join()

    def _drain(self, cancel_futures: bool) -> None:
        """Settle the work not started yet (the caller holds the condition)."""
        if self.queue is None:
            for work in self._schedule.pop_all():
                if work.future is None:
                    continue
                if cancel_futures:
                    work.future.cancel()
                elif work.future.set_running_or_notify_cancel():
                    self._ready.append(work)
            return
        claimed = {w.job.id for w in self._ready if w.job is not None}
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
