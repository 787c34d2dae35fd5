"""LangMem parity inside LangGraph: an executor (and the store manager it runs) takes the
running graph's config and store when none is given, and never writes LangGraph's private
config keys or retain's default file.

The examples are LangMem's own (seeds 001 "Running reflections in the background" and 004
"Delayed Background Memory Processing"), with the fake model.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.func import entrypoint
from langgraph.store.memory import InMemoryStore

from retain import ReflectionExecutor, create_memory_store_manager
from retain.errors import ConfigurationError
from retain.graph_context import current_store, detached_config
from retain.testing import FakeChatModel, insert


@pytest.fixture(autouse=True)
def _no_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory: a test that fell back to ``./.retain`` would leave it."""
    monkeypatch.chdir(tmp_path)


def _no_default_store_file(tmp_path: Path) -> None:
    assert not (tmp_path / ".retain").exists()


def test_submit_inside_an_entrypoint_without_config_uses_the_graphs_config(
    tmp_path: Path,
) -> None:
    # seed 001: ReflectionExecutor(manager, store=store); reflection.submit(...) without config
    store = InMemoryStore()
    manager = create_memory_store_manager(
        FakeChatModel([[insert("User prefers dark mode")]]), namespace=("memories", "{user_id}")
    )
    reflection = ReflectionExecutor(manager, store=store)

    @entrypoint(store=store)
    async def chat(messages: list[Any]) -> Any:
        return reflection.submit({"messages": messages}, after_seconds=0)

    config = {"configurable": {"user_id": "user-123"}}
    future = asyncio.run(
        chat.ainvoke([{"role": "user", "content": "I prefer dark mode in my apps"}], config)
    )
    future.result(timeout=10)
    found = manager.search(query="app preferences", config=config)
    assert [i.value["content"]["content"] for i in found] == ["User prefers dark mode"]
    reflection.shutdown()
    _no_default_store_file(tmp_path)


def test_an_executor_without_a_store_writes_to_the_entrypoints_store(tmp_path: Path) -> None:
    # seed 004 delayed processing: ReflectionExecutor(memory_manager) with no store at all
    store = InMemoryStore()
    memory_manager = create_memory_store_manager(
        FakeChatModel([[insert("User likes dogs")]]), namespace=("memories",)
    )
    executor = ReflectionExecutor(memory_manager)

    @entrypoint(store=store)
    def chat(message: str) -> Any:
        to_process = {"messages": [{"role": "user", "content": message}]}
        return executor.submit(to_process, after_seconds=0)

    chat.invoke("I like dogs. My dog's name is Fido.").result(timeout=10)
    executor.shutdown()
    assert [i.value["content"]["content"] for i in store.search(("memories",))] == [
        "User likes dogs"
    ]
    _no_default_store_file(tmp_path)


def test_the_reflector_gets_a_config_without_langgraphs_private_keys() -> None:
    seen: list[RunnableConfig] = []
    stores: list[Any] = []

    def reflector(payload: Any, config: RunnableConfig) -> None:
        seen.append(config)
        stores.append(current_store())

    store = InMemoryStore()
    executor = ReflectionExecutor(reflector)

    @entrypoint(store=store)
    def graph(_: str) -> Any:
        return executor.submit({"n": 1})

    graph.invoke("x", {"configurable": {"user_id": "u1", "thread_id": "t1"}}).result(timeout=10)
    executor.shutdown()
    (config,) = seen
    assert config["configurable"]["user_id"] == "u1"
    assert config["configurable"]["thread_id"] == "t1"
    assert not [k for k in config["configurable"] if k.startswith("__")]
    assert stores == [store]


def test_outside_a_graph_submit_without_config_still_needs_the_namespace_variables() -> None:
    manager = create_memory_store_manager(
        FakeChatModel([[insert("x")]]), namespace=("memories", "{user_id}"), store=InMemoryStore()
    )
    executor = ReflectionExecutor(manager)
    future = executor.submit({"messages": [("user", "hi")]})
    with pytest.raises(ConfigurationError, match="'user_id'"):
        future.result(timeout=10)
    executor.shutdown()


def test_detached_config_never_changes_the_given_config() -> None:
    config: dict[str, Any] = {
        "configurable": {"user_id": "u", "__pregel_runtime": object()},
        "metadata": {"a": 1},
        "callbacks": [],
    }
    copied = detached_config(config)
    copied["metadata"]["b"] = 2
    assert copied["configurable"] == {"user_id": "u"}
    assert config["metadata"] == {"a": 1}
    assert "__pregel_runtime" in config["configurable"]


def test_no_module_touches_langgraphs_private_config_keys() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "retain"
    offenders = [
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if "__pregel" in path.read_text() or "CONFIG_KEY_" in path.read_text()
    ]
    assert offenders == []


def test_langgraph_context_is_resolved_in_one_module() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "retain"
    readers = sorted(
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if "langgraph.config import" in path.read_text()
    )
    assert readers == ["graph_context.py"]
