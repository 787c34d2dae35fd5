"""LangGraph integration: a learning machine attached to ``create_react_agent``.

:func:`create_learning_agent` builds the prebuilt ReAct agent with

* a ``prompt`` that puts the user's ``<user_profile>`` / ``<user_memory>`` blocks after
  the base system prompt (recall query: the last human message),
* the machine's tools added to the agent's (``AGENTIC`` mode only),
* a ``post_model_hook`` that schedules ``ALWAYS``-mode extraction once the model answers
  without calling a tool (the end of a turn).

``user_id`` comes from ``config["configurable"]``; the checkpointer keeps each thread, the
machine's store carries what is learned across threads. In an ``@entrypoint`` call
``machine.system_message(config, ...)`` before the model and ``machine.after_turn(...)``
after it (see docs/profiles.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage

from retain.graph_context import current_config
from retain.profiles.machine import LearningMachine

__all__ = ["create_learning_agent", "learning_post_model_hook", "learning_prompt"]


def learning_prompt(
    machine: LearningMachine, base: str = ""
) -> Callable[[dict[str, Any]], list[BaseMessage]]:
    """A ``prompt`` for ``create_react_agent``: ``base`` plus the user's context blocks."""

    def prompt(state: dict[str, Any]) -> list[BaseMessage]:
        messages = list(state["messages"])
        config = current_config() or {}
        text = machine.system_prompt(base, config, query=machine.last_user_text(messages))
        return [SystemMessage(content=text), *messages] if text else messages

    return prompt


def learning_post_model_hook(machine: LearningMachine) -> Callable[[dict[str, Any]], Any]:
    """A ``post_model_hook`` that schedules extraction when a turn ends."""

    def hook(state: dict[str, Any]) -> dict[str, Any]:
        messages = list(state["messages"])
        last = messages[-1] if messages else None
        if isinstance(last, AIMessage) and not last.tool_calls:
            machine.after_turn(messages, current_config() or {})
        return {}

    return hook


def create_learning_agent(
    model: Any,
    machine: LearningMachine,
    tools: Sequence[Any] = (),
    *,
    prompt: str = "You are a helpful assistant.",
    checkpointer: Any = None,
    **kwargs: Any,
) -> Any:
    """``create_react_agent`` with ``machine`` attached (prompt, tools, post-turn hook).

    Example:
        >>> from langgraph.checkpoint.memory import MemorySaver
        >>> from langgraph.store.memory import InMemoryStore
        >>> from retain.profiles import LearningMachine, create_learning_agent
        >>> from retain.testing import FakeChatModel, update
        >>> ali = [update("default", set={"preferred_name": "Ali"})]
        >>> extractor = FakeChatModel([ali], cycle=True)
        >>> machine = LearningMachine(extractor, store=InMemoryStore())
        >>> agent_model = FakeChatModel(["Hello!"], cycle=True)
        >>> agent = create_learning_agent(agent_model, machine, checkpointer=MemorySaver())
        >>> config = {"configurable": {"user_id": "u1", "thread_id": "a"}}
        >>> agent.invoke({"messages": [("user", "Call me Ali")]}, config)["messages"][-1].content
        'Hello!'
        >>> machine.flush()  # waits for the background extraction
        >>> config_b = {"configurable": {"user_id": "u1", "thread_id": "b"}}
        >>> _ = agent.invoke({"messages": [("user", "Hi")]}, config_b)
        >>> "Preferred Name: Ali" in agent_model.calls[-1].system
        True
        >>> machine.shutdown()
    """
    from langgraph.prebuilt import create_react_agent

    return create_react_agent(
        model,
        [*tools, *machine.tools],
        prompt=learning_prompt(machine, prompt),
        post_model_hook=learning_post_model_hook(machine),
        checkpointer=checkpointer,
        store=kwargs.pop("store", machine.store),
        **kwargs,
    )
