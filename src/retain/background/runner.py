"""The protocol every runner behind :class:`retain.ReflectionExecutor` follows, and the
exit hook they share.

Three runners, one per mode, each in its own module and none importing the executor:

* :class:`~retain.background.local.InMemoryRunner`: pending work in a debounce schedule
  in this process (the default);
* :class:`~retain.background.durable.DurableRunner`: pending work in a durable
  :class:`~retain.queue.JobQueue` (``durable=True`` or ``queue=``);
* :class:`~retain.background.remote.RemoteRunner`: submissions handed to a server
  (``url=``).

The executor picks one at construction and only ever calls the methods below.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from langgraph.store.base import BaseStore

__all__ = ["Runner", "Submission", "live_runners", "register_for_exit"]

logger = logging.getLogger("retain.executor")

_RUNNERS: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True)
class Submission:
    """One :meth:`retain.ReflectionExecutor.submit` call, as a runner receives it.

    ``key``: pending work with the same key is replaced (``None``: never debounced);
    ``delay``: seconds until it runs; ``store``: the store to hand the reflector when the
    runner has none (the running graph's)."""

    key: Hashable | None
    payload: Any
    config: dict[str, Any]
    delay: float
    idempotency_key: str | None = None
    store: BaseStore | None = None


class Runner(Protocol):
    """What the executor asks of a runner."""

    mode: str
    """``"in-memory"``, ``"durable"`` or ``"remote"``."""

    def submit(self, sub: Submission) -> Future[Any]:
        """Schedule one run in ``sub.delay`` seconds, replacing a pending run with the same
        ``sub.key``."""
        ...

    def trigger(self, match: Callable[[Hashable], bool], key_prefix: str | None) -> int:
        """Make the matching pending work due now; returns how many."""
        ...

    def pending(self) -> int:
        """How many submissions wait to run."""
        ...

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop taking work (see :meth:`retain.ReflectionExecutor.shutdown`)."""
        ...


def register_for_exit(runner: Any) -> None:
    """Call ``runner.shutdown(wait=True)`` when the interpreter exits (if still alive)."""
    _RUNNERS.add(runner)


def live_runners() -> set[Any]:
    """The runners not shut down by garbage collection yet (for tests and exit)."""
    return set(_RUNNERS)


@atexit.register
def _shutdown_all() -> None:
    for runner in list(_RUNNERS):
        try:
            runner.shutdown(wait=True)
        except Exception:  # never let one runner stop the others at exit
            logger.exception("shutting down %r at exit failed", runner)
