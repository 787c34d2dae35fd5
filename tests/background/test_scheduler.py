"""The seed notebook's flow: enqueue a thread's messages after each turn, trigger to
process now; the reflector keeps a user profile in the store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore

from retain import MemoryScheduler
from retain.clock import ManualClock
from retain.errors import InvalidInputError
from retain.stores import SQLiteStore


class ProfileChain:
    """Stands in for the notebook's mem_chain: overwrites the user's profile."""

    def __init__(self, store: BaseStore) -> None:
        self.store = store
        self.calls: list[dict[str, Any]] = []

    def __call__(self, inputs: dict[str, Any]) -> str:
        self.calls.append(inputs)
        said = [m[1] if isinstance(m, (list, tuple)) else m.content for m in inputs["messages"]]
        self.store.put(("profiles",), inputs["user_id"], {"core_memories": said})
        return f"Successfully committed for user {inputs['user_id']}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_quick_turns_consolidate_once_when_triggered(tmp_path: Path, clock: ManualClock) -> None:
    store = SQLiteStore(tmp_path / "memories.db")
    chain = ProfileChain(store)
    scheduler = MemoryScheduler(chain, clock=clock)
    history: list[tuple[str, str]] = []
    futures = []
    for text in ["Hi there, I'm will", "Sorry Im testing something!", "I'm building memory"]:
        history.append(("user", text))
        futures.append(scheduler.enqueue("will", "convo 1", list(history), delay=60))
        clock.advance(5)  # quick turns: never 60 s of quiet
    other = scheduler.enqueue("ann", "convo 9", [("user", "I'm Ann")], delay=60)
    assert chain.calls == []
    assert scheduler.trigger(user_id="will") == 1
    assert futures[-1].result(timeout=5) == "Successfully committed for user will"
    assert all(f.cancelled() for f in futures[:-1])
    profile = store.get(("profiles",), "will")
    assert profile is not None
    assert profile.value["core_memories"] == [t for _, t in history]
    assert len(chain.calls) == 1
    assert not other.done()  # another user's timer is untouched
    clock.advance(60)
    other.result(timeout=5)
    scheduler.shutdown()


def test_trigger_one_thread_leaves_the_users_other_threads(clock: ManualClock) -> None:
    ran: list[str] = []
    scheduler = MemoryScheduler(lambda inputs: ran.append(inputs["messages"][0][1]), clock=clock)
    a = scheduler.enqueue("will", "convo 1", [("user", "one")])
    b = scheduler.enqueue("will", "convo 2", [("user", "two")])
    c = scheduler.enqueue("will2", "convo 1", [("user", "other user")])
    assert scheduler.trigger(user_id="will", thread_id="convo 2") == 1
    b.result(timeout=5)
    assert not a.done()
    assert not c.done()
    assert scheduler.trigger(user_id="will") == 1  # "will2" does not match "will"
    a.result(timeout=5)
    assert not c.done()
    with pytest.raises(InvalidInputError):
        scheduler.trigger(thread_id="convo 1")
    scheduler.shutdown(cancel_futures=True)
    assert c.cancelled()
    assert ran == ["two", "one"]


async def test_async_calls_like_the_notebook(clock: ManualClock) -> None:
    ran: list[str] = []
    scheduler = MemoryScheduler(lambda inputs: ran.append(inputs["user_id"]), clock=clock)
    future = await scheduler.aenqueue("will", "convo 1", [("user", "hi")], delay=60)
    assert await scheduler.atrigger(user_id="will") == 1
    future.result(timeout=5)
    scheduler.shutdown()
    assert ran == ["will"]


def test_durable_conversations_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    db = tmp_path / "memories.db"
    first_store = SQLiteStore(db)
    first = MemoryScheduler(ProfileChain(first_store), store=first_store, durable=True, clock=clock)
    first.enqueue("will", "convo 1", [("user", "I'm Will")], delay=600)
    first.shutdown()
    first_store.close()

    store = SQLiteStore(db)
    chain = ProfileChain(store)
    second = MemoryScheduler(chain, store=store, durable=True, clock=clock)
    assert second.trigger(user_id="will") == 1
    give_up = time.monotonic() + 10
    while store.get(("profiles",), "will") is None:
        assert time.monotonic() < give_up
        clock.advance(0.1)
        time.sleep(0.01)
    second.shutdown()
    assert len(chain.calls) == 1
    assert chain.calls[0]["messages"] == [["user", "I'm Will"]]
