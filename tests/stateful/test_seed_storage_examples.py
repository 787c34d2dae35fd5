"""The "with storage" examples of the LangMem docs (the seeds), run offline on each store.

Code is kept as in the docs, with ``langmem`` -> ``retain``, hosted models -> scripted
fakes, and the docs' ``InMemoryStore`` -> the parametrized ``store`` fixture.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from langgraph.checkpoint.memory import MemorySaver
from langgraph.config import get_config, get_store
from langgraph.func import entrypoint
from langgraph.prebuilt import create_react_agent
from langgraph.store.base import BaseStore
from pydantic import BaseModel

from retain import (
    create_manage_memory_tool,
    create_memory_store_manager,
    create_search_memory_tool,
)
from retain.errors import ConfigurationError
from retain.testing import FakeCall, FakeChatModel, delete, insert, tool_call, update


def _agent_model(*turns: Any) -> FakeChatModel:
    """A react-agent model: each turn is tool calls, then a final text answer."""
    replies: list[Any] = []
    for turn in turns:
        if turn:
            replies.append(turn)
        replies.append("Done.")
    return FakeChatModel(replies)


def test_hot_path_agent_with_prompt_that_searches_the_store(store: BaseStore) -> None:
    # 004 hot-path quickstart: create_react_agent + manage tool + prompt searching the store
    def prompt(state: Any) -> list[Any]:
        store = get_store()
        memories = store.search(("memories",), query=state["messages"][-1].content)
        system_msg = (
            f"You are a helpful assistant.\n\n## Memories\n<memories>\n{memories}\n</memories>\n"
        )
        return [{"role": "system", "content": system_msg}, *state["messages"]]

    model = _agent_model(
        [tool_call("manage_memory", content="User prefers dark mode", action="create")], []
    )
    agent = create_react_agent(
        model,
        prompt=prompt,
        tools=[create_manage_memory_tool(namespace=("memories",))],
        store=store,
        checkpointer=MemorySaver(),
    )
    config = {"configurable": {"thread_id": "thread-a"}}
    agent.invoke(
        {"messages": [{"role": "user", "content": "Remember that I prefer dark mode."}]}, config
    )
    assert [i.value for i in store.search(("memories",))] == [{"content": "User prefers dark mode"}]
    agent.invoke(
        {"messages": [{"role": "user", "content": "What are my lighting preferences?"}]},
        {"configurable": {"thread_id": "thread-b"}},
    )
    assert "User prefers dark mode" in model.calls[-1].system


def test_memory_tools_isolate_users(store: BaseStore) -> None:
    # 004 memory_tools: both tools share ("memories", "{user_id}")
    model = _agent_model(
        [tool_call("manage_memory", content="favorite color is blue")],
        [tool_call("manage_memory", content="prefers dark mode")],
        [tool_call("search_memory", query="preferences")],
    )
    agent = create_react_agent(
        model,
        tools=[
            create_manage_memory_tool(namespace=("memories", "{user_id}")),
            create_search_memory_tool(namespace=("memories", "{user_id}")),
        ],
        store=store,
    )
    agent.invoke(
        {"messages": [{"role": "user", "content": "Remember my favorite color is blue"}]},
        config={"configurable": {"user_id": "user-a"}},
    )
    agent.invoke(
        {"messages": [{"role": "user", "content": "Remember I prefer dark mode"}]},
        config={"configurable": {"user_id": "user-b"}},
    )
    result = agent.invoke(
        {"messages": [{"role": "user", "content": "What are my preferences?"}]},
        config={"configurable": {"user_id": "user-b"}},
    )
    found = json.loads(result["messages"][-2].content)  # the search tool's result
    assert [m["value"]["content"] for m in found] == ["prefers dark mode"]
    assert [i.value["content"] for i in store.search(("memories", "user-a"))] == [
        "favorite color is blue"
    ]


def test_agent_writes_its_own_namespace_and_searches_the_team(store: BaseStore) -> None:
    # 004 memory_tools "Shared Storage"
    def team_agent(name: str, note: str) -> Any:
        model = _agent_model(
            [tool_call("manage_memory", content=note)],
            [tool_call("search_memory", query="report findings")],
        )
        tools = [
            create_manage_memory_tool(namespace=("memories", "team_a", name)),
            create_search_memory_tool(namespace=("memories", "team_a")),
        ]
        return create_react_agent(model, tools=tools, store=store, prompt="You are on team A.")

    agent_a = team_agent("agent_a", "research findings: cats sleep 16h")
    agent_b = team_agent("agent_b", "report draft: cat sleep findings")
    agent_a.invoke({"messages": [{"role": "user", "content": "Note your research"}]})
    agent_b.invoke({"messages": [{"role": "user", "content": "Note your draft"}]})
    result = agent_b.invoke({"messages": [{"role": "user", "content": "What does the team know?"}]})
    found = json.loads(result["messages"][-2].content)
    assert sorted(tuple(m["namespace"]) for m in found) == [
        ("memories", "team_a", "agent_a"),
        ("memories", "team_a", "agent_b"),
    ]
    assert [i.value["content"] for i in store.search(("memories", "team_a", "agent_a"))] == [
        "research findings: cats sleep 16h"
    ]


def test_custom_anthropic_loop(store: BaseStore) -> None:
    # 004 use_tools_in_custom_agent, Anthropic: schema by hand, tool_use blocks' .input dicts
    def execute_tool(tools_by_name: dict[str, Any], tool_call: Any) -> str:
        tool_name = tool_call.name
        if tool_name not in tools_by_name:
            return f"Error: Tool {tool_name} not found"
        tool = tools_by_name[tool_name]
        try:
            result = tool.invoke(tool_call.input)
            return str(result)
        except Exception as e:
            return f"Error executing {tool_name}: {e!s}"

    memory_tools = [
        create_manage_memory_tool(namespace="memories", store=store),
        create_search_memory_tool(namespace="memories", store=store),
    ]
    anthropic_tools = [
        {
            "name": tool.name,
            "description": tool.description,
            "input_schema": tool.tool_call_schema.model_json_schema(),
        }
        for tool in memory_tools
    ]
    assert {t["name"] for t in anthropic_tools} == {"manage_memory", "search_memory"}
    tools_by_name = {tool.name: tool for tool in memory_tools}
    for text in ("User likes cherry pie", "User dislikes rocky road"):
        block = SimpleNamespace(
            type="tool_use", name="manage_memory", input={"content": text}, id="t"
        )
        assert execute_tool(tools_by_name, block).startswith("created memory ")
    assert sorted(i.value["content"] for i in store.search(("memories",))) == [
        "User dislikes rocky road",
        "User likes cherry pie",
    ]


def test_custom_openai_loop_with_json_string_arguments(store: BaseStore) -> None:
    # 004 use_tools_in_custom_agent, OpenAI: tool_call["function"]["arguments"] is a JSON string
    def execute_tool(tools_by_name: dict[str, Any], tool_call: dict[str, Any]) -> str:
        tool_name = tool_call["function"]["name"]
        if tool_name not in tools_by_name:
            return f"Error: Tool {tool_name} not found"
        tool = tools_by_name[tool_name]
        try:
            result = tool.invoke(tool_call["function"]["arguments"])
            return str(result)
        except Exception as e:
            return f"Error executing {tool_name}: {e!s}"

    memory_tools = [
        create_manage_memory_tool(namespace="memories", store=store),
        create_search_memory_tool(namespace="memories", store=store),
    ]
    tools_by_name = {tool.name: tool for tool in memory_tools}
    for content in ("likes cherry pie", "dislikes rocky road"):
        call = {
            "id": "call_1",
            "type": "function",
            "function": {
                "name": "manage_memory",
                "arguments": json.dumps({"action": "create", "content": content}),
            },
        }
        assert execute_tool(tools_by_name, call).startswith("created memory ")
    search = {"function": {"name": "search_memory", "arguments": '{"query": "pie"}'}}
    assert "likes cherry pie" in execute_tool(tools_by_name, search)
    # unlike LangMem's output in the docs, the content is the memory, not the JSON arguments
    assert sorted(i.value["content"] for i in store.search(("memories",))) == [
        "dislikes rocky road",
        "likes cherry pie",
    ]


class UserProfile(BaseModel):
    """Represents the full representation of a user."""

    name: str | None = None
    language: str | None = None
    timezone: str | None = None


def test_manage_user_profile_with_storage(store: BaseStore) -> None:
    # 004 manage_user_profile "With LangGraph's Long-term Memory Store"
    def profile_update(call: FakeCall) -> Any:
        if not call.memories():
            return [insert(UserProfile(name="Alice", timezone="America/Los_Angeles"))]
        return [update(call.memories()[0]["id"], set={"language": "Spanish"})]

    my_llm = FakeChatModel(lambda call: f"Hi! profile seen: {'Alice' in call.system}")
    manager = create_memory_store_manager(
        FakeChatModel(profile_update),
        namespace=("users", "{user_id}", "profile"),
        schemas=[UserProfile],
        enable_inserts=False,
    )

    @entrypoint(store=store)
    def chat(messages: list[Any]) -> str:
        configurable = get_config()["configurable"]
        results = store.search(("users", configurable["user_id"], "profile"))
        profile = ""
        if results:
            profile = f"<User Profile>:\n\n{results[0].value}\n</User Profile>\n"
        response = my_llm.invoke(
            [{"role": "system", "content": f"You are a helpful assistant.{profile}"}, *messages]
        )
        manager.invoke({"messages": messages})
        return str(response.content)

    config = {"configurable": {"user_id": "user-a"}}
    assert chat.invoke([{"role": "user", "content": "I'm Alice from California"}], config) == (
        "Hi! profile seen: False"
    )
    assert chat.invoke([{"role": "user", "content": "I speak Spanish too!"}], config) == (
        "Hi! profile seen: True"
    )
    (profile,) = store.search(("users", "user-a", "profile"))
    assert profile.value["content"] == {
        "name": "Alice",
        "language": "Spanish",
        "timezone": "America/Los_Angeles",
    }


class Episode(BaseModel):
    """An episode: what happened, what was thought, what was done, how it went."""

    observation: str
    thoughts: str
    action: str
    result: str


def test_episodic_memories_with_storage(store: BaseStore) -> None:
    # 004 extract_episodic_memories "With storage"
    manager = create_memory_store_manager(
        FakeChatModel(
            [
                [
                    insert(
                        Episode(
                            observation="User asked about binary trees",
                            thoughts="Use a family tree analogy",
                            action="Explained with a family tree",
                            result="Understood",
                        )
                    )
                ]
            ]
        ),
        namespace=("memories", "episodes"),
        schemas=[Episode],
        instructions="Extract exceptional examples of noteworthy problem-solving scenarios.",
        enable_inserts=True,
        store=store,
    )
    manager.invoke({"messages": [{"role": "user", "content": "Explain binary trees"}]})
    similar = store.search(("memories", "episodes"), query="binary tree explanation", limit=1)
    episode = similar[0].value["content"]
    assert similar[0].value["kind"] == "Episode"
    assert episode["action"] == "Explained with a family tree"


class Triple(BaseModel):
    """Store all new facts, preferences, and relationships as triples."""

    subject: str
    predicate: str
    object: str
    context: str | None = None


def _triples_model(call: FakeCall) -> list[Any]:
    """Plays the docs' Claude: what it would extract from each of the three conversations."""
    said = call.prompt
    if "Alice manages" in said:
        return [
            insert(Triple(subject="Alice", predicate="manages", object="ML_team")),
            insert(Triple(subject="Alice", predicate="mentors", object="Bob")),
            insert(Triple(subject="Bob", predicate="is_member_of", object="ML_team")),
        ]
    if "Bob now leads" in said:
        return [
            insert(Triple(subject="Bob", predicate="leads", object="ML_team")),
            insert(Triple(subject="Bob", predicate="leads", object="NLP_project")),
        ]
    assert "Alice left" in said
    about_alice = [m["id"] for m in call.memories() if m["content"]["subject"] == "Alice"]
    assert len(about_alice) == 2, "both triples about Alice must be recalled for the model"
    return [
        *(delete(memory_id) for memory_id in about_alice),
        insert(Triple(subject="Alice", predicate="employment_status", object="left_company")),
    ]


