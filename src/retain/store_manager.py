"""``create_memory_store_manager``: memories that live in a LangGraph ``BaseStore``.

Each run recalls the memories related to the conversation (at most ``query_limit``) with
one store search (the recent conversation as the query, or the query model's queries in
one batch), lets the model insert, update or delete among them, and writes the changes as
one batch. On retain's stores the batch is atomic, recall uses the store's own ranking
(``store.recall``), and every write lands in the item's history with its provenance
(thread id, run id, ``source="memory_store_manager"``).

The model sees current facts only, under short ids (``m1``, ``m2``, ...). An update
supersedes (the old fact stays stored, ended, for history and ``as_of`` recall); an update
naming another subject than the memory it targets becomes an insert; first-person
wording becomes "User ...". Only a delete removes a fact.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import is_dataclass
from datetime import datetime, timezone
from typing import Any, Literal, TypedDict, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.store.base import BaseStore, Item, SearchItem
from pydantic import BaseModel
from typing_extensions import NotRequired

from retain.clock import Clock, as_clock
from retain.core.extraction import ExtractionSpec
from retain.core.messages import normalize_messages
from retain.core.prompts import DEFAULT_INSTRUCTIONS
from retain.core.schemas import ContentInvalid, SchemaSet
from retain.core.store_flow import (
    Phase,
    StoreManagerSpec,
    StoreResult,
    manage_store_memories,
)
from retain.core.temporal import as_utc
from retain.core.types import Memory
from retain.errors import ConfigurationError, InvalidInputError
from retain.graph_context import current_config, current_store, resolve_store
from retain.llm.driver import ModelRunner
from retain.llm.resolve import resolve_model
from retain.llm.structured import resolve_style
from retain.namespaces import NamespaceTemplate
from retain.runnables import takes_arguments_of
from retain.store_access import StoreAccess, StoreAdapter, store_flow_steps
from retain.twins import Steps, arun, awaiting, blocking, call, run

__all__ = [
    "MemoryPhase",
    "MemoryStoreManager",
    "create_memory_store_enricher",
    "create_memory_store_manager",
]

PHASE_INSTRUCTIONS = (
    "You are a memory manager. Deduplicate, consolidate, and enrich these memories."
)
SOURCE = "memory_store_manager"


class MemoryPhase(TypedDict, total=False):
    """An extra consolidation pass after extraction (as in LangMem)."""

    instructions: str
    include_messages: bool
    enable_inserts: bool
    enable_deletes: bool


class MemoryStoreManagerInput(TypedDict):
    messages: Sequence[Any]
    max_steps: NotRequired[int]
    said_at: NotRequired[datetime | str]
    """When the conversation took place (default: now); pass it for imported history."""


def _current_config(config: RunnableConfig | None) -> RunnableConfig:
    if config is not None:
        return config
    return current_config() or {}


class MemoryStoreManager(Runnable[MemoryStoreManagerInput | Sequence[Any], list[dict[str, Any]]]):
    """Extracts memories from conversations into a store. Build it with
    :func:`create_memory_store_manager`."""

    def __init__(
        self,
        model: str | BaseChatModel | Runnable[Any, Any],
        *,
        schemas: Sequence[Any] | None = None,
        instructions: str = DEFAULT_INSTRUCTIONS,
        default: Any = None,
        default_factory: Callable[[RunnableConfig], Any] | None = None,
        enable_inserts: bool = True,
        enable_deletes: bool = False,
        query_model: str | BaseChatModel | Runnable[Any, Any] | None = None,
        query_limit: int = 5,
        namespace: str | Sequence[str] | NamespaceTemplate = ("memories", "{langgraph_user_id}"),
        store: BaseStore | None = None,
        phases: Sequence[MemoryPhase] | None = None,
        structured_output: Literal["auto", "tool_calling", "json_schema"] = "auto",
        max_repairs: int = 2,
        clock: Clock | Callable[[], float] | None = None,
    ) -> None:
        if isinstance(query_limit, bool) or not isinstance(query_limit, int) or query_limit < 1:
            raise ConfigurationError(f"query_limit must be an integer >= 1; got {query_limit!r}.")
        if default is not None and default_factory is not None:
            raise ConfigurationError("Pass default or default_factory, not both.")
        if not isinstance(instructions, str):
            raise ConfigurationError("instructions must be a string.")
        self.model = resolve_model(model)
        self.query_model = None if query_model is None else resolve_model(query_model)
        kinds = SchemaSet(schemas if schemas else (Memory,))
        style = resolve_style(self.model, structured_output)
        extraction = ExtractionSpec(
            kinds=kinds,
            instructions=instructions,
            enable_inserts=bool(enable_inserts),
            enable_updates=True,
            enable_deletes=bool(enable_deletes),
            style=style,
            max_repairs=max_repairs,
            facts=bool(enable_inserts),
        )
        phase_specs = tuple(
            Phase(
                ExtractionSpec(
                    kinds=kinds,
                    instructions=p.get("instructions", PHASE_INSTRUCTIONS),
                    enable_inserts=p.get("enable_inserts", True),
                    enable_updates=True,
                    enable_deletes=p.get("enable_deletes", True),
                    style=style,
                    max_repairs=max_repairs,
                    facts=bool(p.get("enable_inserts", True)),
                ),
                include_messages=p.get("include_messages", False),
            )
            for p in (phases or ())
        )
        self.spec = StoreManagerSpec(
            extraction=extraction,
            query_limit=query_limit,
            use_query_model=self.query_model is not None,
            query_style=(
                resolve_style(self.query_model, structured_output)
                if self.query_model is not None
                else "tool_calling"
            ),
            phases=phase_specs,
        )
        self.namespace = NamespaceTemplate(namespace)
        self._store = store
        self._seen_store: BaseStore | None = None
        self.default_factory = default_factory
        self._fixed_default = None if default is None else self._coerce_default(default)
        models: dict[str, Runnable[Any, Any]] = {"main": self.model}
        if self.query_model is not None:
            models["query"] = self.query_model
        self._runner = ModelRunner(models)
        self._clock = as_clock(clock)

    def _now(self) -> datetime:
        """Now on this manager's clock (the default ``said_at``; "now" for other stores)."""
        return datetime.fromtimestamp(self._clock.now(), timezone.utc)

    def _adapter(self) -> StoreAdapter:
        return StoreAdapter(self.store, clock=self._clock)

    # -- configuration -----------------------------------------------------------------

    @property
    def schemas(self) -> SchemaSet:
        return self.spec.extraction.kinds

    @property
    def store(self) -> BaseStore:
        """The store given at creation, else the LangGraph context's store.

        Outside a LangGraph context, the last context store seen is used, so
        ``manager.search(...)`` works after the graph ran (as in LangMem).
        """
        if self._store is not None:
            return self._store
        context = current_store()
        if context is not None:
            self._seen_store = context
            return context
        return self._seen_store or resolve_store(None)

    def get_namespace(self, config: RunnableConfig | None = None) -> tuple[str, ...]:
        """The namespace for ``config`` (default: the LangGraph context's config)."""
        return self.namespace(config)

    def _coerce_default(self, default: Any) -> tuple[str, dict[str, Any]]:
        if isinstance(default, str) and self.schemas.names() == ["Memory"]:
            default = Memory(content=default)
        if isinstance(default, (str, dict, BaseModel)) or is_dataclass(default):
            try:
                kind, content = self.schemas.classify(default)
            except ContentInvalid as e:
                raise ConfigurationError(
                    f"The default {default!r} fits none of the schemas {self.schemas.names()}: "
                    f"{e}. Pass an instance of one of them."
                ) from None
            if self.schemas.get(kind.name) is not kind:
                raise ConfigurationError(
                    f"The default is a {kind.name}, which is not one of the schemas "
                    f"{self.schemas.names()}."
                )
            return kind.name, kind.dump(content)
        raise ConfigurationError(
            f"default must be a string, dict or schema instance; got {type(default).__name__}."
        )

    def _default(self, config: RunnableConfig) -> tuple[str, dict[str, Any]] | None:
        if self._fixed_default is not None:
            return self._fixed_default
        if self.default_factory is None:
            return None
        return self._coerce_default(self.default_factory(config))

    def _default_item(self, config: RunnableConfig) -> SearchItem | None:
        default = self._default(config)
        if default is None:
            return None
        now = self._now()
        value = {"kind": default[0], "content": default[1]}
        return SearchItem(self.namespace(config), "default", value, now, now)

    # -- running -------------------------------------------------------------------------

    def _prepare(self, input: Any, config: RunnableConfig | None) -> tuple[Any, RunnableConfig]:
        config = _current_config(config)
        if isinstance(input, dict):
            if "messages" not in input:
                raise InvalidInputError(
                    "The input dict needs a 'messages' key (and optionally 'max_steps', "
                    f"'said_at'); got keys {sorted(input)}."
                )
            messages: list[BaseMessage] = normalize_messages(input["messages"])
            max_steps = input.get("max_steps") or 1
            said = input.get("said_at")
        else:
            messages, max_steps, said = normalize_messages(input), 1, None
        said_at = self._now() if said is None else as_utc(said, argument="said_at")
        flow = manage_store_memories(
            self.spec,
            messages,
            self.namespace(config),
            max_steps=max_steps,
            default=self._default(config),
            new_key=lambda: str(uuid.uuid4()),
            said_at=said_at,
        )
        return flow, config

    def process_steps(
        self, input: Any, config: RunnableConfig | None = None, *, run_id: str | None = None
    ) -> Steps[StoreResult]:
        """Like :meth:`invoke`, returning the full :class:`~retain.core.store_flow.StoreResult`."""
        flow, config = self._prepare(input, config)
        access = StoreAccess(self.store, source=SOURCE, run_id=run_id, clock=self._clock)
        result: StoreResult = yield from store_flow_steps(flow, self._runner, access, config)
        return result

    process = blocking(process_steps)
    aprocess = awaiting(process_steps)

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Process a conversation; returns the ``{"namespace", "key", "value"}`` written."""
        config = _current_config(config)

        def run(value: Any, config: RunnableConfig, run_manager: Any) -> list[dict[str, Any]]:
            return self.process(value, config, run_id=str(run_manager.run_id)).puts

        func: Any = run
        return self._call_with_config(func, input, config, run_type="chain")

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Async :meth:`invoke`."""
        config = _current_config(config)

        async def run(value: Any, config: RunnableConfig, run_manager: Any) -> list[dict[str, Any]]:
            return (await self.aprocess(value, config, run_id=str(run_manager.run_id))).puts

        func: Any = run
        return await self._acall_with_config(func, input, config, run_type="chain")

    async def __call__(self, messages: Sequence[Any]) -> list[dict[str, Any]]:
        """``await manager(messages)``."""
        return await self.ainvoke({"messages": messages})

    # -- reading and writing the namespace -------------------------------------------------

    def search_steps(
        self,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        config: RunnableConfig | None = None,
    ) -> Steps[list[SearchItem]]:
        """Search this manager's namespace: ``recall`` with the store's own ranking on
        retain's stores, ``search`` on other stores
        (:class:`~retain.store_access.StoreAdapter`).

        With nothing stored and a ``default``, returns the default item.
        """
        config = _current_config(config)
        results = yield from self._adapter().search_steps(
            self.namespace(config),
            query=query,
            filter=filter,
            limit=limit,
            offset=offset,
            refresh_ttl=refresh_ttl,
        )
        return self._or_default(results, offset, config)

    search = blocking(search_steps)
    asearch = awaiting(search_steps)

    def _or_default(
        self, results: list[SearchItem], offset: int, config: RunnableConfig
    ) -> list[SearchItem]:
        if not results and offset == 0:
            default = self._default_item(config)
            return [default] if default is not None else []
        return list(results)

    def get_steps(
        self, key: str, *, refresh_ttl: bool | None = None, config: RunnableConfig | None = None
    ) -> Steps[Item | None]:
        """One memory by key; ``"default"`` falls back to the configured default."""
        config = _current_config(config)
        item = yield from call(
            self.store, "get", self.namespace(config), key, refresh_ttl=refresh_ttl
        )
        if item is None and key == "default":
            return self._default_item(config)
        return cast("Item | None", item)

    get = blocking(get_steps)
    aget = awaiting(get_steps)

    def _value(self, content: Any) -> dict[str, Any]:
        try:
            kind, normalized = self.schemas.classify(content)
        except ContentInvalid as e:
            raise InvalidInputError(f"The memory {e}.") from None
        return {"kind": kind.name, "content": kind.dump(normalized)}

    def write_steps(
        self,
        key: str,
        content: Any = None,
        *,
        delete: bool = False,
        config: RunnableConfig | None = None,
    ) -> Steps[None]:
        """Store ``content`` (a schema instance, dict or string) under ``key``, or delete
        the memory ``key``."""
        config = _current_config(config)
        value = None if delete else self._value(content)
        with self._adapter().recording({"source": SOURCE}):
            if value is None:
                yield from call(self.store, "delete", self.namespace(config), key)
            else:
                yield from call(self.store, "put", self.namespace(config), key, value)

    def put(self, key: str, content: Any, *, config: RunnableConfig | None = None) -> None:
        """Store ``content`` (a schema instance, dict or string) under ``key``."""
        run(self.write_steps(key, content, config=config))

    async def aput(self, key: str, content: Any, *, config: RunnableConfig | None = None) -> None:
        """Async :meth:`put`."""
        await arun(self.write_steps(key, content, config=config))

    def delete(self, key: str, *, config: RunnableConfig | None = None) -> None:
        """Delete the memory ``key``."""
        run(self.write_steps(key, delete=True, config=config))

    async def adelete(self, key: str, *, config: RunnableConfig | None = None) -> None:
        """Async :meth:`delete`."""
        await arun(self.write_steps(key, delete=True, config=config))


