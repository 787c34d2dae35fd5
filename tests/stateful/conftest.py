"""Stores for the stateful-layer tests: retain's SQLite store and LangGraph's InMemoryStore."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

DIMS = 64


def bag_of_words(texts: list[str]) -> list[list[float]]:
    """A deterministic embedding: hashed bag of words, L2-normalised."""
    out = []
    for text in texts:
        vec = [0.0] * DIMS
        for word in text.lower().replace(".", " ").replace(",", " ").split():
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMS] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        out.append([v / norm for v in vec])
    return out


INDEX = {"dims": DIMS, "embed": bag_of_words}


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseStore]:
    """Each stateful test runs on retain's SQLite store and on LangGraph's InMemoryStore."""
    if request.param == "sqlite":
        from retain.stores import SQLiteStore

        sqlite = SQLiteStore(tmp_path / "memories.db", index=INDEX)  # type: ignore[arg-type]
        yield sqlite
        sqlite.close()
    else:
        yield InMemoryStore(index=INDEX)  # type: ignore[arg-type]
