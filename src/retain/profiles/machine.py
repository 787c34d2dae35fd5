"""``LearningMachine``: an agent that learns its user's profile and memories across threads.

Two modes per store (profile, user memory):

* ``ALWAYS`` (default): after each turn the machine extracts in the background (a
  :class:`~retain.ReflectionExecutor`), in parallel with the response; the agent sees no
  tools. Cost: one extra model call per turn for the profile, one more for user memory
  when it is on (plus repairs of invalid answers).
* ``AGENTIC``: the agent gets an ``update_user_profile`` tool (and ``manage_memory`` /
  ``search_memory`` for user memory) and decides itself; no extra calls.

Everything is scoped by ``config["configurable"]["user_id"]``: the profile lives in
``("users", user_id, "profile")``, memories in ``("users", user_id, "memories")``. Thread
memory stays the checkpointer's job; the machine is the memory across threads.
"""

from __future__ import annotations

import enum
import threading
import typing
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    BaseMessage,
    HumanMessage,
    SystemMessage,
    messages_from_dict,
    messages_to_dict,
)
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.store.base import BaseStore
from pydantic import ConfigDict, Field, create_model

from retain.clock import Clock
from retain.core.messages import message_text, normalize_messages
from retain.errors import ConfigurationError, InvalidInputError, RetainError
from retain.executor import ReflectionExecutor
from retain.profiles.context import DEFAULT_MAX_CHARS, UserContext, render_user_context
from retain.profiles.schema import UserProfile
from retain.profiles.store import PROFILE_NAMESPACE, UserProfileStore, user_config
from retain.store_access import StoreAdapter
from retain.store_manager import MemoryStoreManager, create_memory_store_manager
from retain.tools import create_manage_memory_tool, create_search_memory_tool

__all__ = ["LearningMachine", "LearningMode", "UserMemoryConfig", "UserProfileConfig"]

MEMORY_NAMESPACE = ("users", "{user_id}", "memories")
MEMORY_INSTRUCTIONS = (
    "Record new, lasting observations about the user (preferences, circumstances, "
    "plans) as short memories. Do not repeat what is already stored."
)


class LearningMode(str, enum.Enum):
    """When a store learns: ``ALWAYS`` (background extraction) or ``AGENTIC`` (tools)."""

    ALWAYS = "always"
    AGENTIC = "agentic"


@dataclass(frozen=True)
class UserProfileConfig:
    """How the machine keeps the user profile (see :class:`LearningMachine`)."""

    mode: LearningMode = LearningMode.ALWAYS
    schema: Any = UserProfile
    namespace: tuple[str, ...] = PROFILE_NAMESPACE


@dataclass(frozen=True)
class UserMemoryConfig:
    """How the machine keeps user memories: observations appended, recalled by search."""

    mode: LearningMode = LearningMode.ALWAYS
    namespace: tuple[str, ...] = MEMORY_NAMESPACE
    recall_limit: int = 5
    instructions: str = field(default=MEMORY_INSTRUCTIONS)


def _config_of(value: Any, kind: type[Any]) -> Any:
    if value is True:
        return kind()
    if value is False or value is None:
        return None
    if isinstance(value, kind):
        if not isinstance(value.mode, LearningMode):
            raise ConfigurationError(f"mode must be a LearningMode; got {value.mode!r}.")
        return value
    raise ConfigurationError(f"Expected True, False or a {kind.__name__}; got {value!r}.")


def user_id_of(config: RunnableConfig | None) -> str:
    """``config["configurable"]["user_id"]`` (or ``langgraph_user_id``); required."""
    configurable = dict((config or {}).get("configurable") or {})
    user_id = configurable.get("user_id") or configurable.get("langgraph_user_id")
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInputError(
            "The learning machine needs the user: pass "
            'config={"configurable": {"user_id": "..."}} (got configurable keys '
            f"{sorted(configurable)})."
        )
    return user_id


def _memory_text(value: dict[str, Any]) -> str:
    content = value.get("content", value)
    if isinstance(content, dict):
        content = content.get("content", content)
    return content if isinstance(content, str) else str(content)


