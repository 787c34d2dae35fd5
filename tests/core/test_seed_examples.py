"""Every "without storage" example of the LangMem docs (the seeds), run offline.

Each test keeps the example's code as written (only ``langmem`` -> ``retain`` and the
model string -> a scripted fake) and asserts the documented shapes and values.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from pydantic import BaseModel, Field

from retain import ExtractedMemory, Memory, RemoveDoc, create_memory_enricher, create_memory_manager
from retain.testing import FakeCall, FakeChatModel, delete, insert, update
from tests.core.conftest import offered


class UserProfile(BaseModel):
    """Represents the full representation of a user."""

    name: Optional[str] = None  # noqa: UP045 - as in the docs
    language: Optional[str] = None  # noqa: UP045
    timezone: Optional[str] = None  # noqa: UP045


def _profile_id(call: FakeCall) -> str:
    (profile,) = call.memories()
    assert profile["kind"] == "UserProfile"
    return str(profile["id"])


def test_manage_user_profile_without_storage(call_mode: str, invoke: Any, style: str) -> None:
    # seeds 000 (create_memory_enricher) and 004 guides/manage_user_profile.md
    model = FakeChatModel(
        [
            [insert(UserProfile(name="Alice", timezone="America/Los_Angeles"))],
            lambda call: [update(_profile_id(call), set={"language": "Spanish"})],
        ]
    )
    enricher = create_memory_enricher(
        model,
        schemas=[UserProfile],
        instructions="Extract user profile information",
        enable_inserts=False,
        structured_output=style,
    )
    conversation1 = [{"role": "user", "content": "I'm Alice from California"}]
    memories = invoke(enricher, {"messages": conversation1})
    assert len(memories) == 1
    assert isinstance(memories[0], ExtractedMemory)
    assert memories[0].content == UserProfile(
        name="Alice", language=None, timezone="America/Los_Angeles"
    )

    conversation2 = [{"role": "user", "content": "I speak Spanish too!"}]
    update_ = invoke(enricher, {"messages": conversation2, "existing": memories})
    assert len(update_) == 1
    assert update_[0].id == memories[0].id  # updated in place
    assert update_[0].content == UserProfile(
        name="Alice", language="Spanish", timezone="America/Los_Angeles"
    )
    # Profile mode: the first call may create the profile, the second only patch it.
    assert offered(model.calls[0]) == {"insert:UserProfile", "done"}
    assert offered(model.calls[1]) == {"update", "done"}
    assert "I'm Alice from California" in model.calls[0].text
    assert "Extract user profile information" in model.calls[0].text


class Triple(BaseModel):
    """Store all new facts, preferences, and relationships as triples."""

    subject: str
    predicate: str
    object: str
    context: str | None = None


def _id_of(call: FakeCall, subject: str, predicate: str) -> str:
    for m in call.memories():
        c = m["content"]
        if c["subject"] == subject and c["predicate"] == predicate:
            return str(m["id"])
    raise AssertionError(f"{subject} {predicate} not shown to the model")


def test_extract_semantic_memories_with_triple_deletes(
    call_mode: str, invoke: Any, style: str
) -> None:
    # 004 guides/extract_semantic_memories.md, "Without storage"
    model = FakeChatModel(
        [
            [
                insert(Triple(subject="Alice", predicate="manages", object="ML_team")),
                insert(Triple(subject="Alice", predicate="mentors", object="Bob")),
                insert(Triple(subject="Bob", predicate="is_member_of", object="ML_team")),
            ],
            lambda call: [
                delete(_id_of(call, "Alice", "manages")),
                insert(Triple(subject="Bob", predicate="leads", object="ML_team")),
                insert(Triple(subject="Bob", predicate="leads", object="NLP_project")),
            ],
            lambda call: [
                delete(_id_of(call, "Alice", "mentors")),
                insert(
                    Triple(subject="Alice", predicate="employment_status", object="left_company")
                ),
            ],
        ]
    )
    manager = create_memory_manager(
        model,
        schemas=[Triple],
        instructions="Extract user preferences and any other useful information",
        enable_inserts=True,
        enable_deletes=True,
        structured_output=style,
    )
    conversation1 = [
        {
            "role": "user",
            "content": "Alice manages the ML team and mentors Bob, who is also on the team.",
        }
    ]
    memories = invoke(manager, {"messages": conversation1})
    assert [(m.content.subject, m.content.predicate, m.content.object) for m in memories] == [
        ("Alice", "manages", "ML_team"),
        ("Alice", "mentors", "Bob"),
        ("Bob", "is_member_of", "ML_team"),
    ]
    assert len({m.id for m in memories}) == 3

    conversation2 = [{"role": "user", "content": "Bob now leads the ML team and the NLP project."}]
    update_ = invoke(manager, {"messages": conversation2, "existing": memories})
    removed = [m for m in update_ if isinstance(m.content, RemoveDoc)]
    assert [(m.id, m.content.json_doc_id) for m in removed] == [(memories[0].id, memories[0].id)]
    kept = [m for m in update_ if isinstance(m.content, Triple)]
    assert [m.content.object for m in kept] == ["Bob", "ML_team", "ML_team", "NLP_project"]
    assert kept[0].id == memories[1].id
    assert kept[1].id == memories[2].id

    existing = [m for m in update_ if isinstance(m.content, Triple)]
    conversation3 = [{"role": "user", "content": "Alice left the company."}]
    final = invoke(manager, {"messages": conversation3, "existing": existing})
    assert [m.content.json_doc_id for m in final if isinstance(m.content, RemoveDoc)] == [
        memories[1].id
    ]
    assert {
        (m.content.subject, m.content.predicate) for m in final if isinstance(m.content, Triple)
    } == {
        ("Bob", "is_member_of"),
        ("Bob", "leads"),
        ("Alice", "employment_status"),
    }


class Episode(BaseModel):
    """Write the episode from the perspective of the agent within it. Use the benefit of
    hindsight to record the memory, saving the agent's key internal thought process so it can
    learn over time."""

    observation: str = Field(..., description="The context and setup - what happened")
    thoughts: str = Field(
        ...,
        description="Internal reasoning process and observations of the agent in the episode "
        'that let it arrive at the correct action and result. "I ..."',
    )
    action: str = Field(..., description="What was done, how, and in what format. I ..")
    result: str = Field(..., description="Outcome and retrospective. I ...")


BINARY_TREE_CONVERSATION = [
    {"role": "user", "content": "What's a binary tree? I work with family trees if that helps"},
    {
        "role": "assistant",
        "content": "A binary tree is like a family tree, but each parent has at most 2 "
        "children. Here's a simple example:\n   Bob\n  /  \\\nAmy  Carl\n\nJust like in family "
        "trees, we call Bob the 'parent' and Amy and Carl the 'children'.",
    },
    {
        "role": "user",
        "content": "Oh that makes sense! So in a binary search tree, would it be like "
        "organizing a family by age?",
    },
]


def test_extract_episodic_memories(call_mode: str, invoke: Any) -> None:
    episode = Episode(
        observation="In a teaching interaction, I used a family tree analogy.",
        thoughts="I noticed that familiar concepts made it accessible.",
        action="I explained binary trees with a family tree metaphor.",
        result="The student understood and extended the analogy.",
    )
    model = FakeChatModel([[insert(episode)]])
    manager = create_memory_manager(
        model,
        schemas=[Episode],
        instructions="Extract examples of successful explanations, capturing the full chain of "
        "reasoning. Be concise in your explanations and precise in the logic of your reasoning.",
        enable_inserts=True,
    )
    episodes = invoke(manager, {"messages": BINARY_TREE_CONVERSATION})
    assert episodes[0].content == episode
    # The schema (with its field descriptions) reaches the model as the Episode tool.
    (tool,) = [t for t in model.calls[0].tools if t["function"]["name"] == "Episode"]
    assert tool["function"]["description"].startswith("Write the episode from the perspective")
    props = tool["function"]["parameters"]["properties"]
    assert props["observation"]["description"] == "The context and setup - what happened"
    assert "organizing a family by age" in model.calls[0].text


def test_conceptual_guide_collection(call_mode: str, invoke: Any) -> None:
    model = FakeChatModel(
        [
            [
                insert("[BACKGROUND] User works at Acme Corp in the ML team"),
                insert("[WORK] User mostly does NLP and large language models"),
            ]
        ]
    )
    manager = create_memory_manager(
        model,
        instructions="Extract all noteworthy facts, events, and relationships. Indicate their "
        "importance.",
        enable_inserts=True,
    )
    conversation = [
        {"role": "user", "content": "I work at Acme Corp in the ML team"},
        {"role": "assistant", "content": "I'll remember that. What kind of ML work do you do?"},
        {"role": "user", "content": "Mostly NLP and large language models"},
    ]
    memories = invoke(manager, {"messages": conversation})
    assert all(isinstance(m.content, Memory) for m in memories)
    assert [m.content.content for m in memories] == [
        "[BACKGROUND] User works at Acme Corp in the ML team",
        "[WORK] User mostly does NLP and large language models",
    ]
    transcript = model.calls[0].text
    assert "user: I work at Acme Corp in the ML team" in transcript
    assert "assistant: I'll remember that." in transcript


class StrictUserProfile(BaseModel):
    """Save the user's preferences."""

    name: str
    preferred_name: str
    response_style_preference: str
    special_skills: list[str]
    other_preferences: list[str]


