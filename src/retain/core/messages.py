"""Conversation messages: accept OpenAI-style dicts or LangChain messages, render transcripts."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage, convert_to_messages

from retain.errors import InvalidInputError

__all__ = ["load_json_text", "message_text", "normalize_messages", "render_transcript"]

_ROLE_NAMES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def normalize_messages(messages: Any, *, argument: str = "messages") -> list[BaseMessage]:
    """Convert messages given as LangChain messages, OpenAI-style dicts, ``(role, text)``
    tuples or a single string into LangChain messages.

    Raises :class:`InvalidInputError` naming the offending message.
    """
    if isinstance(messages, (str, BaseMessage, dict)):
        messages = [messages]
    if not isinstance(messages, Sequence):
        raise InvalidInputError(
            f"{argument} must be a list of messages (dicts with 'role' and 'content', or LangChain "
            f"messages); got {type(messages).__name__}."
        )
    out: list[BaseMessage] = []
    for i, message in enumerate(messages):
        if isinstance(message, BaseMessage):
            out.append(message)
            continue
        try:
            out.extend(convert_to_messages([message]))
        except (ValueError, NotImplementedError, TypeError, KeyError) as e:
            detail = str(e).split("\n", 1)[0]
            if isinstance(message, dict) and "role" in message:
                detail = (
                    f"unknown role {message['role']!r}; use one of user, assistant, system, "
                    "developer, tool (or human, ai)"
                )
            raise InvalidInputError(f"{argument}[{i}] is not a valid message: {detail}") from None
    return out


def message_text(message: BaseMessage) -> str:
    """The text of a message; non-text content blocks become short placeholders."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict):
            if block.get("type") == "text" or "text" in block:
                parts.append(str(block.get("text", "")))
            elif block.get("type") in {"tool_use", "tool_result"}:
                continue
            else:
                parts.append(f"[{block.get('type', 'attachment')}]")
    return "".join(parts)


def render_transcript(messages: Sequence[BaseMessage]) -> str:
    """Render a conversation as ``role: text`` lines for a prompt."""
    lines = []
    for m in messages:
        role = _ROLE_NAMES.get(m.type, m.type)
        text = message_text(m)
        if isinstance(m, ToolMessage):
            role = f"tool {m.name}" if m.name else "tool"
        if text:
            lines.append(f"{role}: {text}")
        if isinstance(m, AIMessage):
            for call in m.tool_calls:
                args = json.dumps(call["args"], ensure_ascii=False)
                lines.append(f"{role} called {call['name']}({args})")
    return "\n".join(lines)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def load_json_text(text: str) -> Any:
    """Parse the JSON in a model's text reply, also when it is fenced or wrapped in prose.

    Raises the :class:`json.JSONDecodeError` of the whole text when no candidate parses.

    >>> load_json_text('Sure! ```json\\n{"a": 1}\\n```')
    {'a': 1}
    """
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        candidates = [m.group(1) for m in _FENCE.finditer(text)]
        start, end = text.find("{"), text.rfind("}")
        if start != -1 and end > start:
            candidates.append(text[start : end + 1])
        for candidate in candidates:
            try:
                return json.loads(candidate)
            except json.JSONDecodeError:
                continue
        raise first
