"""The size rule of the injected <user_profile> / <user_memory> blocks."""

from __future__ import annotations

import pytest
from langgraph.store.base import BaseStore

from retain import ConfigurationError, LearningMachine
from retain.profiles import render_user_context
from retain.testing import FakeChatModel


def test_everything_fits() -> None:
    context = render_user_context(
        [("Name", "Alice Chen"), ("Preferred Name", "Ali")], ["Likes tea", "Has two cats"]
    )
    assert context.text == (
        "<user_profile>\nName: Alice Chen\nPreferred Name: Ali\n</user_profile>\n"
        "<user_memory>\n- Likes tea\n- Has two cats\n</user_memory>"
    )
    assert (context.fields_omitted, context.memories_omitted) == (0, 0)


def test_no_values_no_blocks() -> None:
    assert render_user_context([], []).text == ""


@pytest.mark.parametrize("max_chars", [200, 333, 1000])
def test_least_relevant_memories_are_dropped_first_and_said(max_chars: int) -> None:
    memories = [f"memory number {i} " + "x" * 40 for i in range(50)]
    context = render_user_context([("Name", "Ali")], memories, max_chars=max_chars)
    assert len(context.text) <= max_chars
    assert context.memories_shown + context.memories_omitted == 50
    assert 0 < context.memories_omitted < 50
    shown = [line for line in context.text.splitlines() if line.startswith("- ")]
    assert shown == [f"- {m}" for m in memories[: context.memories_shown]]  # most relevant kept
    assert f"({context.memories_omitted} less relevant memories not shown)" in context.text
    assert "Name: Ali" in context.text  # the profile comes first


def test_profile_too_large_is_cut_and_said() -> None:
    fields = [("Name", "Alice Chen"), ("Biography", "b" * 5000), ("City", "Lisbon")]
    context = render_user_context(fields, ["Likes tea"], max_chars=400)
    assert len(context.text) <= 400
    assert context.text.startswith("<user_profile>\nName: Alice Chen\nBiography: bbb")
    assert "…\n(profile truncated: 1 more field(s) not shown)\n</user_profile>" in context.text
    assert context.truncated_field == "Biography"
    assert (context.fields_shown, context.fields_omitted) == (2, 1)
    assert context.memories_omitted == 1  # no room left: counted, not lost silently


def test_bound_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="max_chars"):
        render_user_context([], [], max_chars=50)


def test_machine_prompt_stays_bounded(store: BaseStore) -> None:
    machine = LearningMachine(FakeChatModel([]), store=store, max_context_chars=300)
    assert machine.profiles is not None
    machine.profiles.set_fields(user_id="a", name="A" * 2000, preferred_name="Ali")
    config = {"configurable": {"user_id": "a"}}
    prompt = machine.system_prompt("Base.", config)
    assert prompt.startswith("Base.\n\n<user_profile>\nName: AAA")
    assert len(prompt) <= len("Base.\n\n") + 300
    assert "(profile truncated: 1 more field(s) not shown)" in prompt
    assert machine.profiles.get(user_id="a").name == "A" * 2000  # the store keeps it whole
    machine.shutdown()
    with pytest.raises(ConfigurationError):
        LearningMachine(FakeChatModel([]), store=store, max_context_chars=10)
