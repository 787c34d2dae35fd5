"""Facts that change, through the store manager: supersede, forget, dates, safe ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from langgraph.store.base import BaseStore

from retain import create_memory_store_manager
from retain.stores import RetainStore
from retain.testing import FakeCall, FakeChatModel, delete, insert, update

Invoke = Callable[..., Any]
ALICE = {"configurable": {"langgraph_user_id": "alice"}}
NS = ("memories", "alice")
MARCH = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
JUNE = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)


def _said(text: str, at: datetime) -> dict[str, Any]:
    return {"messages": [("user", text)], "said_at": at}


def _texts(items: list[Any]) -> list[str]:
    return sorted(i.value["content"]["content"] for i in items)


def test_a_contradiction_supersedes_and_the_old_fact_stays(
    store: BaseStore, invoke: Invoke
) -> None:
    model = FakeChatModel(
        [
            [insert("User lives in Berlin")],
            [update("m1", "User lives in Lisbon")],
            lambda call: [insert("User works from home")],
        ]
    )
    manager = create_memory_store_manager(model, store=store)
    (first,) = invoke(manager, _said("I live in Berlin", MARCH), ALICE)
    key = first["key"]
    assert first["value"]["said_at"] == "2026-03-02T10:00:00+00:00"
    invoke(manager, _said("I moved to Lisbon", JUNE), ALICE)

    # current facts only, by default, for people and for the model
    assert _texts(manager.search(query="Where does the user live?", config=ALICE)) == [
        "User lives in Lisbon"
    ]
    assert _texts(manager.search(config=ALICE)) == ["User lives in Lisbon"]
    invoke(manager, _said("I work from home", JUNE), ALICE)
    assert [m["content"]["content"] for m in model.calls[2].memories()] == ["User lives in Lisbon"]
    # the key holds the new fact; the old one is kept, ended, pointing at it
    assert store.get(NS, key).value["content"]["content"] == "User lives in Lisbon"  # type: ignore[union-attr]
    (old,) = [i for i in store.search(NS, limit=20) if "valid_to" in i.value]
    assert old.value["content"] == {"content": "User lives in Berlin"}
    assert old.value["said_at"] == "2026-03-02T10:00:00+00:00"
    assert old.value["valid_to"] == "2026-06-01T10:00:00+00:00"
    assert old.value["superseded_by"] == key
    if not isinstance(store, RetainStore):
        return
    query = "Where does the user live?"
    assert _texts(store.recall(NS, query=query, as_of=datetime(2026, 4, 1))) == [
        "User lives in Berlin"
    ]
    assert _texts(store.recall(NS, query=query, as_of=datetime(2026, 7, 1))) == [
        "User lives in Lisbon",
        "User works from home",
    ]
    assert _texts(store.recall(NS, query=query, include_superseded=True)) == [
        "User lives in Berlin",
        "User lives in Lisbon",
        "User works from home",
    ]
    assert [v.value["content"]["content"] for v in store.history(NS, key) if v.value] == [
        "User lives in Berlin",
        "User lives in Lisbon",
    ]


def test_forget_deletes(store: BaseStore, invoke: Invoke) -> None:
    model = FakeChatModel([[insert("User lives in Berlin")], [delete("m1")]])
    manager = create_memory_store_manager(model, store=store, enable_deletes=True)
    (first,) = invoke(manager, _said("I live in Berlin", MARCH), ALICE)
    invoke(manager, _said("Forget where I live.", JUNE), ALICE)
    assert store.search(NS, limit=20) == []
    if isinstance(store, RetainStore):
        assert store.recall(NS, query="Berlin", include_superseded=True) == []
        assert [v.op for v in store.history(NS, first["key"])] == ["put", "delete"]


def test_a_relative_date_is_resolved_against_the_conversation_time(
    store: BaseStore, invoke: Invoke
) -> None:
    monday = datetime(2026, 12, 7, 18, 0, tzinfo=timezone.utc)
    model = FakeChatModel([[insert("I ran a half marathon last Saturday")]])
    manager = create_memory_store_manager(model, store=store)
    (written,) = invoke(manager, _said("I ran a half marathon last Saturday!", monday), ALICE)
    value = written["value"]
    assert value["content"] == {"content": "User ran a half marathon last Saturday"}
    assert value["valid_from"] == "2026-12-05"
    assert value["said_at"] == "2026-12-07T18:00:00+00:00"
    if isinstance(store, RetainStore):
        query = "half marathon"
        assert store.recall(NS, query=query, as_of=datetime(2026, 12, 4)) == []
        assert len(store.recall(NS, query=query, as_of=datetime(2026, 12, 6))) == 1


def test_a_wrong_subject_update_loses_nothing(store: BaseStore, invoke: Invoke) -> None:
    # what the 1.5B model did in the demo: the name overwritten with the drink, by id
    model = FakeChatModel(
        [
            [insert("User's name is Maya Okafor.")],
            [update("m1", "User drinks green tea every morning.")],
        ]
    )
    manager = create_memory_store_manager(model, store=store)
    invoke(manager, _said("I'm Maya Okafor.", MARCH), ALICE)
    invoke(manager, _said("I drink green tea every morning.", JUNE), ALICE)
    assert _texts(manager.search(config=ALICE)) == [
        "User drinks green tea every morning.",
        "User's name is Maya Okafor.",
    ]
    assert all("valid_to" not in i.value for i in store.search(NS, limit=20))
    # the model was told what happened, by short ids
    assert "m1" in model.calls[1].text


def test_short_ids_map_back_across_consolidation_phases(store: BaseStore, invoke: Invoke) -> None:
    store.put(NS, "tea-key", {"kind": "Memory", "content": {"content": "User likes tea"}})
    store.put(NS, "cat-key", {"kind": "Memory", "content": {"content": "User has a cat"}})

    def extract(call: FakeCall) -> list[Any]:
        by_text = {m["content"]["content"]: m["id"] for m in call.memories()}
        assert set(by_text.values()) == {"m1", "m2"}
        return [delete(by_text["User likes tea"]), insert("User has a dog")]

    def consolidate(call: FakeCall) -> list[Any]:
        by_text = {m["content"]["content"]: m["id"] for m in call.memories()}
        # the cat keeps its alias from the first pass; the deleted tea's is not reused
        assert by_text["User has a cat"] in {"m1", "m2"}
        assert by_text["User has a dog"] == "m3"
        return [update("m3", "User has a dog named Rex")]

    model = FakeChatModel([extract, consolidate])
    manager = create_memory_store_manager(
        model, store=store, enable_deletes=True, phases=[{"instructions": "Consolidate."}]
    )
    invoke(manager, _said("No more tea. We got a dog, Rex.", JUNE), ALICE)
    for call in model.calls:
        assert "tea-key" not in call.text
        assert "cat-key" not in call.text
    assert _texts(manager.search(config=ALICE)) == ["User has a cat", "User has a dog named Rex"]
    assert store.get(NS, "tea-key") is None


def test_a_fact_the_assistant_stated_and_the_user_confirmed_is_kept(
    store: BaseStore, invoke: Invoke
) -> None:
    model = FakeChatModel([[insert("User's flight to Rome leaves on Friday")]])
    manager = create_memory_store_manager(model, store=store)
    conversation = [
        ("user", "When does my flight leave?"),
        ("assistant", "Your flight to Rome leaves on Friday."),
        ("user", "Yes, right."),
    ]
    invoke(manager, {"messages": conversation, "said_at": JUNE}, ALICE)
    shown = model.calls[0].text
    assert "assistant: Your flight to Rome leaves on Friday." in shown
    assert "the user then confirmed" in shown  # the rule of the default instructions
    assert _texts(manager.search(config=ALICE)) == ["User's flight to Rome leaves on Friday"]
