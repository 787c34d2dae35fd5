from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from retain.stores import SQLiteStore
from tests.stateful.conftest import INDEX


@pytest.fixture(params=["sqlite", "memory"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseStore]:
    """retain's stores and LangGraph's InMemoryStore: the contract suite runs on each."""
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "memories.db", index=INDEX)  # type: ignore[arg-type]
        yield store
        store.close()
    else:
        yield InMemoryStore(index=INDEX)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "memories.db", index=INDEX)  # type: ignore[arg-type]
    yield store
    store.close()
