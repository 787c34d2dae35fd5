"""ReflectionExecutor in durable mode: the queue lives in the store's own database, a
SQLite file or PostgreSQL (the session's real server); each test runs on both."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from retain import ReflectionExecutor, create_memory_store_manager
from retain.clock import ManualClock
from retain.errors import ExecutorShutdownError, ModelOutputError, QueueError
from retain.queue import PostgresQueue, RetryPolicy, SQLiteQueue, open_queue
from retain.stores import PostgresStore, RetainStore, SQLiteStore
from retain.testing import FakeChatModel, insert

NAMESPACE = ("memories", "{user_id}")


def conv(n: int) -> dict[str, Any]:
    return {"messages": [("user", f"conv-{n}: I like item {n}")]}


def config(n: int, user: str = "u1") -> dict[str, Any]:
    return {"configurable": {"user_id": user, "thread_id": f"t{n}"}}


def remember(call: Any) -> Any:
    n = re.findall(r"conv-(\d+)", call.text)[-1]
    return [insert(f"User likes item {n}")]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Opens a store on this test's database (a SQLite file, or a fresh PostgreSQL one)."""
    db = (
        str(tmp_path / "memories.db")
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    opened: list[RetainStore] = []

    def make() -> RetainStore:
        s: RetainStore = PostgresStore(db) if db.startswith("postgresql") else SQLiteStore(db)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store: Callable[[], RetainStore]) -> RetainStore:
    return open_store()


_EXECUTORS: list[ReflectionExecutor] = []


@pytest.fixture(autouse=True)
def _close_queues() -> Iterator[None]:
    """Close the queues the test's executors opened (PostgreSQL: their pools)."""
    yield
    while _EXECUTORS:
        _EXECUTORS.pop().close()


def durable(
    store: RetainStore, clock: ManualClock, reply: Callable[[Any], Any] = remember, **kw: Any
) -> ReflectionExecutor:
    manager = create_memory_store_manager(FakeChatModel(reply), namespace=NAMESPACE)
    executor = ReflectionExecutor(manager, store=store, durable=True, clock=clock, **kw)
    _EXECUTORS.append(executor)
    return executor


def contents(store: RetainStore, user: str = "u1") -> list[str]:
    items = store.search(("memories", user), limit=1000)
    return sorted(i.value["content"]["content"] for i in items)


def settle(clock: ManualClock, futures: list[Future[Any]], step: float = 1.0) -> None:
    """Advance time until every future is done (retries wait on the clock)."""
    give_up = time.monotonic() + 20
    while not all(f.done() for f in futures):
        assert time.monotonic() < give_up, "jobs did not finish"
        clock.advance(step)
        time.sleep(0.005)


def test_a_job_runs_writes_its_memory_once_and_is_recorded(
    store: RetainStore, clock: ManualClock
) -> None:
    executor = durable(store, clock)
    future = executor.submit(conv(1), config(1))
    written = future.result(timeout=5)
    executor.shutdown()
    assert [w["value"]["content"]["content"] for w in written] == ["User likes item 1"]
    expected = PostgresQueue if isinstance(store, PostgresStore) else SQLiteQueue
    assert isinstance(executor.queue, expected)  # the queue lives in the store's database
    [job] = executor.queue.jobs("done")
    item = store.search(("memories", "u1"))[0]
    [version] = store.history(("memories", "u1"), item.key)
    assert version.provenance["job_id"] == job.id
    assert version.provenance["thread_id"] == "t1"


def test_a_queued_job_records_when_the_conversation_was_said(store: RetainStore) -> None:
    t0 = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)
    clock = ManualClock(start=t0.timestamp())
    manager = create_memory_store_manager(FakeChatModel(remember), namespace=NAMESPACE, clock=clock)
    executor = ReflectionExecutor(manager, store=store, durable=True, clock=clock)
    _EXECUTORS.append(executor)
    future = executor.submit(conv(1), config(1), after_seconds=600)
    [job] = executor.queue.jobs("queued")  # type: ignore[union-attr]
    assert job.payload["said_at"] == t0.isoformat()  # persisted as ISO 8601
    clock.advance(600)
    [written] = future.result(timeout=5)
    executor.shutdown()
    assert written["value"]["said_at"] == "2026-12-07T09:30:00+00:00"  # t0, not the run time


