"""Stores and helpers for the profile tests: retain's SQLite store and LangGraph's InMemoryStore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from retain.stores import SQLiteStore
from tests.stateful.conftest import INDEX


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseStore]:
    """Each profile test runs on retain's SQLite store and on LangGraph's InMemoryStore."""
    if request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "memories.db", index=INDEX)  # type: ignore[arg-type]
        yield sqlite
        sqlite.close()
    else:
        yield InMemoryStore(index=INDEX)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    sqlite = SQLiteStore(tmp_path / "memories.db", index=INDEX)  # type: ignore[arg-type]
    yield sqlite
    sqlite.close()
