"""``ChatLocalLlama``: a LangChain chat model running llama.cpp in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_json_schema
from pydantic import BaseModel, ConfigDict, PrivateAttr

from retain.core.messages import message_text
from retain.llm.structured import json_schema_format, parsed_output
from retain.local.prompts import new_facts, second_look, tidy_and_check, worked_example

__all__ = ["ChatLocalLlama"]


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage) and message.role in ("system", "user", "assistant"):
        return message.role
    return "user"  # human, tool results and anything else


def _llama_format(response_format: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """llama.cpp's ``response_format`` and the JSON schema, from an OpenAI-style one."""
    if not response_format:
        return None, None
    if not isinstance(response_format, dict):
        raise TypeError(f"response_format must be a dict; got {type(response_format).__name__}")
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema", {})
        schema = spec.get("schema", spec)
        return {"type": "json_object", "schema": schema}, schema
    if kind == "json_object":
        schema = response_format.get("schema")
        return dict(response_format), schema if isinstance(schema, dict) else None
    return None, None


class ChatLocalLlama(BaseChatModel):
    """A chat model on an embedded llama.cpp model (see :func:`load_local_chat_model`).

    Structured output is JSON-schema-constrained (llama.cpp grammars), never tool
    calling: ``response_format={"type": "json_schema", "json_schema": {"schema": ...}}``
    (what retain sends) or ``with_structured_output(schema)``. Calls on one instance are
    serialised (a llama.cpp context is not thread-safe).

    ``worked_example`` (default on) adds one worked example of memory extraction to the
    system prompt when retain asks for memory operations, and drops the operations of the
    answer that the conversation gives no ground for
    (:func:`~retain.local.prompts.tidy_operations`); when the answer only repeats stored
    memories, the model takes one second look at the conversation without them
    (:func:`~retain.local.prompts.second_look`). These raise small-model accuracy
    (benchmarks/RESULTS.md).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_name: str
    """The name after ``local:``, e.g. ``"qwen2.5-1.5b"``."""
    client: Any
    """The ``llama_cpp.Llama`` instance."""
    temperature: float = 0.0
    max_tokens: int = 768
    worked_example: bool = True

    retain_accepts_response_format: ClassVar[bool] = True
    retain_structured_style: ClassVar[str] = "json_schema"
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "retain-local-llama"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """The llama.cpp request, and the task message to tidy the answer against (when the
        answer is memory operations and the small-model help is on)."""
        response_format, schema = _llama_format(kwargs.pop("response_format", None))
        chat = [{"role": _role(m), "content": message_text(m)} for m in messages]
        task = None
        if schema is not None and self.worked_example:
            example = worked_example(schema)
            if example is not None:
                task = next((m["content"] for m in chat if "<conversation>" in m["content"]), None)
                if chat and chat[0]["role"] == "system":
                    chat[0] = {"role": "system", "content": f"{chat[0]['content']}\n\n{example}"}
                else:
                    chat.insert(0, {"role": "system", "content": example})
        request: dict[str, Any] = {
            "messages": chat,
            "temperature": kwargs.pop("temperature", self.temperature),
            "max_tokens": kwargs.pop("max_tokens", self.max_tokens),
        }
        if response_format is not None:
            request["response_format"] = response_format
        if stop:
            request["stop"] = stop
        for key in ("top_p", "top_k", "seed", "repeat_penalty"):
            if key in kwargs:
                request[key] = kwargs.pop(key)
        return request, task

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request, task = self._request(messages, stop, dict(kwargs))
        with self._lock:
            response = self.client.create_chat_completion(**request)
            choice = response["choices"][0]
            usage = dict(response.get("usage") or {})
            content = choice["message"].get("content") or ""
            if task is not None:
                content, echoed = tidy_and_check(content, task)
                fresh = second_look(task) if echoed else None
                if fresh is not None:
                    # the answer only echoed stored memories: one second look at the
                    # conversation alone (the system prompt's prefix stays cached)
                    again = [
                        {**m, "content": fresh} if m["content"] == task else m
                        for m in request["messages"]
                    ]
                    response = self.client.create_chat_completion(**{**request, "messages": again})
                    answer = response["choices"][0]["message"].get("content") or ""
                    content = new_facts(answer, task)
                    for name, count in (response.get("usage") or {}).items():
                        usage[name] = int(usage.get(name, 0)) + int(count)
        message = AIMessage(
            content=content,
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": choice.get("finish_reason"),
            },
            usage_metadata={
                "input_tokens": int(usage.get("prompt_tokens", 0)),
                "output_tokens": int(usage.get("completion_tokens", 0)),
                "total_tokens": int(usage.get("total_tokens", 0)),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request, _ = self._request(messages, stop, dict(kwargs))
        with self._lock:
            for part in self.client.create_chat_completion(**request, stream=True):
                text = part["choices"][0].get("delta", {}).get("content") or ""
                if not text:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager is not None:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk

    def with_structured_output(
        self, schema: Any, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[Any, Any]:
        """Answers parsed into ``schema`` (a pydantic model or a JSON schema dict).

        Always JSON-schema-constrained; ``method`` is accepted and ignored.
        """
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel)
        json_schema = schema.model_json_schema() if is_model else convert_to_json_schema(schema)
        name = str(json_schema.get("title", "response"))
        bound = self.bind(response_format=json_schema_format(name, json_schema))
        return parsed_output(bound, schema, include_raw=include_raw)
