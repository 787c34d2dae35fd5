"""The optimization core runs without any driver or model: requests out, replies in."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from retain.core.optimization import (
    OptimizerSpec,
    parse_prompt,
    parse_trajectories,
)
from retain.core.optimization.flows import optimize_flow

TRAJECTORIES = parse_trajectories([([{"role": "user", "content": "Explain recursion"}], "vague")])


def _tool_reply(name: str, call_id: str, **args: object) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def test_gradient_flow_by_hand_tool_calling() -> None:
    spec = OptimizerSpec.build("gradient", {"max_reflection_steps": 2, "min_reflection_steps": 1})
    flow = optimize_flow(spec, parse_prompt("Explain things"), TRAJECTORIES)
    first = next(flow)
    assert [t["function"]["name"] for t in first.tools] == ["think", "critique"]
    assert first.tool_choice == "any"
    assert "Explain recursion" in first.messages[0].content
    assert "vague" in first.messages[0].content

    second = flow.send(_tool_reply("think", "t1", thought="too abstract"))
    # The think call is answered with a tool result before the next step (provider rule).
    assert isinstance(second.messages[-1], ToolMessage)
    assert second.messages[-1].tool_call_id == "t1"
    assert [t["function"]["name"] for t in second.tools] == ["recommend"]
    assert second.tool_choice == "recommend"

    update = flow.send(
        _tool_reply(
            "recommend",
            "r1",
            warrants_adjustment=True,
            hypotheses="abstract",
            full_recommendations="add an example",
        )
    )
    assert len(update.messages) == 1  # a fresh conversation for the update step
    assert "add an example" in update.messages[0].content
    with pytest.raises(StopIteration) as stop:
        flow.send(
            _tool_reply(
                "OptimizedPromptOutput",
                "o1",
                analysis="ok",
                improved_prompt="Explain things with one example.",
            )
        )
    result = stop.value.value
    assert (result.prompt, result.changed, result.model_calls) == (
        "Explain things with one example.",
        True,
        3,
    )


def test_metaprompt_flow_by_hand_json_schema() -> None:
    spec = OptimizerSpec.build(
        "metaprompt", {"max_reflection_steps": 2, "min_reflection_steps": 1}, style="json_schema"
    )
    flow = optimize_flow(spec, parse_prompt({"name": "x", "prompt": "P"}), TRAJECTORIES)
    first = next(flow)
    assert first.tools == ()
    schema = first.response_schema
    assert schema is not None
    assert [v["properties"]["action"]["const"] for v in schema["anyOf"]] == [
        "think",
        "critique",
        "OptimizedPromptOutput",
    ]
    second = flow.send(AIMessage(content=json.dumps({"action": "think", "thought": "hm"})))
    assert isinstance(second.messages[-1], HumanMessage)
    assert second.response_schema is not None
    assert second.response_schema["properties"]["action"] == {"const": "OptimizedPromptOutput"}
    with pytest.raises(StopIteration) as stop:
        flow.send(AIMessage(content='```json\n{"analysis": "a", "improved_prompt": "P2"}\n```'))
    assert stop.value.value.prompt == "P2"  # the single offered action may omit "action"
