"""The debounce schedule, pure: which pending work is due, and what a newer submission
replaces. No threads, no clock of its own; the executor drives it.

Example:
    >>> from retain.background.schedule import DebounceSchedule
    >>> schedule = DebounceSchedule()
    >>> schedule.add("thread-1", "first", due=10.0)
    >>> schedule.add("thread-1", "second", due=12.0)  # replaces the pending "first"
    'first'
    >>> schedule.pop_due(11.0), schedule.next_due()
    ([], 12.0)
    >>> schedule.pop_due(12.0)
    ['second']
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["DebounceSchedule"]

T = TypeVar("T")


@dataclass(order=True)
class _Slot(Generic[T]):
    due: float
    seq: int
    key: Hashable = field(compare=False)
    item: T = field(compare=False)
    live: bool = field(default=True, compare=False)


class DebounceSchedule(Generic[T]):
    """Pending items by key: at most one per key, each with a due time."""

    def __init__(self) -> None:
        self._heap: list[_Slot[T]] = []
        self._by_key: dict[Hashable, _Slot[T]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, key: Hashable, item: T, *, due: float) -> T | None:
        """Schedule ``item`` for ``due``; returns the pending item it replaced, if any."""
        old = self._by_key.pop(key, None)
        if old is not None:
            old.live = False
        slot = _Slot(due, next(self._seq), key, item)
        self._by_key[key] = slot
        heapq.heappush(self._heap, slot)
        return None if old is None else old.item

    def next_due(self) -> float | None:
        """The earliest due time pending (``None`` when empty)."""
        while self._heap and not self._heap[0].live:
            heapq.heappop(self._heap)
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: float) -> list[T]:
        """Remove and return the items due at ``now``, earliest first."""
        out: list[T] = []
        while self._heap and (not self._heap[0].live or self._heap[0].due <= now):
            slot = heapq.heappop(self._heap)
            if slot.live:
                del self._by_key[slot.key]
                out.append(slot.item)
        return out

    def make_due(self, now: float, match: Callable[[Hashable], bool] | None = None) -> int:
        """Make the pending items whose key matches (all with ``None``) due at ``now``."""
        chosen = [s for k, s in self._by_key.items() if match is None or match(k)]
        for slot in chosen:
            if slot.due > now:
                slot.live = False
                fresh = _Slot(now, next(self._seq), slot.key, slot.item)
                self._by_key[slot.key] = fresh
                heapq.heappush(self._heap, fresh)
        return len(chosen)

    def pop_all(self) -> list[T]:
        """Remove and return every pending item."""
        out = [s.item for s in sorted(self._by_key.values())]
        self._by_key.clear()
        self._heap.clear()
        return out