def _last_turn(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    return list(messages[starts[-1] :]) if starts else list(messages)


class LearningMachine:
    """Learns a user profile (and optionally user memories) and puts them in the prompt.

    Args:
        model: The model that extracts in ``ALWAYS`` mode (not the agent's model).
        store: Where profiles and memories live (a retain store keeps their history).
        user_profile: ``True`` (``ALWAYS``, :class:`~retain.profiles.UserProfile`),
            ``False``, or a :class:`UserProfileConfig`.
        user_memory: ``False`` (default), ``True`` (``ALWAYS``) or a :class:`UserMemoryConfig`.
        executor: The background executor for ``ALWAYS`` mode; default: one made here
            (``shutdown()`` stops it).
        debounce_seconds: Wait this long after a turn before extracting; a newer turn of
            the same thread replaces the pending one.
        max_context_chars: The size bound of the injected blocks (see
            :mod:`retain.profiles.context`).
        clock: Time source of the executor made here and of the profile and memory writes
            (their ``said_at``; default the system clock; :class:`~retain.clock.ManualClock`
            in tests).

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> from retain.profiles import LearningMachine
        >>> from retain.testing import FakeChatModel, update
        >>> extractor = FakeChatModel([[update("default", set={"preferred_name": "Ali"})]])
        >>> machine = LearningMachine(extractor, store=InMemoryStore())
        >>> config = {"configurable": {"user_id": "u1", "thread_id": "a"}}
        >>> futures = machine.after_turn([("user", "Call me Ali")], config)
        >>> machine.flush()  # wait for the background extraction
        >>> print(machine.context(config).text)
        <user_profile>
        Preferred Name: Ali
        </user_profile>
        >>> machine.shutdown()
    """

    def __init__(
        self,
        model: str | BaseChatModel | Runnable[Any, Any],
        *,
        store: BaseStore,
        user_profile: bool | UserProfileConfig = True,
        user_memory: bool | UserMemoryConfig = False,
        executor: ReflectionExecutor | None = None,
        debounce_seconds: float = 0.0,
        max_context_chars: int = DEFAULT_MAX_CHARS,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.profile_config: UserProfileConfig | None = _config_of(user_profile, UserProfileConfig)
        self.memory_config: UserMemoryConfig | None = _config_of(user_memory, UserMemoryConfig)
        render_user_context([], [], max_chars=max_context_chars)  # checks the bound
        self.max_context_chars = max_context_chars
        self.debounce_seconds = float(debounce_seconds)
        self.profiles: UserProfileStore | None = None
        if self.profile_config is not None:
            self.profiles = UserProfileStore(
                model,
                store=store,
                schema=self.profile_config.schema,
                namespace=self.profile_config.namespace,
                clock=clock,
            )
        self.memories: MemoryStoreManager | None = None
        if self.memory_config is not None:
            self.memories = create_memory_store_manager(
                model,
                instructions=self.memory_config.instructions,
                namespace=self.memory_config.namespace,
                store=store,
                clock=clock,
            )
        self._lock = threading.Lock()
        self._pending: list[Future[Any]] = []
        self._own_executor = executor is None
        self.executor = executor or ReflectionExecutor(self._reflect, store=store, clock=clock)
        self._clock = clock

    # -- modes ---------------------------------------------------------------------------

    def _always(self, cfg: UserProfileConfig | UserMemoryConfig | None) -> bool:
        return cfg is not None and cfg.mode is LearningMode.ALWAYS

    def _agentic(self, cfg: UserProfileConfig | UserMemoryConfig | None) -> bool:
        return cfg is not None and cfg.mode is LearningMode.AGENTIC

    @property
    def tools(self) -> list[BaseTool]:
        """The tools the agent gets: none in ``ALWAYS`` mode."""
        tools: list[BaseTool] = []
        if self._agentic(self.profile_config) and self.profiles is not None:
            tools.append(self._profile_tool(self.profiles))
        if self._agentic(self.memory_config) and self.memory_config is not None:
            ns = self.memory_config.namespace
            tools.append(create_manage_memory_tool(ns, store=self.store, clock=self._clock))
            tools.append(create_search_memory_tool(ns, store=self.store, clock=self._clock))
        return tools

    def _profile_tool(self, profiles: UserProfileStore) -> BaseTool:
        schema = profiles.schema
        types = schema.types()
        fields: dict[str, Any] = {}
        for f in schema.fields:
            fields[f.name] = (
                typing.Optional[types[f.name]],  # noqa: UP045 - runtime type from a variable
                Field(default=None, description=f.description),
            )
        args = create_model("update_user_profile", __config__=ConfigDict(extra="forbid"), **fields)

        def update_user_profile(*, config: RunnableConfig, **values: Any) -> str:
            given = {k: v for k, v in values.items() if v is not None}
            if not given:
                raise ToolException("Error: give at least one field to set. Nothing changed.")
            try:
                profile = profiles.set_fields(user_id=user_id_of(config), config=config, **given)
            except RetainError as e:
                raise ToolException(f"Error: {e} Nothing changed.") from None
            shown = ", ".join(f"{k}={v!r}" for k, v in schema.dump(profile).items() if v)
            return f"Updated the user profile: {shown}"

        return StructuredTool.from_function(
            update_user_profile,
            name="update_user_profile",
            description=(
                "Record facts the user states about themselves in their profile. Set only "
                "the fields the user gave; the others are kept."
            ),
            args_schema=args,
            handle_tool_error=True,
            handle_validation_error=lambda e: f"Error: {e} Nothing changed.",
        )

    # -- reading -------------------------------------------------------------------------

    def context(self, config: RunnableConfig, *, query: str | None = None) -> UserContext:
        """The ``<user_profile>`` / ``<user_memory>`` blocks for this config's user."""
        user_id = user_id_of(config)
        fields: list[tuple[str, str]] = []
        if self.profiles is not None:
            profile = self.profiles.get(user_id=user_id)
            if profile is not None:
                fields = self.profiles.schema.labelled(profile)
        memories: list[str] = []
        if self.memory_config is not None and self.memories is not None:
            ns = self.memories.get_namespace(user_config(user_id, config))
            items = StoreAdapter(self.store, clock=self._clock).search(
                ns, query=query, limit=self.memory_config.recall_limit
            )
            memories = [_memory_text(item.value) for item in items]
        return render_user_context(fields, memories, max_chars=self.max_context_chars)

    def system_prompt(self, base: str, config: RunnableConfig, *, query: str | None = None) -> str:
        """``base`` followed by the user's context blocks."""
        text = self.context(config, query=query).text
        return f"{base}\n\n{text}" if text and base else (text or base)

    def system_message(
        self, config: RunnableConfig, *, base: str = "", query: str | None = None
    ) -> SystemMessage:
        """:meth:`system_prompt` as a ``SystemMessage`` (for ``@entrypoint`` code)."""
        return SystemMessage(content=self.system_prompt(base, config, query=query))

    # -- learning ------------------------------------------------------------------------

    def after_turn(self, messages: Sequence[Any], config: RunnableConfig) -> list[Future[Any]]:
        """Schedule ``ALWAYS``-mode extraction from the last turn of ``messages``.

        Returns the futures (empty when nothing is in ``ALWAYS`` mode). The turn is the
        messages from the last human message on.
        """
        user_id = user_id_of(config)
        if not (self._always(self.profile_config) or self._always(self.memory_config)):
            return []
        turn = _last_turn(normalize_messages(messages))
        payload = {"user_id": user_id, "messages": messages_to_dict(turn)}
        thread = (config.get("configurable") or {}).get("thread_id")
        key = None if thread is None else f"retain.profiles:{user_id}:{thread}"
        future = self.executor.submit(payload, config, after_seconds=self.debounce_seconds, key=key)
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()] + [future]
        return [future]

    def flush(self, timeout: float | None = 30.0) -> None:
        """Run pending extraction now and wait for it; re-raises the first failure.

        Debounced submissions replaced by newer ones are skipped (their futures are
        cancelled).
        """
        self.executor.trigger()
        with self._lock:
            pending, self._pending = self._pending, []
        errors = []
        for future in pending:
            if future.cancelled():
                continue
            error = future.exception(timeout=timeout)
            if error is not None:
                errors.append(error)
        if errors:
            raise errors[0]

    def learn(self, messages: Sequence[Any], config: RunnableConfig) -> None:
        """Run ``ALWAYS``-mode extraction now, in this thread (what the background runs)."""
        self._reflect(
            {
                "user_id": user_id_of(config),
                "messages": messages_to_dict(normalize_messages(messages)),
            },
            config,
        )

    def _reflect(self, payload: dict[str, Any], config: RunnableConfig) -> None:
        messages = messages_from_dict(payload["messages"])
        user_id = str(payload["user_id"])
        if self._always(self.profile_config) and self.profiles is not None:
            self.profiles.update(messages, user_id=user_id, config=config)
        if self._always(self.memory_config) and self.memories is not None:
            self.memories.invoke({"messages": messages}, user_config(user_id, config))

    def shutdown(self, wait: bool = True) -> None:
        """Finish (``wait``) and stop the executor made here."""
        if self._own_executor:
            self.executor.shutdown(wait=wait)

    def last_user_text(self, messages: Sequence[Any]) -> str | None:
        """The text of the last human message (the default recall query)."""
        humans = [m for m in normalize_messages(messages) if isinstance(m, HumanMessage)]
        return message_text(humans[-1]) if humans else None