def test_durable_debounce_supersedes_the_queued_job(store: RetainStore, clock: ManualClock) -> None:
    executor = durable(store, clock)
    first = executor.submit(conv(1), config(7), after_seconds=3)
    clock.advance(2)
    second = executor.submit(conv(2), config(7), after_seconds=3)
    assert first.cancelled()
    clock.advance(3)
    second.result(timeout=5)
    executor.shutdown()
    assert executor.queue is not None
    assert executor.queue.counts()["superseded"] == 1
    assert contents(store) == ["User likes item 2"]


def test_idempotent_resubmission_adds_no_job(store: RetainStore, clock: ManualClock) -> None:
    executor = durable(store, clock)
    a = executor.submit(conv(1), config(1), after_seconds=5, idempotency_key="conv-1")
    b = executor.submit(conv(1), config(1), after_seconds=5, idempotency_key="conv-1")
    assert a is b
    clock.advance(5)
    a.result(timeout=5)
    c = executor.submit(conv(1), config(1), idempotency_key="conv-1")  # already done
    assert c.result(timeout=0)[0]["key"] == a.result()[0]["key"]  # from the stored result
    executor.shutdown()
    assert contents(store) == ["User likes item 1"]


def test_cancelling_a_future_cancels_the_job(store: RetainStore, clock: ManualClock) -> None:
    executor = durable(store, clock)
    future = executor.submit(conv(1), config(1), after_seconds=60)
    assert future.cancel()
    clock.advance(61)
    executor.shutdown()
    assert executor.queue is not None
    assert executor.queue.counts()["cancelled"] == 1
    assert contents(store) == []


def test_pending_jobs_survive_a_restart_and_run_once(
    open_store: Callable[[], RetainStore], clock: ManualClock
) -> None:
    first_store = open_store()
    first = durable(first_store, clock)
    future = first.submit(conv(5), config(5), after_seconds=60)
    first.shutdown(wait=True)  # the process "ends" before the job is due
    with pytest.raises(ExecutorShutdownError, match="stays queued"):
        future.result(timeout=0)
    first_store.close()

    store = open_store()
    second = durable(store, clock)
    assert second.pending() == 1
    clock.advance(60)
    give_up = time.monotonic() + 10
    while second.pending() and time.monotonic() < give_up:
        time.sleep(0.01)
    second.shutdown()
    assert contents(store) == ["User likes item 5"]


def test_failing_jobs_are_retried_then_dead_and_the_rest_are_unaffected(
    store: RetainStore, clock: ManualClock
) -> None:
    attempts: dict[int, int] = {}

    def reply(call: Any) -> Any:
        n = int(re.findall(r"conv-(\d+)", call.text)[-1])
        attempts[n] = attempts.get(n, 0) + 1
        if n in (3, 6):
            return RuntimeError(f"model unavailable for conv-{n}")
        if n == 8:
            return "not a memory operation at all"  # invalid output, every repair too
        if n == 9 and attempts[n] == 1:
            return TimeoutError("flaky once")
        return remember(call)

    executor = durable(
        store, clock, reply, retry=RetryPolicy(max_attempts=3, base_delay=1.0, factor=2.0)
    )
    futures = [executor.submit(conv(n), config(n)) for n in range(10)]
    settle(clock, futures)
    executor.shutdown()
    failed = {3, 6, 8}
    for n, f in enumerate(futures):
        if n in failed:
            assert f.exception() is not None
        else:
            assert len(f.result()) == 1
    assert isinstance(futures[8].exception(), ModelOutputError)
    dead = executor.failed_jobs()
    assert sorted(int(j.config["configurable"]["thread_id"][1:]) for j in dead) == [3, 6, 8]
    assert all(j.attempts == 3 for j in dead)
    assert "model unavailable" in (dead[0].error or "")
    assert contents(store) == sorted(f"User likes item {n}" for n in range(10) if n not in failed)
    assert attempts[9] == 2  # retried once, then fine, written once
    assert executor.queue is not None
    assert executor.queue.counts()["done"] == 7