def test_conceptual_guide_profile(call_mode: str, invoke: Any) -> None:
    profile = StrictUserProfile(
        name="Alex",
        preferred_name="Lex",
        response_style_preference="casual and witty with appropriate emojis",
        special_skills=["Python programming", "AI development", "competitive speedcubing"],
        other_preferences=["prefers informal communication"],
    )
    model = FakeChatModel([[insert(profile)]])
    manager = create_memory_manager(
        model,
        schemas=[StrictUserProfile],
        instructions="Extract user preferences and settings",
        enable_inserts=False,
    )
    conversation = [
        {"role": "user", "content": "Hi! I'm Alex but please call me Lex. I'm a wizard at Python"},
        {"role": "assistant", "content": "Nice to meet you, Lex!"},
        {"role": "user", "content": "Keep it casual and witty. Also I do competitive speedcubing!"},
    ]
    result = invoke(manager, {"messages": conversation})[0]
    assert result.content == profile


class PreferenceMemory(BaseModel):
    """Store the user's preference"""

    category: str
    preference: str
    context: str


DARK_MODE = [
    {"role": "user", "content": "I prefer dark mode in all my apps"},
    {"role": "assistant", "content": "I'll remember that preference"},
]


def test_api_reference_basic_unstructured() -> None:
    model = FakeChatModel([[insert("User prefers dark mode for all applications")]])
    manager = create_memory_manager(model)
    memories = asyncio.run(manager(DARK_MODE))
    assert memories[0][1] == Memory(content="User prefers dark mode for all applications")