def test_semantic_triples_with_storage(store: BaseStore) -> None:
    # 004 extract_semantic_memories "With storage": @entrypoint(store=store), three conversations
    manager = create_memory_store_manager(
        FakeChatModel(_triples_model),
        namespace=("chat", "{user_id}", "triples"),
        schemas=[Triple],
        instructions="Extract all user information and events as triples.",
        enable_inserts=True,
        enable_deletes=True,
    )
    my_llm = FakeChatModel(["Noted."], cycle=True)

    @entrypoint(store=store)
    def app(messages: list[Any]) -> Any:
        response = my_llm.invoke(
            [{"role": "system", "content": "You are a helpful assistant."}, *messages]
        )
        manager.invoke({"messages": messages})
        return response

    config = {"configurable": {"user_id": "user123"}}
    said = [
        "Alice manages the ML team and mentors Bob, who is also on the team.",
        "Bob now leads the ML team and the NLP project.",
        "Alice left the company.",
    ]
    for text in said:
        app.invoke([{"role": "user", "content": text}], config=config)

    stored = store.search(("chat", "user123"), limit=20)
    assert {item.namespace for item in stored} == {("chat", "user123", "triples")}
    assert sorted(
        (
            i.value["kind"],
            i.value["content"]["subject"],
            i.value["content"]["predicate"],
            i.value["content"]["object"],
            i.value["content"]["context"],
        )
        for i in stored
    ) == [
        ("Triple", "Alice", "employment_status", "left_company", None),
        ("Triple", "Bob", "is_member_of", "ML_team", None),
        ("Triple", "Bob", "leads", "ML_team", None),
        ("Triple", "Bob", "leads", "NLP_project", None),
    ]
    assert store.search(("chat", "someone-else")) == []


