"""The multi-prompt optimizer changes only the prompts it attributes the outcome to."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from retain import create_multi_prompt_optimizer
from retain.testing import FakeCall, FakeChatModel
from tests.optimizers.conftest import classify, general, offered

TRAJECTORIES = [
    (
        [
            {"role": "user", "content": "Tell me about this image"},
            {"role": "assistant", "content": "I see a dog playing in a park"},
            {"role": "user", "content": "What breed is it?"},
            {"role": "assistant", "content": "Sorry, I can't tell the breed"},
        ],
        "Vision model wasn't used for breed detection",
    )
]


def _prompts() -> list[dict[str, Any]]:
    return [
        {
            "name": "vision_extract",
            "prompt": "Extract visual details from the image",
            "update_instructions": "Focus on using vision model capabilities",
        },
        {
            "name": "vision_classify",
            "prompt": "Classify specific attributes in the image",
            "when_to_update": "After vision_extract is updated",
        },
        {"name": "responder", "prompt": "Answer the user politely", "when_to_update": None},
    ]


def _by_prompt(call: FakeCall) -> Any:
    """Classify as told; otherwise rewrite whichever prompt the call is about."""
    if offered(call) == ["Classify"]:
        return classify("vision_extract", "vision_classify")
    for p in _prompts():
        if p["prompt"] in call.text:
            return general(p["prompt"] + " (improved)")
    raise AssertionError("the call names no prompt")


def test_only_attributed_prompts_change(invoke: Any, style: str) -> None:
    model = FakeChatModel(_by_prompt)
    optimizer = create_multi_prompt_optimizer(
        model,
        kind="prompt_memory",
        structured_output=style,  # type: ignore[arg-type]
    )
    prompts = _prompts()
    before = copy.deepcopy(prompts)
    updated = invoke(optimizer, {"trajectories": TRAJECTORIES, "prompts": prompts})
    assert [p["prompt"] for p in updated] == [
        "Extract visual details from the image (improved)",
        "Classify specific attributes in the image (improved)",
        "Answer the user politely",
    ]
    assert updated[2] is prompts[2]  # byte-identical: the very object passed in
    assert updated[0]["update_instructions"] == "Focus on using vision model capabilities"
    assert prompts == before  # the input is not mutated
    assert len(model.calls) == 3  # classify + one call per chosen prompt
    classification = model.calls[0].text
    assert "After vision_extract is updated" in classification  # when_to_update shown
    assert "Vision model wasn't used for breed detection" in classification
    assert all(p["prompt"] in classification for p in prompts)
    # Each optimization call sees its own update_instructions.
    extract_call = next(c for c in model.calls[1:] if "Extract visual details" in c.text)
    assert "Focus on using vision model capabilities" in extract_call.text


def test_nothing_attributed_returns_all_unchanged(invoke: Any) -> None:
    model = FakeChatModel([classify()])
    optimizer = create_multi_prompt_optimizer(model, kind="prompt_memory")
    prompts = _prompts()
    updated = invoke(optimizer, {"trajectories": TRAJECTORIES, "prompts": prompts})
    assert all(u is p for u, p in zip(updated, prompts, strict=True))
    assert len(model.calls) == 1


def test_unknown_name_is_repaired(invoke: Any, style: str) -> None:
    model = FakeChatModel(
        [classify("vision"), classify("responder"), general("Answer politely and concretely")]
    )
    optimizer = create_multi_prompt_optimizer(
        model,
        kind="prompt_memory",
        structured_output=style,  # type: ignore[arg-type]
    )
    updated = invoke(optimizer, {"trajectories": TRAJECTORIES, "prompts": _prompts()})
    assert [p["prompt"] for p in updated][2] == "Answer politely and concretely"
    assert "Unknown prompt name(s) ['vision']" in model.calls[1].text


def test_single_prompt_without_when_to_update_skips_classification(invoke: Any) -> None:
    model = FakeChatModel([general("Answer concretely")])
    optimizer = create_multi_prompt_optimizer(model, kind="prompt_memory")
    prompts = [{"name": "main", "prompt": "Answer"}]
    assert invoke(optimizer, {"trajectories": TRAJECTORIES, "prompts": prompts}) == [
        {"name": "main", "prompt": "Answer concretely"}
    ]
    assert [offered(c) for c in model.calls] == [["GeneralResponse"]]


def test_single_prompt_with_when_to_update_is_classified(invoke: Any) -> None:
    model = FakeChatModel([classify()])
    optimizer = create_multi_prompt_optimizer(model, kind="prompt_memory")
    prompts = [{"name": "main", "prompt": "Answer", "when_to_update": "Only on rude answers"}]
    updated = invoke(optimizer, {"trajectories": TRAJECTORIES, "prompts": prompts})
    assert updated[0] is prompts[0]
    assert "Only on rude answers" in model.calls[0].text


def test_declined_update_returns_the_given_object(invoke: Any) -> None:
    model = FakeChatModel([classify("responder"), general("", update=False)])
    optimizer = create_multi_prompt_optimizer(model, kind="prompt_memory")
    prompts = _prompts()
    updated = invoke(optimizer, {"trajectories": TRAJECTORIES, "prompts": prompts})
    assert all(u is p for u, p in zip(updated, prompts, strict=True))


def test_async_call_shorthand() -> None:
    model = FakeChatModel(_by_prompt)
    optimizer = create_multi_prompt_optimizer(model, kind="prompt_memory")
    updated = asyncio.run(optimizer(TRAJECTORIES, _prompts()))
    assert updated[0]["prompt"].endswith("(improved)")


@pytest.mark.parametrize("kind", ["gradient", "metaprompt"])
def test_multi_with_reflecting_kinds(invoke: Any, kind: str) -> None:
    from tests.optimizers.conftest import improved, recommend, think

    replies = [classify("responder"), think()]
    replies += (
        [recommend(), improved("Be concrete")] if kind == "gradient" else [improved("Be concrete")]
    )
    model = FakeChatModel(replies)
    optimizer = create_multi_prompt_optimizer(
        model,
        kind=kind,  # type: ignore[arg-type]
        config={"max_reflection_steps": 2, "min_reflection_steps": 1},
    )
    updated = invoke(optimizer, {"trajectories": TRAJECTORIES, "prompts": _prompts()})
    assert [p["prompt"] for p in updated][2] == "Be concrete"
    assert len(model.calls) == len(replies)
