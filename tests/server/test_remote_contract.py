"""LangGraph's store contract (tests/stores/test_contract.py), run on ``RemoteStore``
against a real server on loopback, plus the store manager over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from langgraph.store.base import BaseStore

from retain import create_memory_store_manager
from retain.client import RemoteStore
from retain.errors import NotFoundError
from retain.testing import FakeChatModel, insert
from tests.server.conftest import ADMIN, RunningServer
from tests.stores.test_contract import (  # noqa: F401  (collected here, on RemoteStore)
    test_async_twins,
    test_batch_results_in_order_and_reads_see_the_state_before_the_batch,
    test_index_fields_and_per_put_index,
    test_invalid_namespaces_are_rejected,
    test_list_namespaces,
    test_put_get_update_delete,
    test_search_by_prefix_filter_limit_offset,
    test_semantic_search_scores_best_first,
)


@pytest.fixture
def any_store(make_server: Callable[..., RunningServer]) -> Iterator[BaseStore]:
    server = make_server(mcp=False)
    store = RemoteStore(server.url, ADMIN)
    yield store
    store.close()


def test_store_manager_writes_through_remote_store_within_its_key(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(mcp=False)
    with server.client() as admin:
        secret = admin.post("/v1/keys", json={"name": "u1", "prefixes": [["users", "u1"]]}).json()[
            "secret"
        ]
    store = RemoteStore(server.url, secret)
    model = FakeChatModel([[insert("User likes green tea")]])
    manager = create_memory_store_manager(model, namespace=("users", "u1"), store=store)
    manager.invoke({"messages": [("user", "I like green tea")]})
    found = store.search(("users", "u1"), query="tea")
    assert [i.value["content"]["content"] for i in found] == ["User likes green tea"]
    with pytest.raises(NotFoundError):
        store.put(("users", "u2"), "k", {"v": 1})
    with pytest.raises(NotFoundError):
        store.search(("users",))
    assert store.list_namespaces() == [("users", "u1")]
    store.close()


def test_memory_tools_and_an_entrypoint_on_a_remote_store(
    make_server: Callable[..., RunningServer],
) -> None:
    from langgraph.config import get_store
    from langgraph.func import entrypoint

    from retain import create_manage_memory_tool, create_search_memory_tool

    server = make_server(mcp=False)
    store = RemoteStore(server.url, ADMIN)
    manage = create_manage_memory_tool(namespace=("users", "u1"), store=store)
    search = create_search_memory_tool(namespace=("users", "u1"), store=store)
    assert manage.invoke({"content": "User likes cherry pie"}).startswith("created memory ")
    assert "cherry pie" in str(search.invoke({"query": "pie"}))

    @entrypoint(store=store)
    def remember(text: str) -> int:
        graph_store = get_store()
        assert graph_store is store
        graph_store.put(("users", "u1", "notes"), "n", {"content": text})
        return len(graph_store.search(("users", "u1")))

    assert remember.invoke("likes tea") == 2
    store.close()
