"""Memory tools for agents: ``manage_memory`` (create, update, delete) and ``search_memory``.

Both are LangChain ``StructuredTool`` objects, so they work in ``create_react_agent``, in
CrewAI (which takes LangChain tools) and in hand-written loops. ``tool.invoke`` takes the
arguments as a dict or as the JSON string a custom loop receives from OpenAI. A bad call
(unknown action, missing or unknown id, invalid content) returns an error message to the
agent as the tool's result and writes nothing; it never crashes the agent loop. A
namespace variable missing from the config (``{user_id}`` without
``config["configurable"]["user_id"]``) is the developer's bug, not the model's: it raises
:class:`~retain.errors.ConfigurationError` naming the key, as in LangMem.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, Optional

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool, ToolException
from langgraph.store.base import BaseStore, Item, PutOp, SearchItem
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from retain.clock import Clock, as_clock

# One rule for what a superseding update writes: the store manager's (core/store_flow.py).
from retain.core.store_flow import fact_stamps, superseded_value
from retain.core.temporal import holds
from retain.errors import ConfigurationError
from retain.graph_context import resolve_store
from retain.namespaces import NamespaceTemplate
from retain.store_access import StoreAdapter, provenance_from
from retain.twins import Steps, awaiting, blocking, call

__all__ = ["create_manage_memory_tool", "create_search_memory_tool"]

Action = Literal["create", "update", "delete"]
_ACTIONS: tuple[str, ...] = ("create", "update", "delete")
# Frameworks that call a tool's ``func`` directly (CrewAI) pass no config; LangChain
# injects one. An empty config means "read the LangGraph context, if any".
NO_CONFIG: RunnableConfig = {}

DEFAULT_MANAGE_INSTRUCTIONS = (
    "Proactively call this tool when you:\n\n"
    "1. Identify a new USER preference.\n"
    "2. Receive an explicit USER request to remember something or otherwise alter your "
    "behavior.\n"
    "3. Are working and want to record important context.\n"
    "4. Identify that an existing MEMORY is incorrect or outdated.\n"
)


class _MemoryTool(StructuredTool):
    """A StructuredTool that also accepts its arguments as a JSON string."""

    def _to_args_and_kwargs(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if isinstance(tool_input, str):
            text = tool_input.strip()
            if text.startswith("{"):
                try:
                    decoded = json.loads(text)
                except json.JSONDecodeError as e:
                    raise ToolException(
                        f"Error: the arguments are not valid JSON ({e.msg} at position {e.pos}); "
                        "send a JSON object. Nothing was changed."
                    ) from None
                tool_input = decoded
        return super()._to_args_and_kwargs(tool_input, tool_call_id)


def _validation_message(tool: str) -> Any:
    def describe(error: Any) -> str:
        problems = []
        if isinstance(error, ValidationError):
            for item in error.errors():
                where = ".".join(str(p) for p in item.get("loc", ())) or "arguments"
                problems.append(f"{where}: {item.get('msg')}")
        else:
            problems.append(str(error))
        return (
            f"Error: invalid arguments for {tool}: "
            + "; ".join(problems)
            + (". Nothing was changed.")
        )

    return describe


def _serializable(content: Any) -> Any:
    if isinstance(content, BaseModel):
        return content.model_dump(mode="json")
    return content


def _verbs(actions: Sequence[str]) -> str:
    if len(actions) == 1:
        return f"{actions[0].capitalize()} a memory"
    if len(actions) == 2:
        return f"{actions[0].capitalize()} or {actions[1]} a memory"
    return f"{', '.join((actions[0].capitalize(), *actions[1:-1]))}, or {actions[-1]} a memory"


def _target(
    namespace: str | Sequence[str] | NamespaceTemplate,
    store: BaseStore | None,
    clock: Clock | Callable[[], float] | None = None,
) -> Callable[[RunnableConfig | None], tuple[StoreAdapter, tuple[str, ...]]]:
    """Where a tool call reads and writes: its namespace (a missing template variable raises
    ``ConfigurationError``) and ``store``, or the running graph's store when ``None``."""
    namespacer = NamespaceTemplate(namespace)

    def target(config: RunnableConfig | None) -> tuple[StoreAdapter, tuple[str, ...]]:
        ns = namespacer(config or None)
        return StoreAdapter(resolve_store(store), clock=clock), ns

    return target


