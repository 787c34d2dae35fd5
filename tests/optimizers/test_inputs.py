"""Bad input and bad configuration get clear, typed errors before any model call."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from retain import (
    AnnotatedTrajectory,
    ConfigurationError,
    InvalidInputError,
    RetainError,
    create_multi_prompt_optimizer,
    create_prompt_optimizer,
)
from retain.core.optimization import format_trajectories, parse_trajectories
from retain.testing import FakeChatModel
from tests.optimizers.conftest import general

CONVERSATION = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def _optimizer(model: FakeChatModel | None = None) -> Any:
    return create_prompt_optimizer(model or FakeChatModel([]), kind="prompt_memory")


@pytest.mark.parametrize(
    ("trajectories", "message"),
    [
        ([], "trajectories is empty"),
        ("", "trajectories is an empty string"),
        ({"messages": CONVERSATION}, "must be a list of (messages, feedback) pairs; got dict"),
        (["just text"], "trajectories[0] must be a (messages, feedback) pair"),
        ([CONVERSATION], "trajectories[0] is a bare list of messages"),
        ([("hello there", None)], "the messages must be a list of messages"),
        ([({"role": "user", "content": "hi"}, None)], "the messages must be a list"),
        ([([], None)], "trajectories[0] has no messages"),
        ([(CONVERSATION, None), ([{"role": "wizard", "content": "x"}], None)], "unknown role"),
        ([(CONVERSATION, 5)], "trajectories[0] must be a (messages, feedback) pair"),
        ([AnnotatedTrajectory(CONVERSATION, 5)], "feedback must be None, a string or a dict"),
    ],
)
def test_bad_trajectories(invoke: Any, trajectories: Any, message: str) -> None:
    model = FakeChatModel([])
    with pytest.raises(InvalidInputError) as info:
        invoke(_optimizer(model), {"trajectories": trajectories, "prompt": "p"})
    assert message in str(info.value)
    assert model.calls == []  # nothing was sent to the model


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("just a string", "The input must be a dict"),
        ({"prompt": "p"}, "needs the key(s) ['trajectories']"),
        ({"trajectories": [(CONVERSATION, None)]}, "needs the key(s) ['prompt']"),
        ({"trajectories": [(CONVERSATION, None)], "prompt": 3}, "prompt must be a string"),
        ({"trajectories": [(CONVERSATION, None)], "prompt": {"name": "x"}}, "needs a 'prompt'"),
        (
            {
                "trajectories": [(CONVERSATION, None)],
                "prompt": {"prompt": "p", "when_to_update": 1},
            },
            "['when_to_update'] must be a string",
        ),
    ],
)
def test_bad_single_input(invoke: Any, value: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=None) as info:
        invoke(_optimizer(), value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("prompts", "message"),
    [
        ([], "prompts is empty"),
        ("p", "prompts must be a list of Prompt dicts"),
        (["p"], "prompts[0] must be a Prompt dict"),
        ([{"prompt": "p"}], "prompts[0] needs a non-empty 'name'"),
        ([{"name": "a", "prompt": "p"}, {"name": "a", "prompt": "q"}], "share the name 'a'"),
    ],
)
def test_bad_multi_input(invoke: Any, prompts: Any, message: str) -> None:
    optimizer = create_multi_prompt_optimizer(FakeChatModel([]), kind="prompt_memory")
    with pytest.raises(InvalidInputError) as info:
        invoke(optimizer, {"trajectories": [(CONVERSATION, None)], "prompts": prompts})
    assert message in str(info.value)


@pytest.mark.parametrize("factory", [create_prompt_optimizer, create_multi_prompt_optimizer])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "sgd"}, "Unknown optimizer kind 'sgd'"),
        ({"config": {"max_steps": 2}}, "unknown key(s) ['max_steps']"),
        ({"kind": "prompt_memory", "config": {"max_reflection_steps": 2}}, "takes no config"),
        ({"config": {"max_reflection_steps": 0}}, "must be an integer >= 1"),
        ({"config": {"min_reflection_steps": -1}}, "must be an integer >= 0"),
        ({"config": {"max_reflection_steps": True}}, "must be an integer >= 1"),
        ({"config": {"max_reflection_steps": 2, "min_reflection_steps": 3}}, "is larger than"),
        ({"config": {"gradient_prompt": "Look at {trajectories} and {oops}"}}, "['oops']"),
        ({"kind": "metaprompt", "config": {"metaprompt": "{hypotheses}"}}, "['hypotheses']"),
        ({"config": {"metaprompt": "unbalanced {"}}, "is not a valid template"),
        ({"config": ["max_reflection_steps"]}, "config must be a dict"),
        ({"max_repairs": -1}, "max_repairs must be an integer >= 0"),
        ({"structured_output": "xml"}, "structured_output must be one of"),
    ],
)
def test_bad_configuration(factory: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        factory(FakeChatModel([]), **kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, RetainError)


def test_model_must_be_a_chat_model_or_string() -> None:
    with pytest.raises(ConfigurationError, match="provider:model"):
        create_prompt_optimizer(42)  # type: ignore[arg-type]


def test_custom_templates_are_used(invoke: Any) -> None:
    model = FakeChatModel([general("better")])
    # prompt_memory has no templates; metaprompt does:
    from tests.optimizers.conftest import improved

    meta = FakeChatModel([improved("better")])
    optimizer = create_prompt_optimizer(
        meta,
        kind="metaprompt",
        config={
            "metaprompt": "CUSTOM {{literal}} prompt={prompt} sessions={trajectories}",
            "max_reflection_steps": 1,
        },
    )
    assert invoke(optimizer, {"trajectories": [(CONVERSATION, "ok")], "prompt": "P0"}) == "better"
    text = meta.calls[0].text
    assert text.startswith("CUSTOM {literal} prompt=P0 sessions=<session_1>")
    assert model.calls == []


def test_accepted_trajectory_forms() -> None:
    parsed = parse_trajectories(
        [
            (CONVERSATION, None),
            [[HumanMessage("q"), AIMessage("a")], "needs work"],
            AnnotatedTrajectory([("user", "x")], {"score": 1, "tags": ["a", "b"]}),
        ]
    )
    assert isinstance(parsed, list)
    text = format_trajectories(parsed)
    assert "<session_1>\nuser: hi\nassistant: hello\n</session_1>" in text
    assert "Feedback for session 2:\n<feedback>\nneeds work\n</feedback>" in text
    assert 'score: 1\ntags: ["a", "b"]' in text
    assert parse_trajectories("already formatted sessions") == "already formatted sessions"


def test_preformatted_trajectories_are_shown_as_given(invoke: Any) -> None:
    model = FakeChatModel([general("better")])
    out = invoke(
        _optimizer(model), {"trajectories": "SESSION LOG: user was unhappy", "prompt": "P0"}
    )
    assert out == "better"
    assert "SESSION LOG: user was unhappy" in model.calls[0].text