@takes_arguments_of(MemoryStoreManager)
def create_memory_store_manager(*args: Any, **kwargs: Any) -> MemoryStoreManager:
    """Create a memory manager that keeps its memories in a LangGraph ``BaseStore``.

    Args:
        model: A LangChain chat model or a ``"provider:model"`` string.
        schemas: Memory schemas (pydantic models, dataclasses, JSON-schema dicts); default
            :class:`~retain.Memory`.
        instructions: What to remember and how.
        default: A memory stored under key ``"default"`` when nothing is found (for example
            a profile's starting values); a string, dict or schema instance.
        default_factory: ``config -> default``, for defaults that depend on the config.
        enable_inserts: ``False`` keeps one document per schema (a profile), updated in place.
        enable_deletes: Let the model delete outdated memories.
        query_model: A model that writes the search queries (one extra call per run);
            without it the conversation itself is the query.
        query_limit: The most memories recalled and shown to the model per run.
        namespace: Where the memories live; ``{var}`` labels are filled from
            ``config["configurable"]``.
        store: The store; default: the store of the LangGraph graph or entrypoint running,
            else retain's default store (``./.retain/memories.db``, announced once at
            ``WARNING``; see :func:`retain.graph_context.resolve_store`).
        phases: Extra consolidation passes, each one more model call.
        structured_output: ``"auto"``, ``"tool_calling"`` or ``"json_schema"``.
        max_repairs: Repair attempts for invalid model answers before ``ModelOutputError``.
        clock: The time (a :class:`~retain.clock.Clock` or a ``() -> seconds`` function;
            default the system clock): the default ``said_at``, and "now" when deciding
            which facts hold on a store other than retain's. Tests pass a
            :class:`~retain.clock.ManualClock`.

    Returns:
        A Runnable: ``invoke``/``ainvoke`` take ``{"messages": [...]}`` (or a message list;
        add ``"said_at"``, a datetime or ISO 8601 string, for a conversation that did not
        happen now, e.g. imported history) and return the ``{"namespace", "key", "value"}``
        dicts written; values are ``{"kind": "<schema name>", "content": {...}}``, and in
        a fact collection (``enable_inserts=True``) also ``said_at``, ``valid_from`` when a
        relative time in the fact ("last Saturday") dates it, and on a superseded fact
        ``valid_to`` and ``superseded_by`` (see docs/temporal.md). ``search``/``asearch`` and
        ``get``/``aget`` read the namespace.

    Model calls per ``invoke``: one (plus one with ``query_model``, one per phase, and
    repairs when an answer does not validate).

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> from retain import create_memory_store_manager
        >>> from retain.testing import FakeChatModel, insert, update
        >>> store = InMemoryStore()
        >>> model = FakeChatModel([[insert("User prefers dark mode")]])
        >>> manager = create_memory_store_manager(model, namespace=("memories", "{user_id}"),
        ...                                       store=store)
        >>> config = {"configurable": {"user_id": "user-1"}}
        >>> written = manager.invoke({"messages": [("user", "I prefer dark mode")]}, config)
        >>> [(item.value["kind"], item.value["content"]) for item in manager.search(config=config)]
        [('Memory', {'content': 'User prefers dark mode'})]

    Facts that change (see docs/temporal.md): an update keeps the key for the new fact and
    the old one under a new key, ended; ``search`` shows current facts only.

        >>> key = written[0]["key"]
        >>> model = FakeChatModel([[update("m1", "User prefers light mode")]])
        >>> manager = create_memory_store_manager(model, namespace=("memories", "{user_id}"),
        ...                                       store=store)
        >>> _ = manager.invoke({"messages": [("user", "Light mode now")]}, config)
        >>> [item.value["content"]["content"] for item in manager.search(config=config)]
        ['User prefers light mode']
        >>> old = [i.value for i in store.search(("memories", "user-1")) if "valid_to" in i.value]
        >>> old[0]["content"]["content"], old[0]["superseded_by"] == key
        ('User prefers dark mode', True)
    """
    return MemoryStoreManager(*args, **kwargs)


create_memory_store_enricher = create_memory_store_manager