def test_dynamic_namespace_tool_without_a_store_argument(store: BaseStore) -> None:
    # 004 dynamically_configure_namespaces: the tool gets no store; the agent's store is used
    tool = create_manage_memory_tool(namespace=("memories", "{user_id}"))
    model = _agent_model([tool_call("manage_memory", content="User likes dolphins")])
    app = create_react_agent(model, tools=[tool], store=store)
    app.invoke(
        {"messages": [{"role": "user", "content": "I like dolphins"}]},
        config={"configurable": {"user_id": "user-123"}},
    )
    assert [i.value for i in store.search(("memories", "user-123"))] == [
        {"content": "User likes dolphins"}
    ]


def test_dynamic_namespace_common_patterns(store: BaseStore) -> None:
    # 004 dynamically_configure_namespaces "Common Patterns"
    def run(tool: Any, text: str, call: dict[str, Any], **configurable: str) -> list[Any]:
        model = _agent_model([call])
        app = create_react_agent(model, tools=[tool], store=store)
        result = app.invoke(
            {"messages": [{"role": "user", "content": text}]},
            config={"configurable": configurable},
        )
        return list(result["messages"])

    # Organization-level
    run(
        create_manage_memory_tool(namespace=("memories", "{org_id}")),
        "I'm questioning the new company health plan..",
        tool_call("manage_memory", content="Questions the new health plan"),
        org_id="acme",
    )
    # User within organization
    run(
        create_manage_memory_tool(namespace=("memories", "{org_id}", "{user_id}")),
        "Dogs are welcome at work on Fridays",
        tool_call("manage_memory", content="Dogs allowed at work on Fridays"),
        org_id="acme",
        user_id="alice",
    )
    # Search over all users within an organization
    messages = run(
        create_search_memory_tool(namespace=("memories", "{org_id}")),
        "What's our policy on dogs at work?",
        tool_call("search_memory", query="dogs at work policy"),
        org_id="acme",
        user_id="alice",
    )
    found = json.loads(messages[-2].content)
    assert {tuple(m["namespace"]) for m in found} == {
        ("memories", "acme"),
        ("memories", "acme", "alice"),
    }
    # By type or category
    run(
        create_manage_memory_tool(
            namespace=("agent_smith", "memories", "{user_id}", "preferences")
        ),
        "I like dolphins",
        tool_call("manage_memory", content="Likes dolphins"),
        user_id="alice",
    )
    assert [i.value["content"] for i in store.search(("agent_smith", "memories", "alice"))] == [
        "Likes dolphins"
    ]
    assert [i.value["content"] for i in store.search(("memories", "acme", "alice"))] == [
        "Dogs allowed at work on Fridays"
    ]
    # A missing template variable is the developer's bug: it raises (as in LangMem), naming
    # the key, instead of telling the agent; nothing is written
    before = len(store.search(("memories",), limit=100))
    with pytest.raises(ConfigurationError, match="'user_id'"):
        run(
            create_manage_memory_tool(namespace=("memories", "{org_id}", "{user_id}")),
            "Remember this",
            tool_call("manage_memory", content="orphan"),
            org_id="acme",
        )
    assert len(store.search(("memories",), limit=100)) == before
