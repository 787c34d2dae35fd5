"""Payloads and configs as JSON: what a durable job stores.

Plain JSON values pass through; LangChain messages are stored as their dicts and come
back as messages; tuples come back as lists (``("user", "hi")`` is a valid message
either way). Anything else is refused with :class:`~retain.errors.InvalidInputError`,
before anything is stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage, messages_from_dict, messages_to_dict

from retain.errors import InvalidInputError

__all__ = ["decode", "encode", "encode_job", "portable_config", "to_json"]

_MESSAGE = "__retain_message__"


def to_json(value: Any, path: str = "payload") -> Any:
    """``value`` as plain JSON data (messages as marked dicts); see the module docstring."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{path} is {value}, which JSON cannot store.")
        return value
    if isinstance(value, BaseMessage):
        return {_MESSAGE: messages_to_dict([value])[0]}
    if isinstance(value, (list, tuple)):
        return [to_json(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidInputError(f"{path} has a non-string key {k!r}; use strings.")
            out[k] = to_json(v, f"{path}[{k!r}]")
        return out
    raise InvalidInputError(
        f"{path} is a {type(value).__name__}, which a durable job cannot store. Durable "
        "payloads hold JSON values and LangChain messages."
    )


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {_MESSAGE}:
            return messages_from_dict([value[_MESSAGE]])[0]
        return {k: _from_json(v) for k, v in value.items()}
    return value


def encode(value: Any, what: str = "payload") -> str:
    """JSON text for ``value``.

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> from retain.queue.codec import decode, encode
        >>> decode(encode({"messages": [HumanMessage("hi")]}))["messages"][0].content
        'hi'
    """
    return json.dumps(to_json(value, what), ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> Any:
    """The value :func:`encode` stored."""
    return _from_json(json.loads(text))


def portable_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of a RunnableConfig a job keeps: ``configurable`` without LangGraph's
    internal ``__...`` keys, plus ``metadata`` and ``tags`` when JSON."""
    if not config:
        return {}
    out: dict[str, Any] = {}
    configurable = {
        k: v for k, v in dict(config.get("configurable") or {}).items() if not k.startswith("__")
    }
    if configurable:
        out["configurable"] = to_json(configurable, "config['configurable']")
    for name in ("metadata", "tags"):
        if config.get(name):
            try:
                out[name] = to_json(config[name], f"config[{name!r}]")
            except InvalidInputError:
                continue
    return out


def encode_job(payload: Any, config: Mapping[str, Any] | None, delay: float) -> tuple[str, str]:
    """The stored text of a new job's payload and config, once ``delay`` is checked (a
    number of seconds >= 0); what both queues' ``enqueue`` write.

    Example:
        >>> encode_job({"n": 1}, {"configurable": {"user_id": "u"}}, 0.5)
        ('{"n":1}', '{"configurable": {"user_id": "u"}}')
    """
    if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
        raise InvalidInputError(f"delay must be a number of seconds >= 0; got {delay!r}.")
    return encode(payload), json.dumps(portable_config(config))
