"""Agno's support-agent example with retain: a custom profile schema for a support desk.

``SupportProfile`` extends :class:`retain.UserProfile` (a dataclass, as in Agno) with
company, plan and expertise. The learning machine runs in ``ALWAYS`` mode: after each turn
the profile is updated in the background and injected into the next prompts, in any thread.

Run offline with fake models: ``python examples/support_agent.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.memory import MemorySaver
from langgraph.store.base import BaseStore

from retain import LearningMachine, UserProfile, UserProfileConfig, create_learning_agent

INSTRUCTIONS = "You are a helpful support agent. Use the user's profile to personalize responses."


@dataclass
class SupportProfile(UserProfile):
    company: str | None = field(default=None, metadata={"description": "Company name"})
    plan: str | None = field(default=None, metadata={"description": "Subscription plan"})
    expertise: str | None = field(
        default=None, metadata={"description": "Technical expertise level"}
    )


def build(model: BaseChatModel, extractor: BaseChatModel, store: BaseStore) -> tuple[Any, Any]:
    """The support agent and its learning machine."""
    machine = LearningMachine(
        extractor, store=store, user_profile=UserProfileConfig(schema=SupportProfile)
    )
    agent = create_learning_agent(model, machine, prompt=INSTRUCTIONS, checkpointer=MemorySaver())
    return agent, machine


def ask(agent: Any, text: str, user_id: str, session_id: str) -> str:
    config = {"configurable": {"user_id": user_id, "thread_id": session_id}}
    return str(agent.invoke({"messages": [("user", text)]}, config)["messages"][-1].content)


def main() -> None:
    from langgraph.store.memory import InMemoryStore

    from retain.testing import FakeChatModel, done, update

    extractor = FakeChatModel(
        [
            [
                update(
                    "default",
                    set={"name": "Sam Lee", "company": "Acme", "plan": "enterprise"},
                )
            ],
            [done()],
        ]
    )
    model = FakeChatModel(["Thanks Sam, let me look.", "Enterprise plans include SSO."])
    agent, machine = build(model, extractor, InMemoryStore())
    print(ask(agent, "I'm Sam Lee from Acme, on the enterprise plan. SSO is broken.", "sam", "s1"))
    machine.flush()
    print(ask(agent, "Does my plan include SSO?", "sam", "s2"))
    print(model.calls[-1].system)
    machine.shutdown()


if __name__ == "__main__":
    main()
