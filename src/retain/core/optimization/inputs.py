"""What a prompt optimizer takes: prompts, annotated trajectories, and their validation.

The public shapes are LangMem's: a :class:`Prompt` typed dict (``name``, ``prompt``,
``update_instructions``, ``when_to_update``) and trajectories given as
``(messages, feedback)`` pairs (or :class:`AnnotatedTrajectory`), where ``feedback`` is
``None``, a string or a dict of any keys (``score``, ``comment``, ``revised``, ...).
They are validated once, here, into small frozen values the algorithms use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from langchain_core.messages import BaseMessage
from typing_extensions import Required, TypedDict

from retain.core.messages import normalize_messages, render_transcript
from retain.errors import InvalidInputError

__all__ = [
    "AnnotatedTrajectory",
    "MultiPromptOptimizerInput",
    "OptimizerInput",
    "Prompt",
    "PromptSpec",
    "Trajectory",
    "format_trajectories",
    "parse_prompt",
    "parse_prompts",
    "parse_trajectories",
    "template_variables",
]


class Prompt(TypedDict, total=False):
    """A named prompt to optimize (LangMem's ``Prompt``).

    ``name`` and ``prompt`` are required. ``update_instructions`` tells the optimizer how
    to change the prompt; ``when_to_update`` tells the multi-prompt optimizer when this
    prompt is the one to change.

    Example:
        >>> from retain import Prompt
        >>> Prompt(name="extract_entities", prompt="Extract key entities from the text:")
        {'name': 'extract_entities', 'prompt': 'Extract key entities from the text:'}
    """

    name: Required[str]
    prompt: Required[str]
    update_instructions: str | None
    when_to_update: str | None


class AnnotatedTrajectory(NamedTuple):
    """A conversation with optional feedback; a plain ``(messages, feedback)`` tuple works too.

    Example:
        >>> from retain.core.optimization import AnnotatedTrajectory
        >>> t = AnnotatedTrajectory([{"role": "user", "content": "hi"}], {"score": 0})
        >>> t.feedback
        {'score': 0}
    """

    messages: Sequence[Any]
    feedback: Mapping[str, Any] | str | None = None


class OptimizerInput(TypedDict):
    """Input of a single-prompt optimizer."""

    trajectories: Sequence[Any] | str
    prompt: str | Prompt


class MultiPromptOptimizerInput(TypedDict):
    """Input of a multi-prompt optimizer."""

    trajectories: Sequence[Any] | str
    prompts: Sequence[Prompt]


@dataclass(frozen=True)
class Trajectory:
    """A validated trajectory: messages and feedback (``None``, a string or a dict)."""

    messages: tuple[BaseMessage, ...]
    feedback: Mapping[str, Any] | str | None


@dataclass(frozen=True)
class PromptSpec:
    """A validated prompt. ``original`` is what the caller passed, returned untouched."""

    name: str | None
    text: str
    update_instructions: str
    when_to_update: str
    original: Any


def _is_message(value: Any) -> bool:
    return isinstance(value, BaseMessage) or (isinstance(value, Mapping) and "role" in value)


def _is_feedback(value: Any) -> bool:
    return value is None or isinstance(value, (str, Mapping))


def _trajectory(i: int, item: Any) -> Trajectory:
    where = f"trajectories[{i}]"
    if isinstance(item, (tuple, list)) and item and all(_is_message(m) for m in item):
        raise InvalidInputError(
            f"{where} is a bare list of messages; a trajectory is a (messages, feedback) pair: "
            "write (messages, None) when there is no feedback."
        )
    if isinstance(item, AnnotatedTrajectory):
        messages, feedback = item.messages, item.feedback
    elif isinstance(item, (tuple, list)) and len(item) == 2 and _is_feedback(item[1]):
        messages, feedback = item
    else:
        raise InvalidInputError(
            f"{where} must be a (messages, feedback) pair: a list of messages and feedback "
            "that is None, a string or a dict, e.g. ([{'role': 'user', 'content': 'hi'}], "
            f"{{'score': 1}}); got {_describe(item)}."
        )
    if not _is_feedback(feedback):
        raise InvalidInputError(
            f"{where}: feedback must be None, a string or a dict; got {type(feedback).__name__}."
        )
    if isinstance(messages, (str, bytes, Mapping, BaseMessage)) or not isinstance(
        messages, Sequence
    ):
        raise InvalidInputError(
            f"{where}: the messages must be a list of messages (dicts with 'role' and "
            f"'content', or LangChain messages); got {type(messages).__name__}."
        )
    if not messages:
        raise InvalidInputError(f"{where} has no messages; drop it or add the conversation.")
    normalized = normalize_messages(messages, argument=f"{where} messages")
    return Trajectory(tuple(normalized), feedback)


def _describe(item: Any) -> str:
    if isinstance(item, (tuple, list)):
        return f"a {type(item).__name__} of {len(item)} item(s)"
    return type(item).__name__


def parse_trajectories(value: Any) -> list[Trajectory] | str:
    """Validate ``trajectories``: a non-empty list of pairs, or pre-formatted text.

    Raises :class:`InvalidInputError` that names the first bad trajectory.
    """
    if isinstance(value, str):
        if not value.strip():
            raise InvalidInputError(
                "trajectories is an empty string; pass (messages, feedback) pairs or the "
                "formatted sessions to learn from."
            )
        return value
    if isinstance(value, (Mapping, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError(
            "trajectories must be a list of (messages, feedback) pairs; got "
            f"{type(value).__name__}."
        )
    if not value:
        raise InvalidInputError(
            "trajectories is empty: an optimizer needs at least one (messages, feedback) pair "
            "to learn from."
        )
    return [_trajectory(i, item) for i, item in enumerate(value)]


def _optional_text(where: str, key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInputError(f"{where}[{key!r}] must be a string; got {type(value).__name__}.")
    return value


def parse_prompt(value: Any, *, where: str = "prompt", need_name: bool = False) -> PromptSpec:
    """Validate a prompt given as a string or a :class:`Prompt` dict."""
    if isinstance(value, str):
        if need_name:
            raise InvalidInputError(
                f"{where} must be a Prompt dict with 'name' and 'prompt'; got a string."
            )
        return PromptSpec(None, value, "", "", value)
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{where} must be a string or a Prompt dict {{'name': ..., 'prompt': ...}}; got "
            f"{type(value).__name__}."
        )
    text = value.get("prompt")
    if not isinstance(text, str):
        raise InvalidInputError(
            f"{where} needs a 'prompt' string (the prompt text); got "
            f"{'no prompt' if text is None else type(text).__name__}."
        )
    name = value.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidInputError(f"{where}['name'] must be a string; got {type(name).__name__}.")
    if need_name and not name:
        raise InvalidInputError(f"{where} needs a non-empty 'name'.")
    return PromptSpec(
        name,
        text,
        _optional_text(where, "update_instructions", value.get("update_instructions")),
        _optional_text(where, "when_to_update", value.get("when_to_update")),
        value,
    )


def parse_prompts(value: Any) -> list[PromptSpec]:
    """Validate the multi-prompt optimizer's ``prompts``: named, unique, at least one."""
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise InvalidInputError(
            f"prompts must be a list of Prompt dicts; got {type(value).__name__}."
        )
    if not value:
        raise InvalidInputError("prompts is empty; pass at least one Prompt to optimize.")
    specs = [parse_prompt(p, where=f"prompts[{i}]", need_name=True) for i, p in enumerate(value)]
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        assert spec.name is not None
        if spec.name in seen:
            raise InvalidInputError(
                f"prompts[{i}] and prompts[{seen[spec.name]}] share the name {spec.name!r}; "
                "each prompt needs a unique name."
            )
        seen[spec.name] = i
    return specs


def _feedback_text(feedback: Mapping[str, Any] | str) -> str:
    if isinstance(feedback, str):
        return feedback
    lines = []
    for key, value in feedback.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"{key}: {shown}")
    return "\n".join(lines)


def format_trajectories(trajectories: Sequence[Trajectory] | str) -> str:
    """Render trajectories and their feedback for a prompt (text passes through)."""
    if isinstance(trajectories, str):
        return trajectories
    parts = []
    for n, t in enumerate(trajectories, start=1):
        body = render_transcript(t.messages)
        if t.feedback:
            body += f"\n\nFeedback for session {n}:\n<feedback>\n{_feedback_text(t.feedback)}"
            body += "\n</feedback>"
        parts.append(f"<session_{n}>\n{body}\n</session_{n}>")
    return "\n\n".join(parts)


_VARIABLE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def template_variables(text: str) -> list[str]:
    """The ``{name}`` template variables in a prompt (``{{escaped}}`` braces do not count).

    Example:
        >>> template_variables("Hi {user_name}, today is {date}. {{not_a_variable}}")
        ['user_name', 'date']
    """
    return list(dict.fromkeys(_VARIABLE.findall(text)))
