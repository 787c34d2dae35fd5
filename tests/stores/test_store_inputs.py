"""retain-only calls (purge, history, export, get_as_of) check their input like the
LangGraph ones: the same typed error on SQLite and PostgreSQL, before anything is read or
deleted. The LangGraph calls are in the contract suite's bad-input table."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from retain.errors import InvalidInputError, InvalidNamespaceError
from retain.stores import RetainStore
from retain.stores.validation import MAX_VALUE_DEPTH


def test_a_str_namespace_purges_nothing(retain_store: RetainStore) -> None:
    retain_store.put(("u", "s", "e", "r", "s"), "spread", {"content": "one label per char"})
    retain_store.put(("users",), "kept", {"content": "kept"})
    for call in (
        lambda: retain_store.purge("users"),  # type: ignore[arg-type]
        lambda: list(retain_store.export("users")),  # type: ignore[arg-type]
        lambda: retain_store.history("users", "kept"),  # type: ignore[arg-type]
        lambda: asyncio.run(retain_store.apurge("users")),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidNamespaceError) as raised:
            call()
        assert type(raised.value) is InvalidNamespaceError
    assert retain_store.get(("u", "s", "e", "r", "s"), "spread") is not None
    assert retain_store.get(("users",), "kept") is not None


def test_history_needs_a_valid_key(retain_store: RetainStore) -> None:
    for key in ("", "a\x00b", 5):
        with pytest.raises(InvalidInputError) as raised:
            retain_store.history(("users",), key)  # type: ignore[arg-type]
        assert type(raised.value) is InvalidInputError


def test_get_as_of_refuses_a_naive_datetime(retain_store: RetainStore) -> None:
    ns = ("users", "u1")
    retain_store.put(ns, "k", {"content": "tea"})
    for at in (datetime.now(), datetime.now(timezone.utc).replace(tzinfo=None), "2026-01-01"):
        with pytest.raises(InvalidInputError) as raised:
            retain_store.get_as_of(ns, "k", at)  # type: ignore[arg-type]
        assert type(raised.value) is InvalidInputError
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    item = retain_store.get_as_of(ns, "k", later)
    assert item is not None
    assert item.value == {"content": "tea"}
    # any timezone names the same instant
    assert retain_store.get_as_of(ns, "k", later.astimezone(timezone(timedelta(hours=-7))))


def test_a_value_at_the_depth_limit_round_trips(retain_store: RetainStore) -> None:
    value: dict[str, Any] = {}
    inner = value
    for _ in range(MAX_VALUE_DEPTH - 2):
        inner["x"] = {}
        inner = inner["x"]
    inner["x"] = ["leaf"]  # a list counts as a level too: MAX_VALUE_DEPTH in all
    retain_store.put(("deep",), "k", value)
    item = retain_store.get(("deep",), "k")
    assert item is not None
    assert item.value == value


def test_a_valid_ttl_still_expires(make_store: Any) -> None:
    store = make_store(index=False, ttl={"default_ttl": 1.5})
    store.put(("t",), "k", {"v": 1})
    store.put(("t",), "forever", {"v": 1}, ttl=None)
    assert store.get(("t",), "k") is not None
    assert store.get(("t",), "forever") is not None


@pytest.mark.parametrize("default_ttl", [-1, 0, float("nan"), float("inf"), "60"])
def test_a_bad_default_ttl_is_a_configuration_error(make_store: Any, default_ttl: Any) -> None:
    from retain.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        make_store(index=False, ttl={"default_ttl": default_ttl})


@pytest.mark.parametrize("batch_size", [0, -1, "64", True])
def test_reembed_needs_a_positive_batch_size(make_store: Any, batch_size: Any) -> None:
    from tests.stateful.conftest import INDEX

    store = make_store(index=INDEX)
    store.put(("t",), "k", {"content": "tea"})
    with pytest.raises(InvalidInputError) as raised:
        store.reembed(batch_size=batch_size)
    assert type(raised.value) is InvalidInputError