@pytest.mark.slow
def test_a_durable_script_exits_by_itself_and_keeps_pending_work(tmp_path: Path) -> None:
    db = tmp_path / "memories.db"
    script = textwrap.dedent(
        f"""
        from retain import ReflectionExecutor
        from retain.stores import SQLiteStore

        store = SQLiteStore({str(db)!r})
        executor = ReflectionExecutor(lambda p: p, store=store, durable=True)
        executor.submit({{"n": 1}}, thread_id="t", after_seconds=0).result(timeout=10)
        executor.submit({{"n": 2}}, thread_id="t2", after_seconds=3600)
        print("main done")
        """
    )
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 30
    queue = SQLiteQueue(db)
    assert [j.payload for j in queue.jobs("done")] == [{"n": 1}]
    assert [j.payload for j in queue.jobs("queued")] == [{"n": 2}]  # kept for a later worker


def test_close_closes_the_queue_it_opened_and_keeps_pending_work(
    open_store: Callable[[], RetainStore], clock: ManualClock
) -> None:
    store = open_store()
    with durable(store, clock) as executor:
        done = executor.submit(conv(1), config(1))
        done.result(timeout=5)
        later = executor.submit(conv(2), config(2), after_seconds=60)
    with pytest.raises(ExecutorShutdownError, match="stays queued"):
        later.result(timeout=0)
    for read in (executor.pending, executor.failed_jobs, executor.trigger):
        with pytest.raises(ExecutorShutdownError, match="after close"):
            read()
    assert executor.queue is not None
    with pytest.raises(QueueError, match="closed"):  # its connections are released
        executor.queue.counts()
    executor.close()  # again: nothing happens
    reopened = durable(open_store(), clock)
    assert reopened.pending() == 1  # the queued job survived the close


def test_close_leaves_a_queue_passed_in_open(store: RetainStore, clock: ManualClock) -> None:
    queue = open_queue(store, clock=clock.now)
    manager = create_memory_store_manager(FakeChatModel(remember), namespace=NAMESPACE)
    executor = ReflectionExecutor(manager, store=store, queue=queue, clock=clock)
    executor.submit(conv(1), config(1)).result(timeout=5)
    executor.close()
    assert executor.failed_jobs() == []  # the caller's queue: still readable
    assert queue.counts()["done"] == 1
    queue.close()


def test_a_running_jobs_lease_is_renewed_on_the_executors_clock(
    store: RetainStore, clock: ManualClock
) -> None:
    started, finish = threading.Event(), threading.Event()

    def slow(payload: Any) -> str:
        started.set()
        assert finish.wait(timeout=10)
        return "done"

    executor = ReflectionExecutor(
        slow, store=store, durable=True, clock=clock, lease_seconds=30.0, max_workers=1
    )
    _EXECUTORS.append(executor)
    assert executor.queue is not None
    future = executor.submit({"n": 1})
    assert started.wait(timeout=10)
    [job] = executor.queue.jobs("running")
    assert job.leased_until == clock.now() + 30.0
    # the scheduler and the lease heartbeat both wait on the manual clock: no real time passes
    assert clock.wait_for_waiters(2)
    clock.advance(11.0)  # past a third of the lease: the heartbeat renews it
    renewed = executor.queue.get(job.id)
    assert renewed is not None
    assert renewed.leased_until == clock.now() + 30.0
    finish.set()
    assert future.result(timeout=10) == "done"