def create_manage_memory_tool(
    namespace: str | Sequence[str] | NamespaceTemplate,
    *,
    instructions: str = DEFAULT_MANAGE_INSTRUCTIONS,
    schema: Any = str,
    actions_permitted: Sequence[Action] | None = ("create", "update", "delete"),
    store: BaseStore | None = None,
    name: str = "manage_memory",
    clock: Clock | Callable[[], float] | None = None,
) -> StructuredTool:
    """A tool with which an agent creates, updates and deletes memories in ``namespace``.

    The tool's arguments are ``content`` (of type ``schema``), ``action`` and ``id`` (for
    updates and deletions). Memories are stored as ``{"content": ...}`` under a new UUID key.
    The result is ``"created memory <id>"``, ``"updated memory <id>"`` or
    ``"Deleted memory <id>"``, or an ``Error: ...`` message when the call is invalid, in
    which case nothing is written. On retain's stores each write is recorded in the item's
    history with ``source="manage_memory"`` and the thread id.

    An update *supersedes*, as the store manager's does (see docs/temporal.md): the id
    keeps the new content, stamped with ``said_at`` (now on ``clock``; ``valid_from``
    when the text dates itself), and the old value is kept under a new key with
    ``valid_to`` and ``superseded_by`` (the id), in one batch. Recall and the search tool
    return the new memory only; ``as_of`` and ``include_superseded`` recall find the old
    one. An update to a memory that no longer holds (one already superseded) rewrites it
    in place, and one to the same content changes nothing. ``delete`` removes the memory.

    Args:
        namespace: Where memories live; ``{var}`` labels come from ``config["configurable"]``.
        instructions: When the agent should call the tool (appended to the description).
        schema: The type of ``content``: ``str`` or a pydantic model.
        actions_permitted: Which of ``"create"``, ``"update"``, ``"delete"`` are allowed.
        store: The store; default: the LangGraph context's store.
        name: The tool's name.
        clock: When "now" is for an update (``said_at``, ``valid_to``); default the
            system clock.

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> from retain import create_manage_memory_tool
        >>> store = InMemoryStore()
        >>> tool = create_manage_memory_tool(namespace=("memories",), store=store)
        >>> tool.invoke({"content": "User likes cherry pie"}).startswith("created memory ")
        True
        >>> [item.value for item in store.search(("memories",))]
        [{'content': 'User likes cherry pie'}]
        >>> tool.invoke({"action": "delete"})
        'Error: an id is required to delete a memory. Nothing was changed.'
    """
    if not actions_permitted:
        raise ConfigurationError("actions_permitted cannot be empty.")
    permitted = tuple(dict.fromkeys(actions_permitted))
    unknown = [a for a in permitted if a not in _ACTIONS]
    if unknown:
        raise ConfigurationError(
            f"actions_permitted has unknown action(s) {unknown}; use {list(_ACTIONS)}."
        )
    target = _target(namespace, store, clock)
    now_on = as_clock(clock)
    default_action = "create" if "create" in permitted else permitted[0]
    action_type: Any = Literal[permitted]
    args_schema = create_model(
        name,
        __config__=ConfigDict(extra="forbid"),
        content=(
            Optional[schema],  # noqa: UP045 - runtime type built from a variable
            Field(default=None, description="The memory's content (for create and update)."),
        ),
        action=(
            action_type,
            Field(default=default_action, description="What to do with the memory."),
        ),
        id=(
            Optional[str],  # noqa: UP045
            Field(
                default=None,
                description="The MEMORY ID, for update and delete; omit it when creating.",
            ),
        ),
    )

    def plan(content: Any, action: str, id: str | None) -> tuple[str, str, dict[str, Any] | None]:
        if action not in permitted:
            raise ToolException(
                f"Error: the action {action!r} is not permitted; use one of {list(permitted)}. "
                "Nothing was changed."
            )
        if action == "create" and id:
            raise ToolException(
                "Error: do not pass an id when creating a memory; it is created for you. "
                "Nothing was changed."
            )
        if action in ("update", "delete") and not id:
            raise ToolException(
                f"Error: an id is required to {action} a memory. Nothing was changed."
            )
        if action == "delete":
            return action, str(id), None
        if content is None or (isinstance(content, str) and not content.strip()):
            raise ToolException(
                f"Error: content is required to {action} a memory. Nothing was changed."
            )
        key = str(id) if id else str(uuid.uuid4())
        return action, key, {"content": _serializable(content)}

    def missing(key: str) -> ToolException:
        return ToolException(
            f"Error: there is no memory with id {key!r} here; search your memories for the "
            "right id. Nothing was changed."
        )

    def done(action: str, key: str) -> str:
        return f"Deleted memory {key}" if action == "delete" else f"{action}d memory {key}"

    def manage_memory(
        content: Any = None,
        action: str = default_action,
        id: str | None = None,
        *,
        config: RunnableConfig = NO_CONFIG,
    ) -> Steps[str]:
        action, key, value = plan(content, action, id)
        adapter, ns = target(config)
        store = adapter.store
        old: Item | None = None
        if action != "create":
            old = yield from call(store, "get", ns, key)
            if old is None:
                raise missing(key)
        with adapter.recording(provenance_from(config, name)):
            if value is None:
                yield from call(store, "delete", ns, key)
            elif old is None:
                yield from call(store, "put", ns, key, value)
            else:
                ops = superseding(ns, key, old.value, value)
                if ops:
                    yield from call(store, "batch", ops)
        return done(action, key)

    def superseding(
        ns: tuple[str, ...], key: str, old: dict[str, Any], new: dict[str, Any]
    ) -> list[PutOp]:
        """The writes of an update: the new fact at ``key`` and the old one kept, ended."""
        if old.get("content") == new["content"]:
            return []  # the same fact: nothing ends, nothing to write
        now = datetime.fromtimestamp(now_on.now(), timezone.utc)
        content = new["content"]  # a text, or a model's fields (maybe with a "content")
        stamped = {**new, **fact_stamps(content if isinstance(content, dict) else new, now)}
        if not holds(old, now=now):
            return [PutOp(ns, key, stamped)]  # an ended fact (history): corrected in place
        ended = superseded_value(old, stamped, now, key)
        return [PutOp(ns, str(uuid.uuid4()), ended), PutOp(ns, key, stamped)]

    description = (
        f"{_verbs(permitted)} to persist across conversations.\n"
        "Include the MEMORY ID when updating or deleting a MEMORY. Omit when creating a new "
        f"MEMORY - it will be created for you.\n{instructions}"
    )
    return _MemoryTool(
        name=name,
        description=description,
        args_schema=args_schema,
        func=blocking(manage_memory),
        coroutine=awaiting(manage_memory),
        handle_tool_error=True,
        handle_validation_error=_validation_message(name),
    )


