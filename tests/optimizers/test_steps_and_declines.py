"""Model calls per kind, the reflection step limits, declines, and bounded repair."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage

from retain import ModelOutputError, create_prompt_optimizer
from retain.testing import FakeCall, FakeChatModel
from tests.optimizers.conftest import (
    general,
    improved,
    offered,
    recommend,
    reflect_then,
    think,
)

TRAJECTORIES = [
    (
        [
            {"role": "user", "content": "Tell me about Mars"},
            {"role": "assistant", "content": "Mars is red."},
        ],
        "Too short",
    )
]
PROMPT = "You are a planetary science expert"
NEW = "You are a planetary science expert. Answer in detail."
STEPS = [(0, 1), (1, 1), (0, 3), (1, 3), (2, 5), (3, 3), (1, 5)]


def _gradient_replies(*, eager: bool, warrants: bool = True) -> Any:
    reflect = reflect_then(recommend(warrants), final_action="recommend", eager=eager)

    def reply(call: FakeCall) -> Any:
        if offered(call) == ["OptimizedPromptOutput"]:
            return improved(NEW)
        return reflect(call)

    return reply


@pytest.mark.parametrize(("min_steps", "max_steps"), STEPS)
@pytest.mark.parametrize("eager", [True, False], ids=["eager", "reflective"])
def test_gradient_step_limits(
    invoke: Any, style: str, min_steps: int, max_steps: int, eager: bool
) -> None:
    model = FakeChatModel(_gradient_replies(eager=eager))
    optimizer = create_prompt_optimizer(
        model,
        kind="gradient",
        config={"min_reflection_steps": min_steps, "max_reflection_steps": max_steps},
        structured_output=style,  # type: ignore[arg-type]
    )
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == NEW
    reflections = min(min_steps + 1, max_steps) if eager else max_steps
    assert len(model.calls) == reflections + 1
    for i, call in enumerate(model.calls[:-1]):
        if i == max_steps - 1:
            assert offered(call) == ["recommend"]
        elif i < min_steps:
            assert offered(call) == ["think", "critique"]
        else:
            assert offered(call) == ["think", "critique", "recommend"]
    assert offered(model.calls[-1]) == ["OptimizedPromptOutput"]


@pytest.mark.parametrize(("min_steps", "max_steps"), STEPS)
@pytest.mark.parametrize("eager", [True, False], ids=["eager", "reflective"])
def test_metaprompt_step_limits(
    invoke: Any, style: str, min_steps: int, max_steps: int, eager: bool
) -> None:
    model = FakeChatModel(
        reflect_then(improved(NEW), final_action="OptimizedPromptOutput", eager=eager)
    )
    optimizer = create_prompt_optimizer(
        model,
        kind="metaprompt",
        config={"min_reflection_steps": min_steps, "max_reflection_steps": max_steps},
        structured_output=style,  # type: ignore[arg-type]
    )
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == NEW
    assert len(model.calls) == (max(1, min_steps) if eager else max_steps)
    for i, call in enumerate(model.calls):
        if i == max_steps - 1:
            assert offered(call) == ["OptimizedPromptOutput"]
        elif i < min_steps - 1:
            assert offered(call) == ["think", "critique"]
        else:
            assert offered(call) == ["think", "critique", "OptimizedPromptOutput"]


def test_default_step_limits(invoke: Any) -> None:
    model = FakeChatModel(_gradient_replies(eager=False))
    optimizer = create_prompt_optimizer(model)  # gradient, max 5, min 1
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == NEW
    assert len(model.calls) == 6
    meta = FakeChatModel(reflect_then(improved(NEW), final_action="OptimizedPromptOutput"))
    invoke(
        create_prompt_optimizer(meta, kind="metaprompt"),
        {"trajectories": TRAJECTORIES, "prompt": PROMPT},
    )
    assert len(meta.calls) == 5


def test_optimize_reports_calls_and_reasoning() -> None:
    model = FakeChatModel([think(), recommend(hypotheses="Too terse."), improved(NEW)])
    optimizer = create_prompt_optimizer(model, config={"max_reflection_steps": 3})
    result = optimizer.optimize({"trajectories": TRAJECTORIES, "prompt": PROMPT})
    assert (result.prompt, result.changed, result.model_calls) == (NEW, True, 3)
    assert result.reasoning == "Too terse."


# -- declines: the original prompt comes back, never an empty string -------------------


def test_gradient_decline_skips_the_update(invoke: Any, style: str) -> None:
    model = FakeChatModel([think(), recommend(False, hypotheses="", recommendations="")])
    optimizer = create_prompt_optimizer(
        model,
        config={"max_reflection_steps": 3},
        structured_output=style,  # type: ignore[arg-type]
    )
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == PROMPT
    assert len(model.calls) == 2  # no update call


@pytest.mark.parametrize("answer", [None, "", "   ", "No recommendations."])
def test_metaprompt_decline_returns_original(invoke: Any, style: str, answer: str | None) -> None:
    model = FakeChatModel([improved(answer)])
    optimizer = create_prompt_optimizer(
        model,
        kind="metaprompt",
        config={"max_reflection_steps": 1},
        structured_output=style,  # type: ignore[arg-type]
    )
    prompt = {"name": "main", "prompt": PROMPT}
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": prompt}) == PROMPT


@pytest.mark.parametrize("answer", [None, ""])
def test_gradient_empty_update_returns_original(invoke: Any, answer: str | None) -> None:
    model = FakeChatModel([think(), recommend(True), improved(answer)])
    optimizer = create_prompt_optimizer(model, config={"max_reflection_steps": 2})
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == PROMPT


def test_prompt_memory_decline_returns_original(invoke: Any, style: str) -> None:
    # LangMem returns the (empty) new_prompt here; retain returns the original.
    model = FakeChatModel([general("", update=False)], cycle=True)
    optimizer = create_prompt_optimizer(
        model,
        kind="prompt_memory",
        structured_output=style,  # type: ignore[arg-type]
    )
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == PROMPT
    result = optimizer.optimize({"trajectories": TRAJECTORIES, "prompt": PROMPT})
    assert result.changed is False


def test_prompt_memory_ignores_new_text_when_declining() -> None:
    model = FakeChatModel([general("something else", update=False)])
    optimizer = create_prompt_optimizer(model, kind="prompt_memory")
    assert optimizer.invoke({"trajectories": TRAJECTORIES, "prompt": PROMPT}) == PROMPT


# -- repair ---------------------------------------------------------------------------


def test_invalid_answer_is_repaired(invoke: Any, style: str) -> None:
    bad = (
        AIMessage(
            content="", tool_calls=[{"name": "GeneralResponse", "args": {"logic": "x"}, "id": "c1"}]
        )
        if style == "tool_calling"
        else AIMessage(content='{"action": "GeneralResponse", "logic": "x"}')
    )
    model = FakeChatModel([bad, general(NEW)])
    optimizer = create_prompt_optimizer(
        model,
        kind="prompt_memory",
        structured_output=style,  # type: ignore[arg-type]
    )
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == NEW
    assert len(model.calls) == 2
    repair = model.calls[1].text
    assert "update_prompt" in repair  # the validation problem was sent back
    assert "Answer again, fixed." in repair


def test_plain_text_answer_is_repaired(invoke: Any, style: str) -> None:
    model = FakeChatModel(["Sure, here is a better prompt!", general(NEW)])
    optimizer = create_prompt_optimizer(
        model,
        kind="prompt_memory",
        structured_output=style,  # type: ignore[arg-type]
    )
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == NEW
    assert "Sure, here is a better prompt!" in model.calls[1].text


def test_action_not_offered_is_repaired(invoke: Any, style: str) -> None:
    # min_reflection_steps=1: recommending on the first call is not allowed.
    model = FakeChatModel([recommend(True), think(), recommend(True), improved(NEW)])
    optimizer = create_prompt_optimizer(
        model,
        config={"max_reflection_steps": 3, "min_reflection_steps": 1},
        structured_output=style,  # type: ignore[arg-type]
    )
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT}) == NEW
    assert "'recommend' is not available now" in model.calls[1].text
    assert offered(model.calls[1]) == ["think", "critique"]  # the repair is still step 1
    assert len(model.calls) == 4


def test_still_invalid_raises_model_output_error(invoke: Any, style: str) -> None:
    model = FakeChatModel(["not structured"], cycle=True)
    optimizer = create_prompt_optimizer(
        model,
        kind="prompt_memory",
        structured_output=style,  # type: ignore[arg-type]
        max_repairs=1,
    )
    with pytest.raises(ModelOutputError) as info:
        invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": PROMPT})
    assert len(model.calls) == 2  # one call + one repair
    assert [m.content for m in info.value.raw] == ["not structured", "not structured"]
    assert info.value.errors


def test_template_variables_must_survive(invoke: Any, style: str) -> None:
    prompt = "Help {user_name} with {topic}."
    model = FakeChatModel(
        [general("Help the user in detail."), general("Help {user_name} with {topic}, in detail.")]
    )
    optimizer = create_prompt_optimizer(
        model,
        kind="prompt_memory",
        structured_output=style,  # type: ignore[arg-type]
    )
    out = invoke(optimizer, {"trajectories": TRAJECTORIES, "prompt": prompt})
    assert out == "Help {user_name} with {topic}, in detail."
    assert "{user_name}" in model.calls[0].text  # told to keep them
    assert "drops the template variable(s) {user_name}, {topic}" in model.calls[1].text


def test_new_template_variables_are_rejected() -> None:
    model = FakeChatModel([improved("Hi {name}, it is {day}."), improved("Hi {name}!")])
    optimizer = create_prompt_optimizer(
        model, kind="metaprompt", config={"max_reflection_steps": 1}
    )
    assert optimizer.invoke({"trajectories": TRAJECTORIES, "prompt": "Hi {name}."}) == "Hi {name}!"
    assert "adds template variable(s) {day}" in model.calls[1].text
