"""The learning machine attached to LangGraph agents: cross-thread profiles, modes, users."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import MemorySaver
from langgraph.func import entrypoint
from langgraph.store.base import BaseStore

from retain import (
    LearningMachine,
    LearningMode,
    UserMemoryConfig,
    UserProfileConfig,
    create_learning_agent,
)
from retain.clock import ManualClock
from retain.testing import FakeCall, FakeChatModel, done, insert, tool_call, update

ALICE = "Hi! I'm Alice Chen, but please call me Ali."


def profile_extractor() -> FakeChatModel:
    """Answers like a model reading the last user message (scripted per message)."""

    def reply(call: FakeCall) -> Any:
        said = call.prompt
        if "Alice Chen" in said:
            return [update("default", set={"name": "Alice Chen", "preferred_name": "Ali"})]
        if "I'm Bob" in said:
            return [update("default", set={"name": "Bob Stone"})]
        return [done()]

    return FakeChatModel(reply)


def cfg(user: str, thread: str) -> dict[str, Any]:
    return {"configurable": {"user_id": user, "thread_id": thread}}


def test_profile_from_thread_a_is_in_thread_b_system_prompt(store: BaseStore) -> None:
    extractor = profile_extractor()
    machine = LearningMachine(extractor, store=store)
    agent_model = FakeChatModel(["Nice to meet you!"], cycle=True)
    agent = create_learning_agent(agent_model, machine, checkpointer=MemorySaver())
    agent.invoke({"messages": [("user", ALICE)]}, cfg("alice", "A"))
    machine.flush()
    assert "<user_profile>" not in agent_model.calls[0].system  # nothing known yet
    agent.invoke({"messages": [("user", "What's my name?")]}, cfg("alice", "B"))
    system = agent_model.calls[-1].system
    assert "<user_profile>\nName: Alice Chen\nPreferred Name: Ali\n</user_profile>" in system
    # thread B is a fresh thread: the checkpointer did not carry thread A's messages
    assert ALICE not in agent_model.calls[-1].text
    machine.shutdown()


def test_always_mode_no_tools_and_one_extra_call_per_turn(store: BaseStore) -> None:
    extractor = profile_extractor()
    machine = LearningMachine(extractor, store=store)
    assert machine.tools == []
    agent_model = FakeChatModel(["ok"], cycle=True)
    agent = create_learning_agent(agent_model, machine, checkpointer=MemorySaver())
    for n, text in enumerate([ALICE, "What's the weather?", "Thanks"], start=1):
        agent.invoke({"messages": [("user", text)]}, cfg("alice", "A"))
        machine.flush()
        assert len(agent_model.calls) == n  # the agent's own call
        assert len(extractor.calls) == n  # exactly one extra call per interaction
    assert all(call.tool_names == [] for call in agent_model.calls)
    assert machine.profiles is not None
    assert machine.profiles.get(user_id="alice").preferred_name == "Ali"
    machine.shutdown()


def test_agentic_mode_tool_visible_and_no_extra_calls(store: BaseStore) -> None:
    extractor = FakeChatModel([])  # any call would raise FakeModelExhaustedError
    machine = LearningMachine(
        extractor,
        store=store,
        user_profile=UserProfileConfig(mode=LearningMode.AGENTIC),
        user_memory=UserMemoryConfig(mode=LearningMode.AGENTIC),
    )
    agent_model = FakeChatModel(
        [
            [tool_call("update_user_profile", name="Alice Chen", preferred_name="Ali")],
            "Nice to meet you, Ali!",
            "Hello again, Ali.",
        ]
    )
    agent = create_learning_agent(agent_model, machine, checkpointer=MemorySaver())
    out = agent.invoke({"messages": [("user", ALICE)]}, cfg("alice", "A"))
    machine.flush()
    assert agent_model.calls[0].tool_names == [
        "update_user_profile",
        "manage_memory",
        "search_memory",
    ]
    tool_messages = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert tool_messages[0].content.startswith("Updated the user profile")
    assert len(agent_model.calls) == 2  # tool call + answer
    agent.invoke({"messages": [("user", "Hi")]}, cfg("alice", "B"))
    assert "Preferred Name: Ali" in agent_model.calls[-1].system
    assert extractor.calls == []  # no extra calls in AGENTIC mode
    machine.shutdown()


def test_agentic_unknown_field_is_reported_to_the_agent(store: BaseStore) -> None:
    machine = LearningMachine(
        FakeChatModel([]),
        store=store,
        user_profile=UserProfileConfig(mode=LearningMode.AGENTIC),
    )
    agent_model = FakeChatModel(
        [[tool_call("update_user_profile", name="Alice", shoe_size="42")], "Sorry."]
    )
    agent = create_learning_agent(agent_model, machine)
    out = agent.invoke({"messages": [("user", "I'm Alice, size 42")]}, cfg("alice", "A"))
    error = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    assert "shoe_size" in str(error.content)
    assert "Nothing changed" in str(error.content)
    assert machine.profiles is not None
    assert machine.profiles.get(user_id="alice") is None  # nothing half-written
    machine.shutdown()


def test_two_users_are_isolated(store: BaseStore) -> None:
    machine = LearningMachine(profile_extractor(), store=store)
    agent_model = FakeChatModel(["ok"], cycle=True)
    agent = create_learning_agent(agent_model, machine, checkpointer=MemorySaver())
    agent.invoke({"messages": [("user", ALICE)]}, cfg("alice", "A"))
    agent.invoke({"messages": [("user", "Hey, I'm Bob")]}, cfg("bob", "A"))
    machine.flush()
    agent.invoke({"messages": [("user", "Who am I?")]}, cfg("bob", "B"))
    bob_system = agent_model.calls[-1].system
    assert "Name: Bob Stone" in bob_system
    assert "Alice" not in bob_system
    agent.invoke({"messages": [("user", "Who am I?")]}, cfg("alice", "B"))
    alice_system = agent_model.calls[-1].system
    assert "Name: Alice Chen" in alice_system
    assert "Bob" not in alice_system
    assert store.search(("users", "bob", "profile"))[0].value["content"]["name"] == "Bob Stone"
    machine.shutdown()


def test_two_threads_updating_one_profile_concurrently_lose_nothing(store: BaseStore) -> None:
    started: list[float] = []

    def reply(call: FakeCall) -> Any:
        started.append(time.monotonic())
        time.sleep(0.3)  # long enough that unserialized updates would overlap
        if "Alice Chen" in call.prompt:
            return [update("default", set={"name": "Alice Chen"})]
        return [update("default", set={"preferred_name": "Ali"})]

    machine = LearningMachine(FakeChatModel(reply), store=store)
    barrier = threading.Barrier(2)

    def turn(thread: str, text: str) -> None:
        barrier.wait()
        machine.after_turn([("user", text)], cfg("alice", thread))

    workers = [
        threading.Thread(target=turn, args=("A", "I'm Alice Chen")),
        threading.Thread(target=turn, args=("B", "Call me Ali")),
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    machine.flush()
    assert machine.profiles is not None
    profile = machine.profiles.get(user_id="alice")
    assert (profile.name, profile.preferred_name) == ("Alice Chen", "Ali")
    assert len(started) == 2
    assert abs(started[1] - started[0]) >= 0.25
    machine.shutdown()


def test_debounce_one_extraction_for_a_burst_of_turns(store: BaseStore) -> None:
    clock = ManualClock()
    extractor = profile_extractor()
    machine = LearningMachine(extractor, store=store, debounce_seconds=30, clock=clock)
    config = cfg("alice", "A")
    first = machine.after_turn([("user", "Hello")], config)
    clock.advance(10)
    machine.after_turn([("user", ALICE)], config)
    assert first[0].cancelled()
    clock.advance(30)
    machine.flush()
    assert len(extractor.calls) == 1
    assert "Alice Chen" in extractor.calls[0].prompt
    assert machine.profiles is not None
    assert machine.profiles.get(user_id="alice").name == "Alice Chen"
    machine.shutdown()


def test_user_memory_always_appends_and_is_recalled(store: BaseStore) -> None:
    def reply(call: FakeCall) -> Any:
        if "<existing_memories>" in call.text and "profile" in call.system.lower():
            return [done()]
        if "I live in Lisbon" in call.prompt:
            return [insert("User lives in Lisbon")]
        if "I have two cats" in call.prompt:
            return [insert("User has two cats")]
        return [done()]

    extractor = FakeChatModel(reply)
    machine = LearningMachine(extractor, store=store, user_memory=True)
    machine.learn([("user", "I have two cats")], cfg("alice", "A"))
    machine.learn([("user", "I live in Lisbon")], cfg("alice", "A"))
    context = machine.context(cfg("alice", "B"), query="my cats")
    assert context.memories_shown == 2
    assert context.text.startswith("<user_memory>\n- ")
    assert "- User has two cats" in context.text
    assert "- User lives in Lisbon" in context.text
    assert machine.context(cfg("bob", "B"), query="cats").text == ""
    machine.shutdown()


def test_entrypoint_with_checkpointer(store: BaseStore) -> None:
    extractor = profile_extractor()
    machine = LearningMachine(extractor, store=store)
    chat_model = FakeChatModel(["Hi!"], cycle=True)

    @entrypoint(checkpointer=MemorySaver(), store=store)
    def chat(messages: list[Any], *, previous: list[Any] | None, config: RunnableConfig) -> Any:
        history = [*(previous or []), *messages]
        system = machine.system_message(config, base="Be brief.")
        answer = chat_model.invoke([system, *history])
        machine.after_turn([*history, answer], config)
        return entrypoint.final(value=answer, save=[*history, answer])

    chat.invoke([HumanMessage(ALICE)], cfg("alice", "A"))
    machine.flush()
    chat.invoke([HumanMessage("Who am I?")], cfg("alice", "B"))
    assert "Be brief.\n\n<user_profile>\nName: Alice Chen" in chat_model.calls[-1].system
    machine.flush()  # the second turn's update runs in the background
    assert len(extractor.calls) == 2
    machine.shutdown()


def test_memories_are_stamped_with_the_machines_clock(store: BaseStore) -> None:
    clock = ManualClock(start=datetime(2031, 5, 1, tzinfo=timezone.utc).timestamp())

    def reply(call: FakeCall) -> Any:
        if "I have two cats" in call.prompt:
            return [insert("User has two cats")]
        return [done()]

    machine = LearningMachine(
        FakeChatModel(reply), store=store, user_profile=False, user_memory=True, clock=clock
    )
    machine.learn([("user", "I have two cats")], cfg("alice", "A"))
    [item] = store.search(("users", "alice", "memories"))
    assert item.value["said_at"].startswith("2031-05-01")  # the manual clock's day, not today
    machine.shutdown()