def _dumps(items: Sequence[SearchItem]) -> str:
    return json.dumps([item.dict() for item in items], default=str, ensure_ascii=False)


def create_search_memory_tool(
    namespace: str | Sequence[str] | NamespaceTemplate,
    *,
    instructions: str = "",
    store: BaseStore | None = None,
    response_format: Literal["content", "content_and_artifact"] = "content",
    name: str = "search_memory",
    clock: Clock | Callable[[], float] | None = None,
) -> StructuredTool:
    """A tool with which an agent searches the memories in ``namespace`` (and below it).

    Arguments: ``query``, ``limit`` (default 10), ``offset`` and ``filter`` (on the stored
    value's fields). The result is a JSON list of items (``namespace``, ``key``, ``value``,
    ``created_at``, ``updated_at``, ``score``); with
    ``response_format="content_and_artifact"`` the items themselves are the artifact. On
    retain's stores the search is the store's own ``recall`` ranking (the same as
    ``store.recall(namespace, query=...)``); on other stores it is the store's ``search``,
    without the facts that ended by now on ``clock`` (default the system clock).

    Example:
        >>> import json
        >>> from langgraph.store.memory import InMemoryStore
        >>> from retain import create_search_memory_tool
        >>> store = InMemoryStore()
        >>> store.put(("memories",), "pie", {"content": "User likes cherry pie"})
        >>> tool = create_search_memory_tool(namespace=("memories",), store=store)
        >>> [m["value"] for m in json.loads(tool.invoke({"query": "pie"}))]
        [{'content': 'User likes cherry pie'}]
    """
    target = _target(namespace, store, clock)

    class SearchArgs(BaseModel):
        model_config = ConfigDict(extra="forbid", title=name)
        query: str = Field(description="What to look for.")
        limit: int = Field(default=10, ge=1, le=100, description="How many memories to return.")
        offset: int = Field(default=0, ge=0, description="How many results to skip.")
        filter: Optional[dict[str, Any]] = Field(  # noqa: UP045
            default=None, description="Exact-match filters on the memory's fields."
        )

    def output(items: list[SearchItem]) -> Any:
        if response_format == "content_and_artifact":
            return _dumps(items), items
        return _dumps(items)

    def search_memory(
        query: str,
        limit: int = 10,
        offset: int = 0,
        filter: dict[str, Any] | None = None,
        *,
        config: RunnableConfig = NO_CONFIG,
    ) -> Steps[Any]:
        adapter, ns = target(config)
        items = yield from adapter.search_steps(
            ns, query=query, filter=filter, limit=limit, offset=offset
        )
        if response_format == "content_and_artifact":
            return _dumps(items), items
        return _dumps(items)

    description = (
        "Search your long-term memories for information relevant to your current context. "
        + instructions
    ).strip()
    return _MemoryTool(
        name=name,
        description=description,
        args_schema=SearchArgs,
        func=blocking(search_memory),
        coroutine=awaiting(search_memory),
        response_format=response_format,
        handle_tool_error=True,
        handle_validation_error=_validation_message(name),
    )
