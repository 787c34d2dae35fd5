"""SQLiteQueue (real files) and PostgresQueue (the session's real server), one suite:
leases, acknowledgements, supersession, idempotency, retries and dead jobs, exactly-once
effects with a store on the same database. Back-end specifics at the end."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.store.base import PutOp

from retain.clock import ManualClock
from retain.errors import (
    ConfigurationError,
    InvalidInputError,
    LeaseLostError,
    QueueError,
    StoreError,
)
from retain.queue import JobQueue, PostgresQueue, QueueWorker, RetryPolicy, SQLiteQueue, open_queue
from retain.stores import PostgresStore, RetainStore, SQLiteStore
from tests.pg_server import PgServer

Queue = SQLiteQueue | PostgresQueue


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database of this test: a SQLite file path, or a fresh PostgreSQL database URL."""
    if request.param == "sqlite":
        return str(tmp_path / "memories.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def make_queue(db: str) -> Iterator[Callable[..., Queue]]:
    """Opens queues on ``db`` (closed after the test)."""
    opened: list[Queue] = []

    def make(**kwargs: Any) -> Queue:
        q: Queue = (
            PostgresQueue(db, **kwargs)
            if db.startswith("postgresql")
            else SQLiteQueue(db, **kwargs)
        )
        opened.append(q)
        return q

    yield make
    for q in opened:
        q.close()


@pytest.fixture
def make_store(db: str) -> Iterator[Callable[[], RetainStore]]:
    """Opens a retain store on ``db`` (closed after the test)."""
    opened: list[RetainStore] = []

    def make() -> RetainStore:
        s: RetainStore = PostgresStore(db) if db.startswith("postgresql") else SQLiteStore(db)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def queue(make_queue: Callable[..., Queue], clock: ManualClock) -> Queue:
    return make_queue(clock=clock, retry=RetryPolicy(max_attempts=3, base_delay=2.0))


def test_claim_lease_and_complete(queue: Queue, clock: ManualClock) -> None:
    job, superseded = queue.enqueue({"n": 1}, key="t1", delay=5)
    assert superseded == []
    assert job.state == "queued"
    assert queue.claim("w", lease_seconds=30) is None  # not due yet
    assert queue.next_due() == pytest.approx(clock.now() + 5)
    clock.advance(5)
    leased = queue.claim("w", lease_seconds=30)
    assert leased is not None
    assert leased.id == job.id
    assert leased.attempts == 1
    assert queue.claim("w2", lease_seconds=30) is None  # leased: nobody else gets it
    assert queue.complete(leased, {"ok": True})
    done = queue.get(job.id)
    assert done is not None
    assert done.state == "done"
    assert done.result == {"ok": True}
    assert queue.counts()["done"] == 1
    assert queue.next_due() is None


def test_newer_job_with_the_same_key_supersedes_the_queued_one(queue: Queue) -> None:
    first, _ = queue.enqueue({"v": 1}, key="user-1/t1", delay=10)
    other, _ = queue.enqueue({"v": 9}, key="user-2/t1", delay=10)
    second, superseded = queue.enqueue({"v": 2}, key="user-1/t1", delay=10)
    assert superseded == [first.id]
    assert queue.get(first.id).state == "superseded"  # type: ignore[union-attr]
    assert queue.get(other.id).state == "queued"  # type: ignore[union-attr]
    assert queue.get(second.id).state == "queued"  # type: ignore[union-attr]


def test_idempotency_key_returns_the_existing_job(queue: Queue) -> None:
    first, _ = queue.enqueue({"v": 1}, idempotency_key="conv-7")
    again, _ = queue.enqueue({"v": 2}, idempotency_key="conv-7")
    assert again.id == first.id
    assert again.payload == {"v": 1}
    assert sum(queue.counts().values()) == 1


def test_expired_lease_is_claimed_again(queue: Queue, clock: ManualClock) -> None:
    queue.enqueue({"v": 1})
    stalled = queue.claim("w1", lease_seconds=10)
    assert stalled is not None
    clock.advance(9)
    assert queue.claim("w2", lease_seconds=10) is None
    clock.advance(2)
    taken = queue.claim("w2", lease_seconds=10)
    assert taken is not None
    assert taken.id == stalled.id
    assert taken.attempts == 2
    assert not queue.complete(stalled)  # the stalled worker lost its lease
    assert queue.complete(taken)


def test_failures_back_off_then_die_with_their_errors(queue: Queue, clock: ManualClock) -> None:
    job, _ = queue.enqueue({"v": 1})
    start = clock.now()
    for attempt, delay in ((1, 2.0), (2, 4.0)):
        leased = queue.claim("w", lease_seconds=60)
        assert leased is not None
        assert leased.attempts == attempt
        failed = queue.fail(leased, f"boom {attempt}")
        assert failed.state == "queued"
        assert failed.run_at == pytest.approx(clock.now() + delay)
        assert queue.claim("w", lease_seconds=60) is None  # backing off
        clock.advance(delay)
    leased = queue.claim("w", lease_seconds=60)
    assert leased is not None
    dead = queue.fail(leased, "boom 3")
    assert dead.state == "dead"
    assert clock.now() - start == pytest.approx(6.0)
    assert [j.id for j in queue.jobs("dead")] == [job.id]
    assert dead.error is not None
    assert all(f"boom {n}" in dead.error for n in (1, 2, 3))
    again = queue.retry(job.id)
    assert again.state == "queued"
    assert again.attempts == 0
    with pytest.raises(InvalidInputError):
        queue.retry(job.id)  # no longer dead


def test_messages_round_trip_and_bad_payloads_store_nothing(queue: Queue) -> None:
    payload = {"messages": [HumanMessage("I like tea"), AIMessage("Noted"), ("user", "hi")]}
    job, _ = queue.enqueue(payload, config={"configurable": {"user_id": "u1", "__x": object()}})
    got = queue.get(job.id)
    assert got is not None
    assert isinstance(got.payload["messages"][0], HumanMessage)
    assert got.payload["messages"][1].content == "Noted"
    assert got.payload["messages"][2] == ["user", "hi"]
    assert got.config == {"configurable": {"user_id": "u1"}}
    with pytest.raises(InvalidInputError, match="set"):
        queue.enqueue({"bad": {1, 2}})
    with pytest.raises(InvalidInputError):
        queue.enqueue({"v": 1}, delay=-1)
    assert sum(queue.counts().values()) == 1


def test_jobs_survive_reopening_and_queues_are_separate(
    make_queue: Callable[..., Queue], clock: ManualClock
) -> None:
    a = make_queue(clock=clock)
    b = make_queue(name="other", clock=clock)
    a.enqueue({"v": 1})
    a.close()
    reopened = make_queue(clock=clock)
    assert reopened.counts()["queued"] == 1
    assert b.counts()["queued"] == 0
    assert b.claim("w", lease_seconds=5) is None


def test_a_job_killed_after_its_write_runs_again_and_the_write_is_not_repeated(
    make_store: Callable[[], RetainStore], queue: Queue, clock: ManualClock
) -> None:
    store = make_store()
    queue.enqueue({"text": "User likes tea"})
    calls = []

    def reflector(payload: dict[str, str], die: bool) -> None:
        calls.append(payload)
        store.put(("memories",), "m", {"content": f"{payload['text']} ({len(calls)})"})
        if die:
            raise KeyboardInterrupt  # stands in for the process dying right after the write

    leased = queue.claim("w1", lease_seconds=10)
    assert leased is not None
    with pytest.raises(KeyboardInterrupt), queue.effects_of(leased):
        reflector(leased.payload, die=True)
    clock.advance(11)  # the dead worker's lease runs out: the job is not known to be over
    again = queue.claim("w2", lease_seconds=10)
    assert again is not None
    assert (again.id, again.attempts) == (leased.id, 2)
    with queue.effects_of(again):
        reflector(again.payload, die=False)  # the same write: replayed, not made again
    assert queue.complete(again)
    assert len(calls) == 2
    [version] = store.history(("memories",), "m")  # type: ignore[attr-defined]
    assert version.value["content"] == "User likes tea (1)"
    assert version.provenance.get("job_id") is None  # written outside run_job here


def _two_batches(store: RetainStore, dies_between: Callable[[], bool]) -> Callable[..., str]:
    """A reflector that writes twice (like the learning machine: facts, then a profile),
    each write its own batch, and may die or fail between them."""

    def reflector(payload: dict[str, str]) -> str:
        store.put(("memories", payload["user"]), "fact", {"content": payload["fact"]})
        if dies_between():
            raise RuntimeError("model unavailable after the first write")
        store.batch(
            [
                PutOp(("profiles", payload["user"]), "profile", {"name": payload["user"]}),
                PutOp(("profiles", payload["user"]), "seen", {"n": 1}),
            ]
        )
        return "ok"

    return reflector


def test_a_job_that_dies_between_two_writes_applies_both_exactly_once(
    make_store: Callable[[], RetainStore], queue: Queue, clock: ManualClock
) -> None:
    """Before: the job was marked done when its lease ran out, with only the first write."""
    store = make_store()
    job, _ = queue.enqueue({"user": "u1", "fact": "User likes tea"})
    crash = [True]

    def dies_between() -> bool:
        if crash[0]:
            crash[0] = False
            raise KeyboardInterrupt  # the worker process dies between the two writes
        return False

    reflector = _two_batches(store, dies_between)
    leased = queue.claim("w1", lease_seconds=10)
    assert leased is not None
    with pytest.raises(KeyboardInterrupt), queue.effects_of(leased):
        reflector(leased.payload)
    assert store.get(("profiles", "u1"), "profile") is None
    clock.advance(11)
    outcome = QueueWorker(queue, reflector, clock=clock, lease_seconds=10).run_once()
    assert outcome is not None
    assert (outcome.status, outcome.job.id, outcome.job.attempts) == ("done", job.id, 2)
    for namespace, key in ((("memories", "u1"), "fact"), (("profiles", "u1"), "profile")):
        assert len(store.history(namespace, key)) == 1  # type: ignore[attr-defined]
    assert store.get(("profiles", "u1"), "seen") is not None
    assert queue.claim("w3", lease_seconds=10) is None


def test_a_job_that_fails_between_two_writes_is_retried_and_applies_both_once(
    make_store: Callable[[], RetainStore], queue: Queue, clock: ManualClock
) -> None:
    """Before: a job that raised after its first write committed was dead, not retried."""
    store = make_store()
    queue.enqueue({"user": "u1", "fact": "User likes tea"})
    failures = iter([True])
    reflector = _two_batches(store, lambda: next(failures, False))
    worker = QueueWorker(queue, reflector, clock=clock, lease_seconds=10)
    first = worker.run_once()
    assert first is not None
    assert first.status == "retry"
    assert "model unavailable" in (first.job.error or "")
    clock.advance(60)
    second = worker.run_once()
    assert second is not None
    assert (second.status, second.result, second.job.attempts) == ("done", "ok", 2)
    history = store.history(("memories", "u1"), "fact")  # type: ignore[attr-defined]
    assert len(history) == 1
    assert history[0].provenance["job_id"] == first.job.id
    assert len(store.history(("profiles", "u1"), "profile")) == 1  # type: ignore[attr-defined]


def test_two_store_managers_in_one_job_failing_between_them_apply_each_once(
    make_store: Callable[[], RetainStore], queue: Queue, clock: ManualClock
) -> None:
    """The learning machine's shape: facts, then a profile, each by a store manager; the
    profile model fails once. Before: the job was dead with the facts only."""
    from retain import create_memory_store_manager
    from retain.testing import FakeChatModel, insert

    store = make_store()
    facts = create_memory_store_manager(
        FakeChatModel(lambda call: [insert("User likes tea")]),
        namespace=("memories", "{user_id}"),
        store=store,
    )
    profile_calls: list[Any] = []

    def profile_model(call: Any) -> Any:
        profile_calls.append(call)
        if len(profile_calls) == 1:
            raise ConnectionError("profile model unavailable")
        return [insert("Name: Ada")]

    profile = create_memory_store_manager(
        FakeChatModel(profile_model), namespace=("profile", "{user_id}"), store=store
    )

    def reflector(payload: dict[str, Any], config: dict[str, Any]) -> None:
        facts.invoke(payload, config)
        profile.invoke(payload, config)

    queue.enqueue(
        {"messages": [["user", "I like tea. I'm Ada."]]},
        config={"configurable": {"user_id": "u1"}},
    )
    worker = QueueWorker(queue, reflector, clock=clock, lease_seconds=30)
    assert worker.run_once().status == "retry"  # type: ignore[union-attr]
    clock.advance(60)
    assert worker.run_once().status == "done"  # type: ignore[union-attr]
    [fact] = store.search(("memories", "u1"))
    assert fact.value["content"]["content"] == "User likes tea"
    assert len(store.history(("memories", "u1"), fact.key)) == 1  # type: ignore[attr-defined]
    [name] = store.search(("profile", "u1"))
    assert name.value["content"]["content"] == "Name: Ada"


def test_a_rerun_that_writes_differently_still_makes_the_writes_it_had_not_reached(
    make_store: Callable[[], RetainStore], queue: Queue, clock: ManualClock
) -> None:
    """A real model may answer differently the second time: here the re-run has no new fact
    (the first attempt's fact is there already) and goes straight to the profile. Matching
    writes by position alone would take the profile for the first attempt's fact write and
    skip it; matching by namespaces makes it."""
    store = make_store()
    queue.enqueue({"user": "u1"})
    attempts: list[int] = []

    def reflector(payload: dict[str, str]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            store.put(("memories", "u1"), "fact", {"content": "User likes tea"})
            raise RuntimeError("profile model unavailable")
        store.put(("profiles", "u1"), "profile", {"name": "Ada"})  # no fact this time
        store.put(("memories", "u1"), "fact2", {"content": "User likes green tea"})

    worker = QueueWorker(queue, reflector, clock=clock, lease_seconds=10)
    assert worker.run_once().status == "retry"  # type: ignore[union-attr]
    clock.advance(60)
    assert worker.run_once().status == "done"  # type: ignore[union-attr]
    assert store.get(("profiles", "u1"), "profile") is not None
    # the second attempt's write to the fact namespace stands in for the first one's
    assert store.get(("memories", "u1"), "fact") is not None
    assert store.get(("memories", "u1"), "fact2") is None


def test_a_dead_job_with_committed_writes_can_be_retried_and_replays_them(
    make_store: Callable[[], RetainStore], make_queue: Callable[..., Queue], clock: ManualClock
) -> None:
    store = make_store()
    queue = make_queue(clock=clock, retry=RetryPolicy(max_attempts=1))
    job, _ = queue.enqueue({"user": "u1", "fact": "User likes tea"})
    failures = iter([True])
    worker = QueueWorker(
        queue, _two_batches(store, lambda: next(failures, False)), clock=clock, lease_seconds=10
    )
    assert worker.run_once().status == "dead"  # type: ignore[union-attr]
    queue.retry(job.id)
    assert worker.run_once().status == "done"  # type: ignore[union-attr]
    assert len(store.history(("memories", "u1"), "fact")) == 1  # type: ignore[attr-defined]
    assert len(store.history(("profiles", "u1"), "profile")) == 1  # type: ignore[attr-defined]


def test_a_worker_that_lost_its_lease_writes_nothing(
    make_store: Callable[[], RetainStore], queue: Queue, clock: ManualClock
) -> None:
    store = make_store()
    queue.enqueue({"v": 1})
    slow = queue.claim("slow", lease_seconds=10)
    assert slow is not None
    clock.advance(11)
    fast = queue.claim("fast", lease_seconds=10)
    assert fast is not None
    with pytest.raises(LeaseLostError), queue.effects_of(slow):
        store.put(("memories",), "late", {"content": "written by the slow worker"})
    assert store.get(("memories",), "late") is None  # rolled back
    with queue.effects_of(fast):
        store.put(("memories",), "ok", {"content": "written by the lease holder"})
    assert queue.complete(fast)
    assert [i.key for i in store.search(("memories",))] == ["ok"]
    assert isinstance(LeaseLostError("x"), StoreError)


def test_worker_runs_jobs_and_records_failures(queue: Queue, clock: ManualClock) -> None:
    def reflector(payload: dict[str, int]) -> int:
        if payload["n"] % 2:
            raise ValueError(f"odd {payload['n']}")
        return payload["n"] * 10

    for n in range(4):
        queue.enqueue({"n": n})
    worker = QueueWorker(queue, reflector, clock=clock, lease_seconds=30)
    outcomes = [worker.run_once() for _ in range(4)]
    assert [o.status for o in outcomes if o] == ["done", "retry", "done", "retry"]
    assert [o.result for o in outcomes if o and o.status == "done"] == [0, 20]
    clock.advance(10)
    while worker.run_once():
        clock.advance(10)
    dead = queue.jobs("dead")
    assert [j.payload["n"] for j in dead] == [1, 3]
    assert all(j.attempts == 3 and "odd" in (j.error or "") for j in dead)
    assert queue.counts()["done"] == 2


def test_a_running_job_keeps_its_lease_beyond_lease_seconds(
    make_queue: Callable[..., Queue], clock: ManualClock
) -> None:
    """On the manual clock: no sleeping, and the renewals are exact."""
    queue, rival = make_queue(clock=clock), make_queue(clock=clock)  # rival: another worker
    queue.enqueue({"n": 1})
    seen: list[Any] = []

    def slow(payload: dict[str, int]) -> int:
        start = clock.now()
        for _ in range(10):  # 2.5 s: over four leases of 0.6 s, renewed every 0.2 s
            clock.advance(0.25)  # returns once the renewal due by then is made
            seen.append(rival.claim("rival", lease_seconds=10))
        [running] = queue.jobs("running")
        assert running.leased_until == pytest.approx(start + 2.5 + 0.6)
        return payload["n"]

    outcome = QueueWorker(queue, slow, lease_seconds=0.6, clock=clock).run_once()
    assert seen == [None] * 10  # nobody could take the running job over
    assert outcome is not None
    assert outcome.status == "done"
    [job] = queue.jobs("done")
    assert job.attempts == 1


def test_without_renewal_a_job_past_its_lease_is_taken_over(
    make_queue: Callable[..., Queue], clock: ManualClock
) -> None:
    """The check above can fail: the same run with no renewal loses the job."""
    queue, rival = make_queue(clock=clock), make_queue(clock=clock)
    queue.enqueue({"n": 1})
    job = queue.claim("w", lease_seconds=0.6)
    assert job is not None
    clock.advance(0.7)
    taken = rival.claim("rival", lease_seconds=10)
    assert taken is not None
    assert taken.id == job.id


def test_a_worker_waits_on_its_clock_for_the_next_due_job(
    make_queue: Callable[..., Queue], clock: ManualClock
) -> None:
    import threading

    queue = make_queue(clock=clock)
    ran: list[int] = []
    worker = QueueWorker(
        queue, lambda payload: ran.append(payload["n"]), clock=clock, poll_interval=3600
    )
    queue.enqueue({"n": 1}, delay=30)
    thread = threading.Thread(target=worker.run, kwargs={"until_idle": True})
    thread.start()
    try:
        assert clock.wait_for_waiters(1), "the worker never waited on its clock"
        clock.advance(29)  # returns once the worker has looked at the time and waits again
        assert ran == []
        clock.advance(1)
        thread.join(10)
        assert not thread.is_alive()
        assert ran == [1]
    finally:
        worker.stop()
        thread.join(10)


# -- back-end specifics ----------------------------------------------------------------------


def test_memory_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="file"):
        SQLiteQueue(":memory:")
    with pytest.raises(ConfigurationError):
        SQLiteQueue.for_store(SQLiteStore(":memory:"))


def test_database_errors_are_store_errors(tmp_path: Path, clock: ManualClock) -> None:
    db = tmp_path / "memories.db"
    queue = SQLiteQueue(db, clock=clock)
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE retain_jobs")
    conn.close()
    with pytest.raises(StoreError, match="retain_jobs"):
        queue.enqueue({"v": 1})


def test_open_queue_uses_the_stores_own_database(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    queue = open_queue(store)
    assert isinstance(queue, SQLiteQueue)
    assert isinstance(queue, JobQueue)
    with pytest.raises(ConfigurationError, match="PostgresStore"):
        open_queue(object())


@pytest.mark.postgres
def test_open_queue_on_a_postgres_store(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    queue = open_queue(store)
    assert isinstance(queue, PostgresQueue)
    assert isinstance(queue, JobQueue)
    assert repr(queue).startswith("PostgresQueue(")
    queue.close()
    store.close()


@pytest.mark.postgres
def test_claim_skips_a_row_another_transaction_holds(pg_url: str, clock: ManualClock) -> None:
    import threading

    import psycopg

    queue = PostgresQueue(pg_url, clock=clock)
    first, _ = queue.enqueue({"v": 1})
    second, _ = queue.enqueue({"v": 2})
    with psycopg.connect(pg_url) as other:  # a transaction holding the first job's row
        other.execute("SELECT id FROM retain_jobs WHERE id = %s FOR UPDATE", (first.id,))
        got: list[Any] = []
        claimer = threading.Thread(target=lambda: got.append(queue.claim("w", lease_seconds=9)))
        claimer.start()
        claimer.join(10)
        assert not claimer.is_alive(), "claim waited on a locked row (no SKIP LOCKED)"
        other.rollback()
    assert [j.id for j in got] == [second.id]
    queue.close()


@pytest.mark.postgres
def test_concurrent_claimers_never_share_a_job(pg_url: str) -> None:
    import threading

    queues = [PostgresQueue(pg_url, pool_size=2) for _ in range(2)]
    for n in range(200):
        queues[0].enqueue({"n": n})
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(q: PostgresQueue, name: str) -> None:
        while (job := q.claim(name, lease_seconds=60)) is not None:
            with lock:
                claimed.append(job.id)
            assert q.complete(job)

    threads = [threading.Thread(target=claimer, args=(queues[i % 2], f"w{i}")) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(claimed) == 200
    assert len(set(claimed)) == 200
    assert queues[1].counts()["done"] == 200
    for q in queues:
        q.close()


@pytest.mark.postgres
def test_async_store_writes_stamp_the_job_with_small_pools(pg_url: str, clock: ManualClock) -> None:
    """The hang a first attempt had: async writes stamped with a job id while pool
    connections are scarce. Each write stamps the job on its own connection."""
    import asyncio

    store = PostgresStore(pg_url, pool_size=1)
    async_store = PostgresStore(pg_url, pool_size=1)
    queue = PostgresQueue(pg_url, clock=clock, pool_size=1)
    queue.enqueue({"v": 1})
    leased = queue.claim("w", lease_seconds=30)
    assert leased is not None

    async def writes() -> None:
        await asyncio.gather(
            *(async_store.aput(("memories",), f"k{i}", {"content": f"fact {i}"}) for i in range(3))
        )
        await async_store.aclose()  # inside the loop (see tests/conftest.py)

    with queue.effects_of(leased):
        assert queue.counts()["running"] == 1  # the queue's one connection is free meanwhile
        asyncio.run(writes())
        store.put(("memories",), "sync", {"content": "a sync write too"})
    stamped = queue.get(leased.id)
    assert stamped is not None
    assert stamped.extra["effect_at"] is not None
    assert queue.complete(leased)
    assert len(store.search(("memories",))) == 4
    store.close()
    queue.close()


@pytest.mark.postgres
def test_postgres_errors_are_queue_errors(
    pg_server: PgServer, pg_database: str, pg_url: str
) -> None:
    queue = PostgresQueue(pg_url)
    pg_server.sql(pg_database, "DROP TABLE retain_jobs CASCADE")
    with pytest.raises(QueueError, match="retain_jobs"):
        queue.enqueue({"v": 1})
    queue.close()
    with pytest.raises(QueueError, match="closed"):
        queue.counts()
    with pytest.raises(QueueError, match="Cannot open the job queue"):
        PostgresQueue("postgresql://nobody:secret@127.0.0.1:1/none", connect_timeout=1)
    with pytest.raises(ConfigurationError):
        PostgresQueue.for_store(SQLiteStore(":memory:"))


def test_postgres_queue_names_the_extra_when_psycopg_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib
    import sys

    from retain.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "retain.queue.postgres")
    with pytest.raises(MissingDependencyError, match=r"pip install 'retain\[postgres\]'"):
        importlib.import_module("retain.queue.postgres")
    monkeypatch.undo()
    importlib.import_module("retain.queue.postgres")


# -- purge -----------------------------------------------------------------------------------


def _raw(db: str, query: str) -> list[tuple[Any, ...]]:
    """``query`` on the test's database, read past retain (SQLite file or PostgreSQL)."""
    if db.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db) as conn:
            return conn.execute(query).fetchall()
    conn = sqlite3.connect(db)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def test_purge_deletes_the_jobs_that_carry_the_purged_users_text(
    db: str, make_store: Callable[[], RetainStore], queue: Queue
) -> None:
    """Before: ``purge`` left the conversation (payload) and the memories made from it
    (result) in ``retain_jobs``."""
    from retain.executor import debounce_key

    store = make_store()
    secret = "Alice's diagnosis is confidential"
    alice = ("memories", "alice")

    def job_of(namespace: tuple[str, ...], thread: str | None, delay: float = 0.0) -> Any:
        key = debounce_key(namespace, thread, None)
        return queue.enqueue({"messages": [["user", secret]]}, key=key, delay=delay)[0]

    done = job_of(alice, "t1")
    leased = queue.claim("w", lease_seconds=60)
    assert leased is not None
    with queue.effects_of(leased):
        store.put(alice, "m1", {"content": secret})
    assert queue.complete(leased, {"memories": [secret]})
    job_of(alice, "t2")
    running = queue.claim("w", lease_seconds=60)
    assert running is not None
    waiting = job_of((*alice, "work"), None, delay=100)
    bob = job_of(("memories", "bob"), "t1", delay=100)
    other, _ = queue.enqueue({"v": 1}, key="my-own-key", delay=100)
    alicia = job_of(("memories", "alicia"), "t1", delay=100)

    assert store.purge(alice) == 1  # type: ignore[attr-defined]

    assert [queue.get(j.id) for j in (done, running, waiting)] == [None, None, None]
    assert {j.id for j in queue.jobs()} == {bob.id, other.id, alicia.id}
    left = _raw(db, "SELECT payload, COALESCE(result, '') FROM retain_jobs")
    assert sum(secret in payload + result for payload, result in left) == 2  # bob, alicia
    assert _raw(db, "SELECT COUNT(*) FROM retain_job_effects") == [(0,)]
    # the worker still running a purged job cannot write the user back
    with pytest.raises(LeaseLostError), queue.effects_of(running):
        store.put(alice, "late", {"content": secret})
    assert store.get(alice, "late") is None
    assert not queue.complete(running)


@pytest.mark.parametrize("thread", ["t1", None, '["x"]'])
@pytest.mark.parametrize("namespace", [("memories", "alice"), ("a.b", "[[c]]", ""), ("solo",)])
def test_purge_reads_the_namespace_from_the_executors_job_keys(
    namespace: tuple[str, ...], thread: str | None
) -> None:
    """``purge`` finds a job's namespace in the key ``ReflectionExecutor`` gives it: if that
    key's format changes, this fails (and purge would keep the user's jobs)."""
    from retain.executor import debounce_key
    from retain.stores.hooks import job_namespace

    assert job_namespace(debounce_key(namespace, thread, None)) == namespace
    assert job_namespace(debounce_key(None, thread, None)) is None
    assert job_namespace("[[not json") is None
