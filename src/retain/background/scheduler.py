"""``MemoryScheduler``: the seed notebook's background memory manager, as a thin layer
over :class:`~retain.ReflectionExecutor`.

``enqueue(user_id, thread_id, messages, delay=60)`` (re)starts a conversation's timer;
when it runs out, the reflector gets ``{"messages": ..., "user_id": ...}`` with
``config["configurable"]`` holding ``user_id`` and ``thread_id``. ``trigger(user_id=...,
thread_id=None)`` processes a user's pending conversations now (one, with
``thread_id``). Unlike the notebook, errors land in the returned futures and the log,
timers of different users never interfere, and ``durable=True`` keeps pending
conversations across restarts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from langgraph.store.base import BaseStore

from retain.errors import InvalidInputError
from retain.executor import ReflectionExecutor
from retain.reflector import Reflector
from retain.twins import not_blocking

__all__ = ["MemoryScheduler"]


def _key(user_id: str, thread_id: str) -> str:
    return json.dumps([str(user_id), str(thread_id)], separators=(",", ":"), ensure_ascii=False)


def _user_prefix(user_id: str) -> str:
    return json.dumps([str(user_id)], separators=(",", ":"), ensure_ascii=False)[:-1] + ","


class MemoryScheduler:
    """Debounced memory formation per (user, thread), with the notebook's two calls.

    Args:
        reflector: What processes a conversation (a Runnable or function taking
            ``{"messages", "user_id"}``), e.g. a memory store manager.
        delay: The default seconds of quiet before a conversation is processed.
        store, durable, clock, and the rest: passed to :class:`~retain.ReflectionExecutor`.

    Example:
        >>> from retain import MemoryScheduler
        >>> from retain.clock import ManualClock
        >>> processed = []
        >>> scheduler = MemoryScheduler(
        ...     lambda inputs: processed.append((inputs["user_id"], len(inputs["messages"]))),
        ...     clock=ManualClock(),
        ... )
        >>> _ = scheduler.enqueue("will", "convo 1", [("user", "Hi, I'm Will")])
        >>> last = scheduler.enqueue("will", "convo 1", [("user", "Hi, I'm Will"),
        ...                                             ("user", "I build memory for AIs")])
        >>> scheduler.trigger(user_id="will")  # don't wait for the 60 s: process now
        1
        >>> last.result(timeout=5); processed
        [('will', 2)]
        >>> scheduler.shutdown()
    """

    def __init__(
        self,
        reflector: Reflector,
        *,
        delay: float = 60.0,
        store: BaseStore | None = None,
        durable: bool = False,
        **executor_kwargs: Any,
    ) -> None:
        self.delay = delay
        self.executor = ReflectionExecutor(
            reflector, store=store, durable=durable, **executor_kwargs
        )

    def enqueue(
        self,
        user_id: str,
        thread_id: str,
        messages: Sequence[Any],
        *,
        delay: float | None = None,
    ) -> Future[Any]:
        """Schedule this conversation in ``delay`` seconds, replacing its pending run."""
        if not user_id or not thread_id:
            raise InvalidInputError("enqueue needs a user_id and a thread_id.")
        return self.executor.submit(
            {"messages": list(messages), "user_id": user_id},
            {"configurable": {"user_id": user_id, "thread_id": thread_id}},
            after_seconds=self.delay if delay is None else delay,
            key=_key(user_id, thread_id),
        )

    enqueue_thread = enqueue
    """The notebook's name for :meth:`enqueue`."""

    def trigger(self, *, user_id: str | None = None, thread_id: str | None = None) -> int:
        """Process pending conversations now: a user's (one with ``thread_id``), or all
        with neither. Returns how many were pending."""
        if thread_id is not None and user_id is None:
            raise InvalidInputError("trigger(thread_id=...) needs the user_id too.")
        if user_id is None:
            return self.executor.trigger()
        prefix = _key(user_id, thread_id) if thread_id is not None else _user_prefix(user_id)
        return self.executor.trigger(key_prefix=prefix)

    aenqueue = not_blocking(enqueue)
    """:meth:`enqueue` for async code (it does not block on the work)."""
    atrigger = not_blocking(trigger)
    """:meth:`trigger` for async code."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """See :meth:`retain.ReflectionExecutor.shutdown`."""
        self.executor.shutdown(wait, cancel_futures=cancel_futures)

    def close(self) -> None:
        """See :meth:`retain.ReflectionExecutor.close`."""
        self.executor.close()
