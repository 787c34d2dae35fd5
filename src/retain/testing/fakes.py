"""Deterministic fake chat models for tests and offline examples."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, PrivateAttr, TypeAdapter

from retain.core import protocol
from retain.core.messages import message_text
from retain.core.optimization.actions import render_json_action
from retain.core.protocol import (
    Proposal,
    ProposedDelete,
    ProposedDone,
    ProposedInsert,
    ProposedUpdate,
)
from retain.errors import RetainError
from retain.llm.structured import json_schema_format, parsed_output

__all__ = [
    "FakeCall",
    "FakeChatModel",
    "FakeModelExhaustedError",
    "delete",
    "done",
    "insert",
    "structured_reply",
    "tool_call",
    "update",
]


class FakeModelExhaustedError(RetainError):
    """A :class:`FakeChatModel` was called more often than it has replies."""


def _dump(content: Any) -> dict[str, Any]:
    if isinstance(content, BaseModel):
        return content.model_dump(mode="json")
    if dataclasses.is_dataclass(content) and not isinstance(content, type):
        return dict(TypeAdapter(type(content)).dump_python(content, mode="json"))
    return dict(content)


def insert(content: Any, kind: str | None = None) -> ProposedInsert:
    """A scripted "create this memory" operation.

    ``content`` is a schema instance (its class name is the kind), a string (a
    :class:`~retain.Memory`), or a dict together with ``kind``.
    """
    if isinstance(content, str):
        return ProposedInsert("scripted", kind or "Memory", {"content": content})
    if isinstance(content, dict):
        if kind is None:
            raise TypeError("insert(dict) needs kind='<schema name>'")
        return ProposedInsert("scripted", kind, dict(content))
    return ProposedInsert("scripted", kind or type(content).__name__, _dump(content))


def update(
    id: str,
    content: Any = None,
    *,
    set: dict[str, Any] | None = None,
    patches: list[dict[str, Any]] | None = None,
) -> ProposedUpdate:
    """A scripted "change memory ``id``" operation.

    Give the fields that change as ``set={...}`` (a merge patch), JSON Patch operations as
    ``patches=[...]``, or the whole new ``content`` (a schema instance, dict or string).
    """
    if content is not None:
        data = {"content": content} if isinstance(content, str) else _dump(content)
        return ProposedUpdate("scripted", id, content=data)
    if set is None and patches is None:
        raise TypeError("update() needs content, set= or patches=")
    return ProposedUpdate("scripted", id, set=set, patches=patches)


def delete(id: str) -> ProposedDelete:
    """A scripted "delete memory ``id``" operation."""
    return ProposedDelete("scripted", id)


def done() -> ProposedDone:
    """A scripted "nothing (more) to change" answer."""
    return ProposedDone("scripted")


def tool_call(name: str, /, **args: Any) -> dict[str, Any]:
    """A scripted call of tool ``name``; a reply that is a list of these becomes tool calls."""
    return {"name": name, "args": args, "type": "tool_call"}


def structured_reply(name: str, /, **arguments: Any) -> Callable[[FakeCall], AIMessage]:
    """A scripted structured answer that takes action ``name`` with ``arguments``.

    Rendered as the model would answer: a call of tool ``name`` when tools are bound, or
    the JSON text ``{"action": name, ...arguments}`` when JSON-schema output is requested
    (the format of retain's prompt optimizers).
    """

    def reply(call: FakeCall) -> AIMessage:
        if call.style == "tool_calling":
            return AIMessage(
                content="",
                tool_calls=[
                    {
                        "name": name,
                        "args": dict(arguments),
                        "id": f"call_{call.index}_0",
                        "type": "tool_call",
                    }
                ],
            )
        return AIMessage(content=render_json_action(name, arguments))

    return reply


_MEMORIES = re.compile(r"<existing_memories>\n(.*?)\n</existing_memories>", re.DOTALL)


@dataclass
class FakeCall:
    """One recorded call of a :class:`FakeChatModel`."""

    index: int
    messages: list[BaseMessage]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def style(self) -> str:
        """``"tool_calling"``, ``"json_schema"`` or ``"text"``."""
        if self.tools:
            return "tool_calling"
        if self.response_format is not None:
            return "json_schema"
        return "text"

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools]

    @property
    def response_schema(self) -> dict[str, Any] | None:
        if self.response_format is None:
            return None
        spec = self.response_format.get("json_schema", self.response_format)
        return spec.get("schema", spec)  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        """All message text of the call, joined: what the model was shown."""
        return "\n".join(message_text(m) for m in self.messages)

    @property
    def system(self) -> str:
        return "\n".join(message_text(m) for m in self.messages if isinstance(m, SystemMessage))

    @property
    def prompt(self) -> str:
        """The text of the last human message."""
        humans = [m for m in self.messages if isinstance(m, HumanMessage)]
        return message_text(humans[-1]) if humans else ""

    def memories(self) -> list[dict[str, Any]]:
        """The existing memories the memory manager showed the model (id, kind, content)."""
        match = _MEMORIES.search(self.text)
        if not match or match.group(1).startswith("(none"):
            return []
        return [json.loads(line) for line in match.group(1).splitlines() if line.strip()]


Reply = Any


class FakeChatModel(BaseChatModel):
    """A deterministic chat model: scripted replies, or a function of the call.

    Each reply may be:

    * a string (the answer text) or an ``AIMessage`` (returned as is);
    * a list of memory operations built with :func:`insert`, :func:`update`,
      :func:`delete`, :func:`done`: rendered as tool calls when tools are bound, or as
      JSON when JSON-schema output is requested, exactly as a real model would answer;
    * a list of :func:`tool_call` dicts: an ``AIMessage`` with those tool calls;
    * a dict: structured output (JSON text, or a call of the single bound tool);
    * an exception instance: raised by the call;
    * a callable taking the :class:`FakeCall` and returning any of the above.

    ``replies`` itself may be a callable instead of a list. Every call is recorded in
    :attr:`calls`. ``tool_calling=False`` makes ``bind_tools`` unsupported, like models
    that only do JSON-schema output. ``cycle=True`` repeats the replies forever.

    Example:
        >>> from retain.testing import FakeChatModel
        >>> model = FakeChatModel(["Hello!"])
        >>> model.invoke("hi").content
        'Hello!'
        >>> model.calls[0].prompt
        'hi'
    """

    replies: Any = None
    tool_calling: bool = True
    cycle: bool = False

    retain_accepts_response_format: ClassVar[bool] = True
    _calls: list[FakeCall] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _counter: Any = PrivateAttr(default_factory=itertools.count)

    def __init__(
        self, replies: Sequence[Reply] | Callable[[FakeCall], Reply] | None = None, /, **kwargs: Any
    ) -> None:
        if replies is None:
            replies = kwargs.pop("replies", [])
        if not callable(replies):
            replies = list(replies)
        super().__init__(replies=replies, **kwargs)

    @property
    def retain_structured_style(self) -> str:
        return "tool_calling" if self.tool_calling else "json_schema"

    @property
    def calls(self) -> list[FakeCall]:
        """Every call so far, in order."""
        return self._calls

    @property
    def _llm_type(self) -> str:
        return "retain-fake"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"tool_calling": self.tool_calling}

    def reset(self) -> None:
        """Forget recorded calls and start the replies from the beginning."""
        with self._lock:
            self._calls.clear()
            self._counter = itertools.count()

    # -- binding ---------------------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        if not self.tool_calling:
            raise NotImplementedError("this FakeChatModel was created with tool_calling=False")
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: Any,
        *,
        include_raw: bool = False,
        method: str = "function_calling",
        **kwargs: Any,
    ) -> Runnable[Any, Any]:
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel)
        json_schema = schema.model_json_schema() if is_model else dict(schema)
        name = schema.__name__ if is_model else str(json_schema.get("title", "response"))
        if method != "function_calling" or not self.tool_calling:
            json_bound = self.bind(response_format=json_schema_format(name, json_schema))
            return parsed_output(json_bound, schema, include_raw=include_raw)

        def tool_args(message: AIMessage) -> Any:
            if not message.tool_calls:
                raise ValueError("the reply has no tool call")
            return message.tool_calls[0]["args"]

        tool_bound = self.bind_tools([schema], tool_choice=name)
        return parsed_output(tool_bound, schema, include_raw=include_raw, read=tool_args)

    # -- generation ------------------------------------------------------------------
    def _next_reply(self, call: FakeCall) -> Reply:
        if callable(self.replies):
            return self.replies(call)
        replies: list[Reply] = self.replies
        if not replies:
            raise FakeModelExhaustedError("FakeChatModel has no replies; pass some.")
        if call.index >= len(replies) and not self.cycle:
            raise FakeModelExhaustedError(
                f"FakeChatModel got call #{call.index + 1} but has only {len(replies)} "
                "replies; add replies or pass cycle=True."
            )
        return replies[call.index % len(replies)]

    def _render(self, reply: Reply, call: FakeCall) -> AIMessage:
        while callable(reply) and not isinstance(reply, type):
            reply = reply(call)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, AIMessage):
            return reply
        if isinstance(reply, str):
            return AIMessage(content=reply)
        if isinstance(reply, dict):
            if call.style == "tool_calling":
                name = (
                    call.tool_choice
                    if isinstance(call.tool_choice, str)
                    and call.tool_choice not in ("any", "auto", "required")
                    else call.tool_names[0]
                )
                return AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": name,
                            "args": reply,
                            "id": f"call_{call.index}_0",
                            "type": "tool_call",
                        }
                    ],
                )
            return AIMessage(content=json.dumps(reply, ensure_ascii=False))
        if isinstance(reply, (list, tuple)):
            items = list(reply)
            if all(isinstance(i, dict) and "name" in i and "args" in i for i in items) and items:
                calls = [
                    {**i, "id": i.get("id") or f"call_{call.index}_{n}", "type": "tool_call"}
                    for n, i in enumerate(items)
                ]
                return AIMessage(content="", tool_calls=calls)
            ops: list[Proposal] = []
            for item in items:
                if not isinstance(
                    item, (ProposedInsert, ProposedUpdate, ProposedDelete, ProposedDone)
                ):
                    raise TypeError(
                        "a list reply must hold insert()/update()/delete()/done() operations or "
                        f"tool_call() dicts; got {item!r}"
                    )
                ops.append(item)
            if call.style == "tool_calling":
                rendered = protocol.render_tool_calls(ops or [done()])
                for n, c in enumerate(rendered):
                    c["id"] = f"call_{call.index}_{n}"
                return AIMessage(content="", tool_calls=rendered)
            return AIMessage(content=protocol.render_json_operations(ops))
        raise TypeError(f"FakeChatModel cannot use the reply {reply!r}")

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.pop("tools", None) or []
        tool_choice = kwargs.pop("tool_choice", None)
        response_format = kwargs.pop("response_format", None)
        with self._lock:
            call = FakeCall(
                index=next(self._counter),
                messages=list(messages),
                tools=list(tools),
                tool_choice=tool_choice,
                response_format=response_format,
                kwargs=kwargs,
            )
            self._calls.append(call)
        message = self._render(self._next_reply(call), call)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, None, **kwargs)