def test_api_reference_structured_then_existing_then_insertion_only() -> None:
    dark = PreferenceMemory(
        category="ui",
        preference="dark_mode",
        context="User explicitly stated preference for dark mode in all applications",
    )
    model = FakeChatModel(
        [
            [insert(dark)],
            lambda call: [update(call.memories()[0]["id"], set={"preference": "light_mode"})],
        ]
    )
    manager = create_memory_manager(model, schemas=[PreferenceMemory])
    memories = asyncio.run(manager(DARK_MODE))
    assert memories[0][1] == dark

    conversation = [
        {"role": "user", "content": "Actually I changed my mind, dark mode hurts my eyes"},
        {"role": "assistant", "content": "I'll update your preference"},
    ]
    updated = asyncio.run(manager.ainvoke({"messages": conversation, "existing": memories}))
    assert len(updated) == 1
    assert updated[0].id == memories[0].id
    assert updated[0].content.preference == "light_mode"

    # Insertion-only: updates and deletes are not offered; the model can only add.
    best = PreferenceMemory(category="ui", preference="dark_mode", context="dark mode is the best")
    model2 = FakeChatModel([[insert(best)]])
    manager2 = create_memory_manager(
        model2, schemas=[PreferenceMemory], enable_updates=False, enable_deletes=False
    )
    insertion_only = asyncio.run(manager2.ainvoke({"messages": conversation, "existing": memories}))
    assert [m.content for m in insertion_only] == [dark, best]
    assert insertion_only[0].id == memories[0].id
    assert offered(model2.calls[0]) == {"insert:PreferenceMemory", "done"}


def test_api_reference_max_steps() -> None:
    first = PreferenceMemory(category="ui", preference="dark", context="said so")
    model = FakeChatModel(
        [
            [insert(first)],
            lambda call: [
                update(call.memories()[0]["id"], set={"preference": "dark_mode"}),
            ],
            [],  # nothing more: the manager stops before the third pass
        ]
    )
    manager = create_memory_manager(model, schemas=[PreferenceMemory])
    memories = asyncio.run(manager.ainvoke({"messages": DARK_MODE, "max_steps": 3}))
    assert [m.content.preference for m in memories] == ["dark_mode"]
    assert len(model.calls) == 3
    assert "pass 2 of 3" in model.calls[1].prompt
    # The second pass sees the memory created by the first.
    assert model.calls[1].memories()[0]["content"]["preference"] == "dark"
