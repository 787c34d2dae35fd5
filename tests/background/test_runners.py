"""One runner per mode behind one protocol, and no import cycle between the executor and
its runners (module-level imports of ``retain``, read statically)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from langgraph.store.memory import InMemoryStore

from retain import ReflectionExecutor
from retain.background.durable import DurableRunner
from retain.background.local import InMemoryRunner
from retain.background.remote import RemoteRunner
from retain.background.runner import Runner
from retain.clock import ManualClock
from retain.stores import SQLiteStore

SRC = Path(__file__).resolve().parents[2] / "src"
RUNNER_MODULES = ["local", "durable", "remote", "runner", "threads", "schedule"]


def _module_imports() -> dict[str, set[str]]:
    """``module -> retain modules it imports at import time`` (not under TYPE_CHECKING,
    not inside functions)."""
    paths = {}
    for path in (SRC / "retain").rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        paths[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in paths else node.module)
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph[node]:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_import_cycle_between_the_executor_and_its_runners() -> None:
    graph = _module_imports()
    for module in ["retain.executor", *(f"retain.background.{m}" for m in RUNNER_MODULES)]:
        assert _cycle_through(graph, module) is None, _cycle_through(graph, module)
    for module in RUNNER_MODULES:
        assert "retain.executor" not in graph[f"retain.background.{module}"]


@pytest.mark.parametrize("runner", [InMemoryRunner, DurableRunner, RemoteRunner])
def test_every_runner_follows_the_protocol(runner: type) -> None:
    for method in ("submit", "trigger", "pending", "shutdown"):
        wanted = inspect.signature(getattr(Runner, method))
        assert inspect.signature(getattr(runner, method)) == wanted, (runner, method)
    assert runner.mode in ("in-memory", "durable", "remote")


def test_the_executor_picks_one_runner_per_mode(tmp_path: Path) -> None:
    clock = ManualClock()
    in_memory = ReflectionExecutor(lambda p: p, store=InMemoryStore(), clock=clock)
    store = SQLiteStore(tmp_path / "m.db")
    durable = ReflectionExecutor(lambda p: p, store=store, durable=True, clock=clock)
    remote = ReflectionExecutor("reflector", ("memories",), url="http://127.0.0.1:9")
    try:
        assert [repr(e).split("mode=")[1] for e in (in_memory, durable, remote)] == [
            "'in-memory')",
            "'durable')",
            "'remote')",
        ]
        assert (in_memory.durable, durable.durable, remote.durable) == (False, True, False)
        assert not hasattr(in_memory._runner, "queue")  # no mode flags inside a runner
    finally:
        for executor in (in_memory, durable, remote):
            executor.close()
        store.close()
