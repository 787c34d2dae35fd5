"""The in-memory runner behind :class:`retain.ReflectionExecutor` (the default mode):
pending work lives in a :class:`~retain.background.schedule.DebounceSchedule` in this
process; at exit or :meth:`~InMemoryRunner.shutdown` it runs right away (or is cancelled
with ``cancel_futures=True``). Threads: :class:`~retain.background.threads.ThreadRunner`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import BaseStore

from retain.background.runner import Submission, logger
from retain.background.schedule import DebounceSchedule
from retain.background.threads import ThreadRunner
from retain.clock import Clock
from retain.reflector import Reflector, run_reflector

__all__ = ["InMemoryRunner"]


@dataclass
class _Pending:
    future: Future[Any]
    payload: Any
    config: dict[str, Any]
    store: BaseStore | None


class InMemoryRunner(ThreadRunner[_Pending]):
    """Runs a reflector in background threads, pending work kept in memory."""

    mode = "in-memory"

    def __init__(
        self, reflector: Reflector, *, store: BaseStore | None, clock: Clock, max_workers: int
    ) -> None:
        self._schedule: DebounceSchedule[_Pending] = DebounceSchedule()
        super().__init__(reflector, store=store, clock=clock, max_workers=max_workers)

    def _add(self, sub: Submission) -> tuple[Future[Any], bool]:
        future: Future[Any] = Future()
        store = self.store if self.store is not None else sub.store
        replaced = self._schedule.add(
            object() if sub.key is None else sub.key,
            _Pending(future, sub.payload, sub.config, store),
            due=self._clock.now() + sub.delay,
        )
        if replaced is not None:
            replaced.future.cancel()
        return future, True

    def _make_due(self, match: Callable[[Hashable], bool], key_prefix: str | None) -> int:
        return self._schedule.make_due(self._clock.now(), match)

    def _count(self) -> int:
        return len(self._schedule)

    def _dispatch(self) -> float | None:
        for work in self._schedule.pop_due(self._clock.now()):
            if work.future.set_running_or_notify_cancel():
                self._ready.append(work)
        return self._schedule.next_due()

    def _run(self, work: _Pending) -> None:
        try:
            result = run_reflector(self.reflector, work.payload, work.config, work.store)
        except Exception as e:
            logger.error("retain executor: reflection failed: %r", e, exc_info=e)
            work.future.set_exception(e)
        else:
            work.future.set_result(result)

    def _drain(self, cancel_futures: bool) -> None:
        for work in self._schedule.pop_all():
            if cancel_futures:
                work.future.cancel()
            elif work.future.set_running_or_notify_cancel():
                self._ready.append(work)
