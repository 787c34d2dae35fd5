"""Clocks for background work: the system clock, and a manual clock for tests.

A clock tells the time (:meth:`Clock.now`, seconds) and lets a scheduler thread sleep
until a deadline (:meth:`Clock.wait`), woken early by ``condition.notify()``. With
:class:`ManualClock`, time moves only when a test calls :meth:`ManualClock.advance`,
which returns once every scheduler waiting on the clock has looked at the new time, so
debounce logic, job leases and their renewal are tested without sleeping.

The executor, the durable queues and :class:`~retain.queue.QueueWorker` take a clock;
:func:`as_clock` turns what they were given (a clock, a bare ``() -> seconds`` function,
or ``None`` for the system clock) into one. A thread that stops waiting on a clock calls
:func:`release` so a :class:`ManualClock` no longer waits for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from retain.errors import ConfigurationError

__all__ = ["Clock", "ManualClock", "SystemClock", "as_clock", "release"]


@runtime_checkable
class Clock(Protocol):
    """A source of time and a way to wait for it."""

    def now(self) -> float:
        """Seconds (any origin; durable queues need wall time)."""
        ...

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        """Block on ``condition`` (held by the caller) until ``deadline`` or a notify."""
        ...


class _FunctionClock:
    """A bare ``() -> seconds`` function as a clock; waits last the difference in real
    time (re-checked when woken)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now())

    def __call__(self) -> float:
        return self.now()

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        if deadline is None:
            condition.wait()
            return
        remaining = deadline - self.now()
        if remaining > 0:
            condition.wait(remaining)


class SystemClock(_FunctionClock):
    """Wall-clock time (``time.time``); waits use the condition's own timeout."""

    def __init__(self) -> None:
        super().__init__(time.time)

    def forget(self, condition: threading.Condition) -> None:
        """Nothing to forget: waits end by themselves."""


def as_clock(clock: Clock | Callable[[], float] | None) -> Clock:
    """The clock to use for ``clock``: itself if it is one, a bare ``() -> seconds``
    function wrapped, the system clock for ``None``.

    Example:
        >>> from retain.clock import ManualClock, SystemClock, as_clock
        >>> manual = ManualClock(start=5.0)
        >>> as_clock(manual) is manual, as_clock(lambda: 7.0).now()
        (True, 7.0)
        >>> isinstance(as_clock(None), SystemClock)
        True
    """
    if clock is None:
        return SystemClock()
    if isinstance(clock, Clock):
        return clock
    if callable(clock):
        return _FunctionClock(clock)
    raise ConfigurationError(
        f"clock must be a Clock or a function returning seconds; got {clock!r}."
    )


def release(clock: Clock, condition: threading.Condition) -> None:
    """Tell ``clock`` that the thread waiting on ``condition`` stopped (a
    :class:`ManualClock` then no longer waits for it in :meth:`~ManualClock.advance`)."""
    forget = getattr(clock, "forget", None)
    if forget is not None:
        forget(condition)


class ManualClock:
    """A clock that moves only when told to.

    Example:
        >>> from retain.clock import ManualClock
        >>> clock = ManualClock(start=100.0)
        >>> clock.advance(2.5)
        >>> clock.now()
        102.5
    """

    def __init__(self, start: float = 1_000_000.0, *, sync_timeout: float = 10.0) -> None:
        self._now = float(start)
        self._state = threading.Condition()
        self._epoch = 0
        self._seen: dict[int, int] = {}  # waiting condition -> epoch it last checked
        self._conditions: dict[int, threading.Condition] = {}
        self._sync_timeout = sync_timeout

    def now(self) -> float:
        with self._state:
            return self._now

    def __call__(self) -> float:
        return self.now()

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        with self._state:
            if deadline is not None and deadline <= self._now:
                return  # due already: let the caller look again
            self._conditions[id(condition)] = condition
            self._seen[id(condition)] = self._epoch
            self._state.notify_all()
        condition.wait()

    def advance(self, seconds: float) -> None:
        """Move time forward, then wait until every scheduler on this clock has checked
        the new time and gone back to waiting (or :attr:`sync_timeout` passes)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._state:
            self._now += seconds
            self._epoch += 1
            target = self._epoch
            conditions = list(self._conditions.items())
        for _, condition in conditions:
            with condition:
                condition.notify_all()
        give_up = time.monotonic() + self._sync_timeout
        with self._state:
            while any(self._seen.get(k, target) < target for k, _ in conditions):
                left = give_up - time.monotonic()
                if left <= 0:
                    break
                self._state.wait(left)

    def wait_for_waiters(self, count: int = 1, *, timeout: float = 10.0) -> bool:
        """Block until ``count`` threads wait on this clock (a test's ready handshake with
        the threads it started, before it moves time); ``False`` if ``timeout`` real
        seconds pass first."""
        give_up = time.monotonic() + timeout
        with self._state:
            while len(self._conditions) < count:
                left = give_up - time.monotonic()
                if left <= 0:
                    return False
                self._state.wait(left)
        return True

    def forget(self, condition: threading.Condition) -> None:
        """Stop waiting for ``condition``'s scheduler in :meth:`advance` (it stopped)."""
        with self._state:
            self._conditions.pop(id(condition), None)
            self._seen.pop(id(condition), None)
            self._state.notify_all()
