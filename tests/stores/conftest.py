from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from retain.stores import RetainStore, SQLiteStore
from tests.stateful.conftest import INDEX


class StoreMaker:
    """Opens retain stores of one kind (``"sqlite"`` or ``"postgres"``) for a test, each in
    a fresh file or database unless ``at`` names one made earlier, and inspects them with
    raw SQL. Everything it opened is closed (and dropped) after the test."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.pg = request.getfixturevalue("pg_server") if kind == "postgres" else None
        self.opened: list[RetainStore] = []
        self.locations: list[str] = []

    def new_location(self) -> str:
        if self.pg is None:
            location = str(self.tmp_path / f"memories{len(self.locations)}.db")
        else:
            location = self.pg.new_database()
        self.locations.append(location)
        return location

    def __call__(self, *, at: str | None = None, **kwargs: Any) -> RetainStore:
        location = at or self.new_location()
        store: RetainStore
        if self.pg is None:
            store = SQLiteStore(location, **kwargs)
        else:
            from retain.stores import PostgresStore

            store = PostgresStore(self.pg.url(location), **kwargs)
        store._test_location = location  # type: ignore[attr-defined]
        self.opened.append(store)
        return store

    def sql(self, store: RetainStore, query: str, *args: Any) -> list[tuple[Any, ...]]:
        """Run ``query`` on the store's database (``?`` placeholders on SQLite, ``%s`` on
        PostgreSQL)."""
        location = store._test_location  # type: ignore[attr-defined]
        if self.pg is not None:
            return self.pg.sql(location, query, *args)
        conn = sqlite3.connect(location)
        try:
            rows = conn.execute(query, args).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    def make_older(self, store: RetainStore, key: str, days: int) -> None:
        """Move an item's ``updated_at`` ``days`` into the past."""
        if self.pg is None:
            self.sql(
                store,
                "UPDATE retain_items SET updated_at = updated_at - ? WHERE key = ?",
                86400 * days,
                key,
            )
        else:
            self.sql(
                store,
                "UPDATE retain_items SET updated_at = updated_at - make_interval("
                "days => %s) WHERE key = %s",
                days,
                key,
            )

    def rows_under(self, store: RetainStore, prefix: str) -> dict[str, int]:
        """Rows of the namespace prefix (``"a.b"``) left in every table, keyword index
        included."""
        under = (prefix, prefix + ".%")
        if self.pg is None:
            where = "(prefix = ? OR prefix LIKE ?)"
            return {
                "items": self.sql(
                    store, f"SELECT COUNT(*) FROM retain_items WHERE {where}", *under
                )[0][0],
                "vectors": self.sql(
                    store,
                    "SELECT COUNT(*) FROM retain_vectors v JOIN retain_items i ON i.id = "
                    "v.item_id WHERE "
                    f"{where.replace('prefix', 'i.prefix')}",
                    *under,
                )[0][0],
                "vectors_orphaned": self.sql(
                    store,
                    "SELECT COUNT(*) FROM retain_vectors WHERE item_id NOT IN (SELECT id FROM "
                    "retain_items)",
                )[0][0],
                "keywords_orphaned": self.sql(
                    store,
                    "SELECT COUNT(*) FROM retain_items_fts WHERE rowid NOT IN (SELECT id FROM "
                    "retain_items)",
                )[0][0],
                "history": self.sql(
                    store, f"SELECT COUNT(*) FROM retain_history WHERE {where}", *under
                )[0][0],
            }
        where = "(prefix = %s OR prefix LIKE %s)"
        return {
            table: self.pg.sql(
                store._test_location,  # type: ignore[attr-defined]
                f"SELECT COUNT(*) FROM {table} WHERE {where}",
                *under,
            )[0][0]
            for table in ("retain_items", "retain_vectors", "retain_history")
        } | {
            "vectors_orphaned": self.sql(
                store,
                "SELECT COUNT(*) FROM retain_vectors WHERE item_id NOT IN "
                "(SELECT id FROM retain_items)",
            )[0][0]
        }

    def close(self) -> None:
        for store in self.opened:
            store.close()
        if self.pg is not None:
            for name in self.locations:
                self.pg.drop(name)


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreMaker]:
    """A :class:`StoreMaker` for each of retain's stores."""
    maker = StoreMaker(str(request.param), request, tmp_path)
    yield maker
    maker.close()


@pytest.fixture
def retain_store(make_store: StoreMaker) -> RetainStore:
    """Each of retain's stores, fresh, with the test index (retain-only features run on
    both)."""
    return make_store(index=INDEX)


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseStore]:
    """retain's stores and LangGraph's InMemoryStore: the contract suite runs on each."""
    if request.param == "memory":
        yield InMemoryStore(index=INDEX)  # type: ignore[arg-type]
        return
    maker = StoreMaker(str(request.param), request, tmp_path)
    yield maker(index=INDEX)
    maker.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "memories.db", index=INDEX)  # type: ignore[arg-type]
    yield store
    store.close()
