"""ReflectionExecutor in local (in-memory) mode: debounce, timing, futures, shutdown."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from retain import ReflectionExecutor, create_memory_manager, create_memory_store_manager
from retain.clock import ManualClock
from retain.errors import ConfigurationError, ExecutorShutdownError, InvalidInputError
from retain.testing import FakeChatModel, insert


class Recorder:
    """A reflector that records what it ran (and when, on the test's clock)."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.runs: list[tuple[Any, dict[str, Any]]] = []
        self.clock = clock
        self.lock = threading.Lock()

    def __call__(self, payload: Any, config: dict[str, Any]) -> Any:
        with self.lock:
            self.runs.append((payload, config))
        return {"processed": payload}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def dispatched(*futures: Any) -> list[bool]:
    return [f.running() or (f.done() and not f.cancelled()) for f in futures]


def test_several_submits_within_the_delay_process_only_the_latest(clock: ManualClock) -> None:
    recorder = Recorder()
    executor = ReflectionExecutor(recorder, clock=clock)
    config = {"configurable": {"thread_id": "t1"}}
    futures = [executor.submit({"n": n}, config, after_seconds=5) for n in range(4)]
    clock.advance(4.9)
    assert dispatched(*futures) == [False] * 4
    assert [f.cancelled() for f in futures] == [True, True, True, False]
    clock.advance(0.1)
    assert futures[-1].result(timeout=5) == {"processed": {"n": 3}}
    executor.shutdown()
    assert [p for p, _ in recorder.runs] == [{"n": 3}]


def test_submits_two_seconds_apart_with_a_three_second_delay_still_debounce(
    clock: ManualClock,
) -> None:
    recorder = Recorder()
    executor = ReflectionExecutor(recorder, clock=clock)
    config = {"configurable": {"thread_id": "t1"}}
    futures = []
    for n in range(5):  # one message every 2 s: the conversation never settles for 3 s
        futures.append(executor.submit({"n": n}, config, after_seconds=3))
        clock.advance(2)
        assert dispatched(futures[-1]) == [False]
        assert recorder.runs == []
    clock.advance(1)  # 3 s after the last message
    assert futures[-1].result(timeout=5) == {"processed": {"n": 4}}
    assert all(f.cancelled() for f in futures[:-1])
    executor.shutdown()
    assert len(recorder.runs) == 1


def test_different_users_and_threads_never_cancel_each_other(clock: ManualClock) -> None:
    store = InMemoryStore()
    model = FakeChatModel(lambda call: [insert("noted")])
    manager = create_memory_store_manager(model, namespace=("memories", "{user_id}"))
    executor = ReflectionExecutor(manager, store=store, clock=clock)
    configs = [
        {"configurable": {"user_id": "alice", "thread_id": "t1"}},
        {"configurable": {"user_id": "alice", "thread_id": "t2"}},
        {"configurable": {"user_id": "bob", "thread_id": "t1"}},  # same thread id, other user
        {"configurable": {"user_id": "carol"}},  # no thread id at all
        {"configurable": {"user_id": "dave"}},
    ]
    futures = [
        executor.submit({"messages": [("user", f"hi {i}")]}, c, after_seconds=1)
        for i, c in enumerate(configs)
    ]
    assert not any(f.cancelled() for f in futures)
    clock.advance(1)
    for f in futures:
        assert len(f.result(timeout=5)) == 1
    executor.shutdown()
    for user, count in {"alice": 2, "bob": 1, "carol": 1, "dave": 1}.items():
        assert len(store.search(("memories", user))) == count


def test_submissions_without_thread_or_namespace_are_not_debounced(clock: ManualClock) -> None:
    recorder = Recorder()
    executor = ReflectionExecutor(recorder, clock=clock)
    first = executor.submit({"n": 1}, after_seconds=1)
    second = executor.submit({"n": 2}, after_seconds=1)
    clock.advance(1)
    assert first.result(timeout=5) == {"processed": {"n": 1}}
    assert second.result(timeout=5) == {"processed": {"n": 2}}
    executor.shutdown()


def test_an_explicit_thread_id_or_key_debounces(clock: ManualClock) -> None:
    recorder = Recorder()
    executor = ReflectionExecutor(recorder, clock=clock)
    a = executor.submit({"n": 1}, after_seconds=1, thread_id="x")
    b = executor.submit({"n": 2}, after_seconds=1, thread_id="x")
    c = executor.submit({"n": 3}, after_seconds=1, key="k")
    d = executor.submit({"n": 4}, after_seconds=1, key="k")
    assert [a.cancelled(), b.cancelled(), c.cancelled(), d.cancelled()] == [
        True,
        False,
        True,
        False,
    ]
    executor.shutdown()


def test_after_seconds_zero_runs_promptly_and_delays_are_accurate() -> None:
    started: list[float] = []
    executor = ReflectionExecutor(lambda payload: started.append(time.monotonic()))
    t0 = time.monotonic()
    executor.submit({"n": 0}, after_seconds=0).result(timeout=5)
    prompt = started[-1] - t0
    t1 = time.monotonic()
    executor.submit({"n": 1}, after_seconds=0.3).result(timeout=5)
    delayed = started[-1] - t1
    executor.shutdown()
    assert prompt < 0.1
    assert 0.3 <= delayed < 0.5


def test_futures_carry_results_and_errors_and_errors_are_logged(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    def reflector(payload: dict[str, int]) -> int:
        if payload["n"] < 0:
            raise ValueError("negative conversation")
        return payload["n"] * 2

    executor = ReflectionExecutor(reflector, clock=clock)
    ok = executor.submit({"n": 21})
    bad = executor.submit({"n": -1})
    with caplog.at_level(logging.ERROR, logger="retain.executor"):
        assert ok.result(timeout=5) == 42
        with pytest.raises(ValueError, match="negative conversation"):
            bad.result(timeout=5)
        executor.shutdown()
    assert any("negative conversation" in r.getMessage() for r in caplog.records)


def test_the_callers_config_is_never_mutated(clock: ManualClock) -> None:
    store = InMemoryStore()
    recorder = Recorder()
    executor = ReflectionExecutor(recorder, store=store, clock=clock)
    config = {"configurable": {"thread_id": "t1", "user_id": "u"}, "metadata": {"a": 1}}
    snapshot = repr(config)
    executor.submit({"n": 1}, config).result(timeout=5)
    executor.shutdown()
    assert repr(config) == snapshot
    seen = recorder.runs[0][1]
    assert seen["configurable"]["user_id"] == "u"


def test_the_executor_store_reaches_a_manager_without_one(clock: ManualClock) -> None:
    store = InMemoryStore()
    model = FakeChatModel([[insert("User likes tea")]])
    manager = create_memory_store_manager(model, namespace=("memories", "{user_id}"))
    executor = ReflectionExecutor(manager, store=store, clock=clock)
    config = {"configurable": {"user_id": "u1", "thread_id": "t"}}
    executor.submit({"messages": [("user", "I like tea")]}, config).result(timeout=5)
    executor.shutdown()
    assert [i.value["content"]["content"] for i in store.search(("memories", "u1"))] == [
        "User likes tea"
    ]


T0 = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)


def test_a_delayed_run_records_when_the_conversation_was_said() -> None:
    clock = ManualClock(start=T0.timestamp())
    store = InMemoryStore()
    model = FakeChatModel([[insert("User likes tea")], [insert("User likes jazz")]])
    manager = create_memory_store_manager(model, store=store, namespace=("m",), clock=clock)
    executor = ReflectionExecutor(manager.with_config(tags=["bg"]), clock=clock)
    payload = {"messages": [("user", "I like tea")]}
    future = executor.submit(payload, thread_id="t1", after_seconds=600)
    clock.advance(3600)  # the run happens an hour later on the same clock
    [written] = future.result(timeout=5)
    assert written["value"]["said_at"] == "2026-12-07T09:30:00+00:00"  # t0, not the run time
    assert payload == {"messages": [("user", "I like tea")]}  # the caller's dict is untouched
    # a said_at the caller gives wins
    said = {"messages": [("user", "I like jazz")], "said_at": "2025-01-02T03:04:05+00:00"}
    [written] = executor.submit(said, thread_id="t2").result(timeout=5)
    executor.shutdown()
    assert written["value"]["said_at"] == "2025-01-02T03:04:05+00:00"


def test_other_reflectors_get_the_payload_as_given(clock: ManualClock) -> None:
    recorder = Recorder()
    manager = create_memory_manager(FakeChatModel([[insert("User likes tea")]]))
    executor = ReflectionExecutor(recorder, clock=clock)
    functional = ReflectionExecutor(manager, clock=clock)
    payload = {"messages": [("user", "I like tea")]}
    executor.submit(payload).result(timeout=5)
    [memory] = functional.submit(payload).result(timeout=5)
    executor.shutdown()
    functional.shutdown()
    assert recorder.runs[0][0] == payload
    assert memory.content.content == "User likes tea"


def test_shutdown_runs_pending_work_by_default(clock: ManualClock) -> None:
    recorder = Recorder()
    executor = ReflectionExecutor(recorder, clock=clock)
    future = executor.submit({"n": 1}, thread_id="t", after_seconds=3600)
    executor.shutdown(wait=True)
    assert future.result(timeout=0) == {"processed": {"n": 1}}
    with pytest.raises(ExecutorShutdownError):
        executor.submit({"n": 2})


def test_shutdown_with_cancel_futures_cancels_pending_work(clock: ManualClock) -> None:
    recorder = Recorder()
    executor = ReflectionExecutor(recorder, clock=clock)
    future = executor.submit({"n": 1}, thread_id="t", after_seconds=3600)
    executor.shutdown(wait=True, cancel_futures=True)
    assert future.cancelled()
    assert recorder.runs == []


def test_shutdown_without_wait_returns_while_work_runs(clock: ManualClock) -> None:
    release = threading.Event()
    executor = ReflectionExecutor(lambda payload: release.wait(5), clock=clock)
    future = executor.submit({"n": 1})
    t0 = time.monotonic()
    executor.shutdown(wait=False)
    assert time.monotonic() - t0 < 0.5
    release.set()
    assert future.result(timeout=5) is True
    executor.shutdown(wait=True)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="url"):
        ReflectionExecutor("memory_manager")
    with pytest.raises(ConfigurationError, match="Runnable"):
        ReflectionExecutor(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="store"):
        ReflectionExecutor(lambda p: p, durable=True)
    with pytest.raises(ConfigurationError, match="max_workers"):
        ReflectionExecutor(lambda p: p, max_workers=0)
    executor = ReflectionExecutor(lambda p: p)
    with pytest.raises(InvalidInputError, match="after_seconds"):
        executor.submit({}, after_seconds=-1)
    with pytest.raises(InvalidInputError, match="config"):
        executor.submit({}, config="user-1")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="durable"):
        executor.failed_jobs()
    executor.shutdown()


@pytest.mark.slow
def test_a_script_using_the_executor_exits_by_itself(tmp_path: Path) -> None:
    out = tmp_path / "ran.txt"
    script = textwrap.dedent(
        f"""
        from retain import ReflectionExecutor

        def reflector(payload):
            with open({str(out)!r}, "a") as f:
                f.write(payload["text"] + "\\n")

        executor = ReflectionExecutor(reflector)
        executor.submit({{"text": "now"}}, after_seconds=0).result()
        executor.submit({{"text": "later"}}, thread_id="t", after_seconds=3600)
        print("main done")
        """
    )
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "main done"
    assert time.monotonic() - t0 < 30  # did not wait for the hour-long delay
    assert out.read_text().split() == ["now", "later"]  # pending work ran at exit
