"""``UserProfileStore``: one profile document per user, updated in place, with history.

The profile of user ``u`` lives in the namespace ``("users", u, "profile")`` under the key
``"default"``, as ``{"kind": "<schema name>", "content": {...}}``. Updates from
conversations go through the store manager's profile mode (``enable_inserts=False``, an
empty profile as the default), so the model can only change the existing document. On
retain's stores every write is recorded in the item's history (``history(user_id=...)``).

Concurrent updates of one user's profile in one process are serialized (one lock per
user), so two threads updating the same profile at once both land: the second reads what
the first wrote.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.store.base import BaseStore

from retain.clock import Clock
from retain.errors import InvalidInputError
from retain.namespaces import NamespaceTemplate
from retain.profiles.schema import ProfileSchema, UserProfile
from retain.store_access import StoreAdapter
from retain.store_manager import create_memory_store_manager

__all__ = ["PROFILE_INSTRUCTIONS", "PROFILE_KEY", "PROFILE_NAMESPACE", "UserProfileStore"]

PROFILE_NAMESPACE = ("users", "{user_id}", "profile")
PROFILE_KEY = "default"
PROFILE_INSTRUCTIONS = (
    "You maintain a profile of the user. Update the existing profile document with any "
    "facts the user states about themselves that the profile's fields describe. Change "
    "only the fields the conversation gives a value for; keep the others. If nothing "
    "new is said, make no change."
)


def user_config(user_id: str, config: RunnableConfig | None = None) -> RunnableConfig:
    """``config`` (copied) with ``configurable.user_id`` set to ``user_id``."""
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInputError(f"user_id must be a non-empty string; got {user_id!r}.")
    copied: dict[str, Any] = dict(config or {})
    copied["configurable"] = {**dict(copied.get("configurable") or {}), "user_id": user_id}
    return copied  # type: ignore[return-value]


class UserProfileStore:
    """User profiles of schema ``schema`` kept in ``store``.

    Args:
        model: The model that updates profiles from conversations (one call per update).
        store: Where profiles live (a retain store keeps their history).
        schema: A profile schema (see :mod:`retain.profiles.schema`); default
            :class:`~retain.profiles.UserProfile`.
        namespace: The namespace template; ``{user_id}`` is filled per user.
        instructions: What the model is told when updating a profile (the schema's field
            names and descriptions are appended).
        max_repairs: Repair attempts for an invalid model answer (for example a field the
            schema lacks) before :class:`~retain.errors.ModelOutputError`.
        clock: The time of the profile's writes (default the system clock; see
            :func:`~retain.create_memory_store_manager`).

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> from retain.profiles import UserProfileStore
        >>> from retain.testing import FakeChatModel, update
        >>> model = FakeChatModel([[update("default", set={"name": "Alice Chen"})]])
        >>> profiles = UserProfileStore(model, store=InMemoryStore())
        >>> profiles.update([("user", "I'm Alice Chen")], user_id="u1")
        UserProfile(name='Alice Chen', preferred_name=None)
        >>> profiles.get(user_id="u1").name
        'Alice Chen'
        >>> profiles.print(user_id="u1")
        Name: Alice Chen
    """

    def __init__(
        self,
        model: str | BaseChatModel | Runnable[Any, Any],
        *,
        store: BaseStore,
        schema: Any = UserProfile,
        namespace: str | Sequence[str] | NamespaceTemplate = PROFILE_NAMESPACE,
        instructions: str = PROFILE_INSTRUCTIONS,
        max_repairs: int = 2,
        clock: Clock | Callable[[], float] | None = None,
    ) -> None:
        self.schema = ProfileSchema(schema)
        self.store = store
        described = "\n".join(f"- {f.name}: {f.description}" for f in self.schema.fields)
        self.manager = create_memory_store_manager(
            model,
            schemas=[schema],
            instructions=f"{instructions}\n\nThe profile's fields:\n{described}",
            default=self.schema.empty(),
            enable_inserts=False,
            query_limit=1,
            namespace=namespace,
            store=store,
            max_repairs=max_repairs,
            clock=clock,
        )
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, ...], threading.Lock] = {}

    def namespace(self, user_id: str) -> tuple[str, ...]:
        """The namespace of ``user_id``'s profile."""
        return self.manager.get_namespace(user_config(user_id))

    def lock(self, user_id: str) -> threading.Lock:
        """The lock that serializes updates of ``user_id``'s profile in this process."""
        namespace = self.namespace(user_id)
        with self._guard:
            return self._locks.setdefault(namespace, threading.Lock())

    def get(self, *, user_id: str) -> Any:
        """``user_id``'s profile as a schema instance, or ``None`` before anything is learned."""
        item = self.store.get(self.namespace(user_id), PROFILE_KEY)
        if item is None:
            return None
        return self.schema.validate(dict(item.value.get("content") or {}))

    def format(self, *, user_id: str) -> str:
        """The profile as ``Label: value`` lines (fields with values only)."""
        profile = self.get(user_id=user_id)
        lines = [] if profile is None else self.schema.labelled(profile)
        if not lines:
            return f"(no profile yet for user {user_id!r})"
        return "\n".join(f"{label}: {value}" for label, value in lines)

    def print(self, *, user_id: str) -> None:
        """Print :meth:`format`."""
        print(self.format(user_id=user_id))

    def update(
        self, messages: Sequence[Any], *, user_id: str, config: RunnableConfig | None = None
    ) -> Any:
        """Update ``user_id``'s profile from ``messages`` (one model call, plus repairs).

        Returns the profile after the update.
        """
        with self.lock(user_id):
            self.manager.invoke({"messages": list(messages)}, user_config(user_id, config))
        return self.get(user_id=user_id)

    def set_fields(
        self, *, user_id: str, config: RunnableConfig | None = None, **fields: Any
    ) -> Any:
        """Set ``fields`` of ``user_id``'s profile directly (no model call); others are kept.

        A field the schema lacks, or an invalid value, raises
        :class:`~retain.errors.InvalidInputError` and writes nothing.
        """
        unknown = sorted(set(fields) - self.schema.names)
        if unknown:
            raise InvalidInputError(
                f"{self.schema.kind} has no field(s) {unknown}; its fields are "
                f"{sorted(self.schema.names)}."
            )
        with self.lock(user_id):
            current = self.get(user_id=user_id) or self.schema.empty()
            merged = self.schema.validate({**self.schema.dump(current), **fields})
            self.manager.put(PROFILE_KEY, merged, config=user_config(user_id, config))
        return merged

    def history(self, *, user_id: str) -> list[Any]:
        """The profile's earlier versions (retain's stores; ``[]`` on stores without history)."""
        return StoreAdapter(self.store).history(self.namespace(user_id), PROFILE_KEY)
