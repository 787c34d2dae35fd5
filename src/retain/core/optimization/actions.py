"""The optimizers' wire format and the bounded-repair loop for one structured answer.

Every optimizer step offers the model a few named *actions* (``think``, ``critique``,
``recommend``, ``OptimizedPromptOutput``, ...), each a small pydantic model. Two styles
carry them, like the memory manager's operations:

* **tool calling**: one tool per action, ``tool_choice`` the single action or ``"any"``;
* **JSON schema**: one object ``{"action": "<name>", ...arguments}`` constrained by a
  schema whose variants are the offered actions.

:func:`ask` yields the request, validates the answer (shape, arguments, and an optional
semantic ``check``), sends the problems back to the model up to ``max_repairs`` times and
raises :class:`~retain.errors.ModelOutputError` with the raw output when they remain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, ValidationError

from retain.core.messages import load_json_text, message_text
from retain.core.requests import CoreFlow, ModelRequest, StructuredStyle
from retain.errors import ModelOutputError

__all__ = [
    "Action",
    "Answer",
    "acknowledge",
    "ask",
    "render_json_action",
]

Check = Callable[[str, BaseModel], str | None]
"""``check(action_name, value)`` returns a problem for the model, or ``None`` if fine."""


@dataclass(frozen=True)
class Action:
    """One thing the model may answer with: a name, a description and its arguments."""

    name: str
    description: str
    arguments: type[BaseModel]

    def parameters(self) -> dict[str, Any]:
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        schema.pop("description", None)
        return schema

    def tool(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters(),
            },
        }

    def variant(self) -> dict[str, Any]:
        params = self.parameters()
        return {
            "type": "object",
            "description": self.description,
            "properties": {"action": {"const": self.name}, **params.get("properties", {})},
            "required": ["action", *params.get("required", [])],
        }


@dataclass(frozen=True)
class Answer:
    """A validated answer: the actions the model took, in order, and its reply."""

    calls: list[tuple[str, BaseModel]]
    reply: AIMessage
    model_calls: int
    raw: list[AIMessage] = field(default_factory=list)

    def first(self, name: str) -> BaseModel | None:
        return next((value for n, value in self.calls if n == name), None)


def render_json_action(name: str, arguments: dict[str, Any]) -> str:
    """The JSON text a JSON-schema-constrained model answers to take action ``name``."""
    return json.dumps({"action": name, **arguments}, ensure_ascii=False)


def _request(
    conversation: Sequence[BaseMessage], actions: Sequence[Action], style: StructuredStyle
) -> ModelRequest:
    names = tuple(a.name for a in actions)
    if style == "tool_calling":
        return ModelRequest(
            list(conversation),
            tools=tuple(a.tool() for a in actions),
            tool_choice=names[0] if len(names) == 1 else "any",
            cache_key=("optimizer", style, tuple((a.name, a.description) for a in actions)),
        )
    variants = [a.variant() for a in actions]
    schema = variants[0] if len(variants) == 1 else {"anyOf": variants}
    return ModelRequest(
        list(conversation), response_schema=schema, schema_name="_".join(names)[:64]
    )


def _validate(
    ref: str,
    name: str,
    args: Any,
    by_name: dict[str, Action],
    check: Check | None,
    calls: list[tuple[str, BaseModel]],
    problems: list[tuple[str, str]],
) -> None:
    action = by_name.get(name)
    if action is None:
        problems.append(
            (ref, f"{name!r} is not available now; answer with one of {list(by_name)}.")
        )
        return
    if not isinstance(args, dict):
        problems.append((ref, f"The arguments of {name} must be a JSON object."))
        return
    try:
        value = action.arguments.model_validate(args)
    except ValidationError as e:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(arguments)'}: {err['msg']}"
            for err in e.errors()
        )
        problems.append((ref, f"The arguments of {name} are invalid: {details}"))
        return
    problem = check(name, value) if check else None
    if problem:
        problems.append((ref, problem))
        return
    calls.append((name, value))


def _parse(
    reply: AIMessage, by_name: dict[str, Action], style: StructuredStyle, check: Check | None
) -> tuple[list[tuple[str, BaseModel]], list[tuple[str, str]]]:
    calls: list[tuple[str, BaseModel]] = []
    problems: list[tuple[str, str]] = []
    if style == "tool_calling":
        for bad in reply.invalid_tool_calls:
            problems.append(
                (
                    bad.get("id") or "reply",
                    f"The arguments of {bad.get('name')} were not valid JSON: "
                    f"{(bad.get('error') or '')[:200]}",
                )
            )
        for n, tc in enumerate(reply.tool_calls):
            ref = tc.get("id") or f"call {n}"
            _validate(ref, tc["name"], tc.get("args"), by_name, check, calls, problems)
        if not reply.tool_calls and not reply.invalid_tool_calls:
            text = message_text(reply).strip()
            problems.append(
                (
                    "reply",
                    f"Answer by calling one of the tools {list(by_name)}"
                    + (f"; your reply was plain text: {text[:200]!r}" if text else "."),
                )
            )
        return calls, problems
    text = message_text(reply)
    try:
        data = load_json_text(text)
    except json.JSONDecodeError as e:
        return [], [("reply", f"The reply is not valid JSON ({e.msg}): {text.strip()[:300]!r}")]
    if not isinstance(data, dict):
        return [], [("reply", 'The reply must be a JSON object {"action": ..., ...}.')]
    name = data.get("action")
    if name is None and len(by_name) == 1:
        name = next(iter(by_name))
    if not isinstance(name, str):
        return [], [("reply", f'Say which action you take: "action" is one of {list(by_name)}.')]
    args = {k: v for k, v in data.items() if k != "action"}
    _validate("reply", name, args, by_name, check, calls, problems)
    return calls, problems


def acknowledge(reply: AIMessage, style: StructuredStyle, note: str) -> list[BaseMessage]:
    """The messages that answer ``reply`` so the model can take its next step."""
    if style == "tool_calling" and reply.tool_calls:
        return [
            reply,
            *(
                ToolMessage(content=note, tool_call_id=tc.get("id") or "")
                for tc in reply.tool_calls
            ),
        ]
    return [reply, HumanMessage(note)]


def _repair(
    reply: AIMessage, style: StructuredStyle, problems: list[tuple[str, str]]
) -> list[BaseMessage]:
    by_ref = dict(problems)
    listed = "".join(f"\n- {message}" for _, message in problems)
    if style == "tool_calling" and (reply.tool_calls or reply.invalid_tool_calls):
        out: list[BaseMessage] = [reply]
        for tc in [*reply.tool_calls, *reply.invalid_tool_calls]:
            call_id = tc.get("id")
            if call_id:
                text = by_ref.get(call_id)
                out.append(
                    ToolMessage(content=f"Error: {text}" if text else "OK.", tool_call_id=call_id)
                )
        out.append(HumanMessage(f"Your answer could not be used:{listed}\nAnswer again, fixed."))
        return out
    shown = reply if message_text(reply) else AIMessage(content=str(reply.content or "(empty)"))
    return [shown, HumanMessage(f"Your answer could not be used:{listed}\nAnswer again, fixed.")]


def ask(
    conversation: list[BaseMessage],
    actions: Sequence[Action],
    *,
    style: StructuredStyle,
    max_repairs: int,
    check: Check | None = None,
    what: str = "answer",
) -> CoreFlow[Answer]:
    """Ask for one structured answer taking one of ``actions``; repair it if invalid.

    ``conversation`` is extended in place with any repair exchanges, but not with the
    final reply (see :func:`acknowledge`). One model call, plus up to ``max_repairs``.
    """
    by_name = {a.name: a for a in actions}
    raw: list[AIMessage] = []
    problems: list[tuple[str, str]] = []
    for attempt in range(max_repairs + 1):
        reply = yield _request(conversation, actions, style)
        raw.append(reply)
        calls, problems = _parse(reply, by_name, style, check)
        if not problems and calls:
            return Answer(calls, reply, attempt + 1, raw)
        if not problems:
            problems = [("reply", f"Answer with one of {list(by_name)}.")]
        if attempt < max_repairs:
            conversation.extend(_repair(reply, style, problems))
    raise ModelOutputError(
        f"The model's {what} was still invalid after {max_repairs} repair attempt(s); the raw "
        "output is in .raw.",
        raw=raw,
        errors=[message for _, message in problems],
    )
