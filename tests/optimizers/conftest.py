"""Helpers for the prompt-optimizer tests: what a call offered, scripted step answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from retain.testing import FakeCall, structured_reply

Reply = Callable[[FakeCall], Any]


@pytest.fixture(params=["tool_calling", "json_schema"])
def style(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both structured-output styles."""
    return str(request.param)


def offered(call: FakeCall) -> list[str]:
    """The actions an optimizer call let the model take, in either style."""
    if call.style == "tool_calling":
        return call.tool_names
    schema = call.response_schema or {}
    return [v["properties"]["action"]["const"] for v in schema.get("anyOf", [schema])]


def think(thought: str = "Let me reason about the sessions.") -> Reply:
    return structured_reply("think", thought=thought)


def critique(criticism: str = "That reasoning misses the feedback.") -> Reply:
    return structured_reply("critique", criticism=criticism)


def recommend(
    warrants: bool = True,
    hypotheses: str = "The prompt does not ask for detail.",
    recommendations: str = "Ask for detailed answers with follow-up questions.",
) -> Reply:
    return structured_reply(
        "recommend",
        warrants_adjustment=warrants,
        hypotheses=hypotheses,
        full_recommendations=recommendations,
    )


def improved(prompt: str | None, analysis: str = "The answers lacked detail.") -> Reply:
    return structured_reply("OptimizedPromptOutput", analysis=analysis, improved_prompt=prompt)


def general(new_prompt: str, update: bool = True, logic: str = "Users want more.") -> Reply:
    return structured_reply(
        "GeneralResponse", logic=logic, update_prompt=update, new_prompt=new_prompt
    )


def classify(*which: str, reasoning: str = "Attributed from the sessions.") -> Reply:
    return structured_reply("Classify", reasoning=reasoning, which=list(which))


def reflect_then(final: Reply, *, final_action: str, eager: bool = False) -> Reply:
    """A reply function: think while allowed (or answer as soon as allowed if ``eager``)."""

    def reply(call: FakeCall) -> Any:
        names = offered(call)
        if final_action in names and (eager or names == [final_action]):
            return final
        return think(f"thought at call {call.index + 1}")

    return reply


def shown(call: FakeCall) -> str:
    """Everything the model was shown in ``call``, including earlier tool-call arguments."""
    parts = [call.text]
    for m in call.messages:
        if isinstance(m, AIMessage):
            parts.extend(str(tc["args"]) for tc in m.tool_calls)
    return "\n".join(parts)
