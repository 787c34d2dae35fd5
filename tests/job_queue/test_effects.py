"""The write journal's replay rule alone, without a database: a re-run's write is skipped
when an earlier attempt recorded a not yet matched write to the same namespaces."""

from __future__ import annotations

from typing import Any

from retain.queue import Job
from retain.queue.effects import AttemptWrites, write_target
from retain.stores.hooks import write_replayed

JOB = Job(
    id=1, queue="q", key=None, payload={}, config={}, state="running", run_at=0, attempts=2,
    max_attempts=3,
)  # fmt: skip


class Store:
    def __init__(self, name: str) -> None:
        self.name = name


OURS, OTHER = Store("ours"), Store("other")


def write(writes: AttemptWrites, store: Any, *namespaces: str) -> tuple[bool, Any]:
    """What a store does: ask before writing; if it writes, what it records."""
    with writes.replaying():
        if write_replayed(store, namespaces):
            return True, None
        return False, writes.record(store)


def test_replay_matches_by_namespaces_and_numbers_new_writes_after_the_journal() -> None:
    a, b = write_target(frozenset({"memories.u1"})), write_target(frozenset({"profile.u1"}))
    writes = AttemptWrites(JOB, [(2, b), (1, a)], lambda store: store is OURS)
    assert write(writes, OURS, "memories.u1") == (True, None)
    assert write(writes, OURS, "other.u1") == (False, (3, '["other.u1"]'))
    assert write(writes, OTHER, "profile.u1") == (False, None)  # another database: not ours
    assert write(writes, OURS, "profile.u1") == (True, None)
    assert write(writes, OURS, "memories.u1") == (False, (4, '["memories.u1"]'))  # matched
    assert write(writes, OURS, "memories.u1", "profile.u1")[0] is False


def test_a_first_attempt_replays_nothing() -> None:
    writes = AttemptWrites(JOB, [], lambda store: True)
    assert [write(writes, OURS, "m")[1][0] for _ in range(3)] == [1, 2, 3]
