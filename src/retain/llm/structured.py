"""How to ask a given chat model for structured output: tool calls or JSON-schema text."""

from __future__ import annotations

import json
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableLambda
from pydantic import BaseModel

from retain.core.messages import message_text
from retain.core.requests import ModelRequest, StructuredStyle
from retain.errors import ConfigurationError
from retain.llm.resolve import chat_model_of

__all__ = [
    "bind_request",
    "detect_style",
    "json_schema_format",
    "parsed_output",
    "resolve_style",
]

_STYLES = ("auto", "tool_calling", "json_schema")


def detect_style(model: Any) -> StructuredStyle:
    """Pick the structured-output style that suits ``model``.

    Models that declare ``retain_structured_style`` (retain's local and fake models) get
    what they declare; Ollama, llama.cpp and OpenAI-compatible servers other than
    api.openai.com get JSON schema; models without tool support get JSON schema;
    everything else (OpenAI, Anthropic, ...) gets tool calling.
    """
    chat = chat_model_of(model)
    if chat is None:
        return "tool_calling"
    declared = getattr(chat, "retain_structured_style", None)
    if declared in ("tool_calling", "json_schema"):
        return declared  # type: ignore[no-any-return]
    module = type(chat).__module__
    if module.startswith("langchain_ollama") or type(chat).__name__ == "ChatLlamaCpp":
        return "json_schema"
    if module.startswith("langchain_openai"):
        base = getattr(chat, "openai_api_base", None)
        if base and "api.openai.com" not in str(base):
            return "json_schema"
    if type(chat).bind_tools is BaseChatModel.bind_tools:
        return "json_schema"
    return "tool_calling"


def resolve_style(
    model: Any, requested: str, *, argument: str = "structured_output"
) -> StructuredStyle:
    if requested not in _STYLES:
        raise ConfigurationError(
            f"{argument} must be one of {', '.join(_STYLES)}; got {requested!r}."
        )
    if requested == "auto":
        return detect_style(model)
    return requested  # type: ignore[return-value]


def json_schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's ``response_format`` asking for JSON that follows ``schema``."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


def _json_text(message: AIMessage) -> Any:
    return json.loads(message_text(message))


def parsed_output(
    bound: Runnable[Any, Any],
    schema: Any,
    *,
    include_raw: bool,
    read: Callable[[AIMessage], Any] = _json_text,
) -> Runnable[Any, Any]:
    """``bound``'s replies parsed into ``schema``: what a chat model's
    ``with_structured_output`` returns.

    ``read`` takes the data out of a reply (default: its text as JSON); a pydantic model
    class validates it, any other schema returns it as read. With ``include_raw``, LangChain's
    ``{"raw", "parsed", "parsing_error"}`` dict, a parsing error reported, not raised.
    """
    is_model = isinstance(schema, type) and issubclass(schema, BaseModel)

    def parse(message: AIMessage) -> Any:
        data = read(message)
        return schema.model_validate(data) if is_model else data

    if not include_raw:
        return bound | RunnableLambda(parse)

    def parse_raw(message: AIMessage) -> dict[str, Any]:
        try:
            return {"raw": message, "parsed": parse(message), "parsing_error": None}
        except Exception as e:  # reported, like LangChain's include_raw
            return {"raw": message, "parsed": None, "parsing_error": e}

    return bound | RunnableLambda(parse_raw)


def _json_kwargs(chat: BaseChatModel, schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    module = type(chat).__module__
    if getattr(chat, "retain_accepts_response_format", False) or module.startswith(
        "langchain_openai"
    ):
        return {"response_format": json_schema_format(name, schema)}
    if module.startswith("langchain_ollama"):
        return {"format": schema}
    return None


def _unwrap(model: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Split ``model.bind(...)`` layers into the inner model, their kwargs and config.

    LangChain's ``RunnableBinding.bind_tools`` forwards to the inner model and drops the
    binding's kwargs (e.g. ``temperature``); retain re-applies them.
    """
    kwargs: dict[str, Any] = {}
    config: dict[str, Any] = {}
    while isinstance(model, RunnableBinding):
        kwargs = {**model.kwargs, **kwargs}
        config = {**(model.config or {}), **config}
        model = model.bound
    return model, kwargs, config


def _rewrap(runnable: Runnable[Any, Any], kwargs: dict[str, Any], config: dict[str, Any]) -> Any:
    if kwargs:
        runnable = runnable.bind(**kwargs)
    if config:
        runnable = runnable.with_config(config)  # type: ignore[arg-type]
    return runnable


def bind_request(model: Any, request: ModelRequest) -> Runnable[Any, Any]:
    """The runnable that performs ``request`` on ``model``."""
    inner, kwargs, config = _unwrap(model)
    if request.tools:
        if request.tool_choice is None:
            bound = inner.bind_tools(list(request.tools))
        else:
            bound = inner.bind_tools(list(request.tools), tool_choice=request.tool_choice)
        return _rewrap(bound, kwargs, config)  # type: ignore[no-any-return]
    if request.response_schema is not None:
        chat = chat_model_of(inner)
        json_kwargs = (
            _json_kwargs(chat, request.response_schema, request.schema_name) if chat else None
        )
        if json_kwargs is not None:
            return model.bind(**json_kwargs)  # type: ignore[no-any-return]
        # Unknown model class: LangChain's generic structured output (bound kwargs cannot be
        # re-applied through it; pass a model constructed with them instead).
        structured = inner.with_structured_output(
            request.response_schema, method="json_schema", include_raw=True
        )
        return _rewrap(structured, {}, config) | itemgetter("raw")  # type: ignore[no-any-return]
    return model  # type: ignore[no-any-return]
