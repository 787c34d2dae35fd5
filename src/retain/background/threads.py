"""The threads shared by the in-memory and durable runners: one scheduler thread and a few
worker threads, all daemons, sharing one condition, woken exactly when work falls due (no
polling for work submitted in this process).

:class:`ThreadRunner` owns the threads, the ready list and shutdown; a subclass says where
pending work lives through five hooks, each called with the condition held:
``_add`` (submit), ``_make_due`` (trigger), ``_count`` (pending), ``_dispatch`` (move due
work to the ready list, return the next deadline) and ``_drain`` (settle work not started
at shutdown), plus ``_run`` (run one ready item, without the condition).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from langgraph.store.base import BaseStore

from retain.background.runner import Submission, logger, register_for_exit
from retain.clock import Clock
from retain.errors import ExecutorShutdownError
from retain.reflector import Reflector

__all__ = ["ThreadRunner"]

W = TypeVar("W")


class ThreadRunner(Generic[W]):
    """Scheduler and worker threads around a subclass's pending work (``W``: one ready item)."""

    mode = "threads"

    def __init__(
        self,
        reflector: Reflector,
        *,
        store: BaseStore | None,
        clock: Clock,
        max_workers: int,
        retry_after: float = 1.0,
    ) -> None:
        self.reflector = reflector
        self.store = store
        self._clock = clock
        self._max_workers = max_workers
        self._retry_after = retry_after
        self._cond = threading.Condition()
        self._ready: collections.deque[W] = collections.deque()
        self._busy = 0
        self._closed = False
        self._stopping = False
        self._threads = [threading.Thread(target=self._scheduler, daemon=True, name="retain-sched")]
        self._threads += [
            threading.Thread(target=self._worker, daemon=True, name=f"retain-worker-{i}")
            for i in range(max_workers)
        ]
        for thread in self._threads:
            thread.start()
        register_for_exit(self)

    # -- the hooks -------------------------------------------------------------------------

    def _add(self, sub: Submission) -> tuple[Future[Any], bool]:
        """Keep one submission; returns its future and whether to wake the scheduler."""
        raise NotImplementedError

    def _make_due(self, match: Callable[[Hashable], bool], key_prefix: str | None) -> int:
        raise NotImplementedError

    def _count(self) -> int:
        raise NotImplementedError

    def _dispatch(self) -> float | None:
        """Move due work to ``self._ready``; the next deadline (``None``: wait for a wake-up)."""
        raise NotImplementedError

    def _run(self, work: W) -> None:
        raise NotImplementedError

    def _drain(self, cancel_futures: bool) -> None:
        raise NotImplementedError

    def _before_wait(self, deadline: float | None) -> None:
        """Called as the scheduler starts waiting for ``deadline`` (condition held)."""

    def _after_wait(self) -> None:
        """Called as the scheduler wakes up (condition held)."""

    # -- the runner protocol ---------------------------------------------------------------

    def submit(self, sub: Submission) -> Future[Any]:
        """Schedule one run; ``sub.key=None`` is never debounced."""
        with self._cond:
            if self._closed:
                raise ExecutorShutdownError(
                    "This ReflectionExecutor was shut down; create a new one to submit work."
                )
            future, wake = self._add(sub)
            if wake:
                self._cond.notify_all()
        return future

    def trigger(self, match: Callable[[Hashable], bool], key_prefix: str | None) -> int:
        """Make matching pending work due now; returns how many items."""
        with self._cond:
            count = self._make_due(match, key_prefix)
            self._cond.notify_all()
        return count

    def pending(self) -> int:
        """How many submissions wait to run."""
        with self._cond:
            return self._count()

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop taking work and settle what has not started (see the subclass's ``_drain``)."""
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

    # -- threads ---------------------------------------------------------------------------

    def _scheduler(self) -> None:
        try:
            with self._cond:
                while True:
                    try:
                        deadline = self._dispatch()
                    except Exception:
                        logger.exception("retain executor: scheduling failed; retrying")
                        deadline = self._clock.now() + self._retry_after
                    self._cond.notify_all()
                    if self._stopping:
                        return
                    self._before_wait(deadline)
                    self._clock.wait(self._cond, deadline)
                    self._after_wait()
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
