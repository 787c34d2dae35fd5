"""``Service``: what ``retain serve`` does, once, for the HTTP routes and the MCP tools.

Every method takes the caller's :class:`~retain.server.keys.ApiKey` and checks it first:
a namespace outside the key's prefixes answers :class:`~retain.errors.NotFoundError`
(exactly as a namespace with nothing in it would for a single item), a namespace inside
them without the permission answers :class:`~retain.errors.PermissionDeniedError`. Store
calls use the stores' async methods; sync-only ones run in a worker thread
(``asyncio.to_thread``), so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.store.base import GetOp, Item, ListNamespacesOp, Op, PutOp, SearchItem, SearchOp

from retain.core.temporal import format_time
from retain.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from retain.executor import debounce_key
from retain.profiles import UserProfile, UserProfileStore
from retain.queue import Job, JobState, QueueWorker, RetryPolicy, open_queue
from retain.server.keys import ApiKey, KeyStore, Permission, admin_key
from retain.stores import NamespaceSummary, RetainStore, Version, provenance
from retain.stores.validation import check_instant, check_namespace

__all__ = ["QUEUE_NAME", "Service"]

logger = logging.getLogger("retain.server")

QUEUE_NAME = "retain-server"
_HIDDEN = "Nothing found there, or it lies outside this API key's namespaces."


class _NoModel(BaseChatModel):
    """Stands in for the model of a server started without one: direct profile edits
    work, anything needing a model answers a ConfigurationError."""

    @property
    def _llm_type(self) -> str:
        return "retain-no-model"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        raise ConfigurationError(
            "retain serve runs without a model: start it with --model or RETAIN_MODEL to "
            "form memories from conversations or update profiles from them."
        )


class Service:
    """retain's service operations over one store, checked against API keys.

    Args:
        store: A retain store (``SQLiteStore`` file or ``PostgresStore``).
        keys: Where API keys live (default: the store's database,
            :func:`~retain.server.keys.open_key_store`); ``None`` with ``admin_secret`` only.
        admin_secret: The bootstrap admin key (every namespace, every permission).
        model: The model forming memories from submitted conversations; without it jobs
            stay queued (another process's worker may run them).
        profile_schema: The user-profile schema of ``/v1/profiles``.
        worker: Run a queue worker thread in this process (with a model).
        poll_interval: The worker's longest wait between looks for due jobs.
        retry: Attempts and backoff of conversation jobs (default 5 attempts).
    """

    def __init__(
        self,
        store: RetainStore,
        *,
        keys: KeyStore | None = None,
        admin_secret: str | None = None,
        model: Any = None,
        profile_schema: Any = UserProfile,
        worker: bool = True,
        poll_interval: float = 1.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(store, RetainStore):
            raise ConfigurationError(
                f"retain serve needs a retain store (SQLiteStore or PostgresStore); got "
                f"{type(store).__name__}."
            )
        self.store = store
        self.keys = keys
        self._admin = admin_key(admin_secret) if admin_secret else None
        if keys is None and self._admin is None:
            raise ConfigurationError("Give the service a key store, an admin key, or both.")
        self.model = model
        self.profiles = UserProfileStore(
            model if model is not None else _NoModel(),
            store=store,
            schema=profile_schema,
        )
        self.queue = open_queue(store, name=QUEUE_NAME, retry=retry)
        self._worker: QueueWorker | None = None
        self._stopping = threading.Event()
        self._poll_interval = poll_interval
        self._thread: threading.Thread | None = None
        if worker and model is not None:
            self._worker = QueueWorker(
                self.queue, self._form_memories, store=store, poll_interval=poll_interval
            )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the queue worker thread (when there is a model)."""
        if self._worker is not None and self._thread is None:
            self._thread = threading.Thread(
                target=self._run_worker, name="retain-serve-worker", daemon=True
            )
            self._thread.start()

    def _run_worker(self) -> None:
        """The worker's loop, restarted after a database error (logged) until close()."""
        assert self._worker is not None
        while not self._stopping.is_set():
            try:
                self._worker.run()
            except Exception as e:
                logger.warning("background worker: %s: %s; retrying", type(e).__name__, e)
                self._stopping.wait(self._poll_interval)

    def close(self) -> None:
        """Stop the worker and close the queue and key store (the store stays open)."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.queue.close()
        if self.keys is not None:
            self.keys.close()

    def _form_memories(self, payload: Mapping[str, Any]) -> Any:
        from retain.store_manager import create_memory_store_manager

        manager = create_memory_store_manager(
            self.model, namespace=tuple(payload["namespace"]), store=self.store
        )
        messages = [(m["role"], m["content"]) for m in payload["messages"]]
        said = payload.get("said_at")  # jobs queued before it was recorded have none
        result = manager.invoke({"messages": messages, **({"said_at": said} if said else {})})
        return len(result) if isinstance(result, list) else None

    # -- keys ------------------------------------------------------------------------------

    async def authenticate(self, secret: str | None) -> ApiKey:
        """The key whose secret this is, or :class:`AuthenticationError`."""
        if not secret:
            raise AuthenticationError(
                "This request needs an API key.",
                status=401,
                hint="Send 'Authorization: Bearer <key>' (create one with 'retain keys create').",
            )
        if self._admin is not None:
            import hashlib

            digest = hashlib.sha256(secret.encode()).hexdigest()
            if hmac.compare_digest(digest, self._admin[1]):
                return self._admin[0]
        key = None if self.keys is None else await asyncio.to_thread(self.keys.verify, secret)
        if key is None:
            raise AuthenticationError(
                "The API key is unknown or revoked.",
                status=401,
                hint="Check RETAIN_API_KEY, or create a new key with 'retain keys create'.",
            )
        return key

    @staticmethod
    def check(key: ApiKey, permission: Permission, namespace: Sequence[str]) -> None:
        """Out of the key's prefixes: :class:`NotFoundError`; in them without
        ``permission``: :class:`PermissionDeniedError`."""
        if not key.allows(namespace):
            raise NotFoundError(_HIDDEN, status=404)
        if permission not in key.permissions:
            raise PermissionDeniedError(
                f"This API key lacks the {permission!r} permission.",
                status=403,
                hint="Use a key created with it (retain keys create --permission ...).",
            )

    def _ns(self, key: ApiKey, permission: Permission, namespace: Any) -> tuple[str, ...]:
        ns = check_namespace(namespace)
        self.check(key, permission, ns)
        return ns

    def _prefix(self, key: ApiKey, permission: Permission, prefix: Any) -> tuple[str, ...]:
        ns = check_namespace(prefix, prefix=True)
        self.check(key, permission, ns)
        return ns

    def _keys(self) -> KeyStore:
        if self.keys is None:
            raise ConfigurationError("This server keeps no API keys (only the admin key).")
        return self.keys

    async def create_key(
        self,
        key: ApiKey,
        *,
        name: str,
        prefixes: Sequence[Sequence[str]],
        permissions: Sequence[str],
        subject: str | None,
    ) -> tuple[ApiKey, str]:
        """A new key, limited to namespaces and permissions the caller has."""
        from retain.server.keys import expand_prefix

        if not prefixes:
            raise InvalidInputError("A key needs at least one namespace prefix.")
        for prefix in prefixes:
            self._prefix(key, "admin", expand_prefix(prefix, subject))
        if not set(permissions) <= set(key.permissions):
            raise PermissionDeniedError(
                "A key cannot grant permissions it lacks.", status=403, hint=""
            )
        return await asyncio.to_thread(
            self._keys().create,
            name,
            prefixes=prefixes,
            permissions=permissions,
            subject=subject,
        )

    def _within(self, key: ApiKey, other: ApiKey) -> bool:
        return all(key.allows(scope) for scope in other.scopes)

    async def list_keys(self, key: ApiKey) -> list[ApiKey]:
        self._prefix(key, "admin", key.scopes[0] if key.scopes else ())
        found = await asyncio.to_thread(self._keys().list)
        return [k for k in found if self._within(key, k)]

    async def revoke_key(self, key: ApiKey, key_id: str) -> None:
        self._prefix(key, "admin", key.scopes[0] if key.scopes else ())
        store = self._keys()
        other = await asyncio.to_thread(store.get, key_id)
        if other is None or other.revoked_at is not None or not self._within(key, other):
            raise NotFoundError(_HIDDEN, status=404)
        await asyncio.to_thread(store.revoke, key_id)

    # -- memories --------------------------------------------------------------------------

    async def put(
        self,
        key: ApiKey,
        namespace: Any,
        item_key: str,
        value: dict[str, Any],
        *,
        index: Any = None,
        ttl: float | None = None,
    ) -> Item:
        ns = self._ns(key, "write", namespace)
        with provenance(api_key=key.id):
            await self.store.aput(ns, item_key, value, index=index, ttl=ttl)
        item = await self.store.aget(ns, item_key)
        if item is None:  # expired at once, or deleted meanwhile
            raise NotFoundError(_HIDDEN, status=404)
        return item

    async def get(self, key: ApiKey, namespace: Any, item_key: str) -> Item:
        ns = self._ns(key, "read", namespace)
        item = await self.store.aget(ns, item_key)
        if item is None:
            raise NotFoundError(_HIDDEN, status=404)
        return item

    async def delete(self, key: ApiKey, namespace: Any, item_key: str) -> None:
        ns = self._ns(key, "write", namespace)
        if await self.store.aget(ns, item_key) is None:
            raise NotFoundError(_HIDDEN, status=404)
        with provenance(api_key=key.id):
            await self.store.adelete(ns, item_key)

    async def search(
        self, key: ApiKey, prefix: Any, *, query: str | None = None, **options: Any
    ) -> list[SearchItem]:
        """Recall with the library's ranking (``query``), or list (no query)."""
        ns = self._prefix(key, "read", prefix)
        if query is None and "as_of" not in options:
            return await self.store.asearch(ns, **options)
        return await self.store.arecall(ns, query=query, **options)

    async def history(self, key: ApiKey, namespace: Any, item_key: str) -> list[Version]:
        ns = self._ns(key, "read", namespace)
        versions = await self.store.ahistory(ns, item_key)
        if not versions:
            raise NotFoundError(_HIDDEN, status=404)
        return versions

    async def as_of(self, key: ApiKey, namespace: Any, item_key: str, at: datetime) -> Item:
        ns = self._ns(key, "read", namespace)
        item = await asyncio.to_thread(self.store.get_as_of, ns, item_key, at)
        if item is None:
            raise NotFoundError(_HIDDEN, status=404)
        return item

    async def restore(self, key: ApiKey, namespace: Any, item_key: str, version: int) -> Item:
        ns = self._ns(key, "write", namespace)
        if not await self.store.ahistory(ns, item_key):
            raise NotFoundError(_HIDDEN, status=404)
        with provenance(api_key=key.id):
            return await asyncio.to_thread(self.store.restore, ns, item_key, version)

    async def namespaces(
        self,
        key: ApiKey,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """The namespaces this key can read (others are left out, never refused)."""
        if "read" not in key.permissions:
            self.check(key, "read", key.scopes[0] if key.scopes else ())
        found = await self.store.alist_namespaces(
            prefix=None if prefix is None else tuple(prefix),
            suffix=None if suffix is None else tuple(suffix),
            max_depth=max_depth,
            limit=1_000_000,
        )
        visible = [ns for ns in found if key.allows(ns)]
        return visible[offset : offset + limit]

    async def batch(self, key: ApiKey, ops: Sequence[Op]) -> list[Any]:
        """LangGraph ops (``RemoteStore``'s ``batch``), every one checked before any runs."""
        for op in ops:
            if isinstance(op, GetOp):
                self._ns(key, "read", op.namespace)
            elif isinstance(op, PutOp):
                self._ns(key, "write", op.namespace)
            elif isinstance(op, SearchOp):
                self._prefix(key, "read", op.namespace_prefix)
            elif isinstance(op, ListNamespacesOp) and "read" not in key.permissions:
                self.check(key, "read", key.scopes[0] if key.scopes else ())
        # LangGraph pages namespaces before this key's filter could: list them unpaged
        sent = [
            ListNamespacesOp(op.match_conditions, op.max_depth, limit=1_000_000, offset=0)
            if isinstance(op, ListNamespacesOp)
            else op
            for op in ops
        ]
        with provenance(api_key=key.id):
            results = await self.store.abatch(sent)
        out: list[Any] = []
        for op, result in zip(ops, results, strict=True):
            if isinstance(op, ListNamespacesOp):
                spaces: list[tuple[str, ...]] = result  # type: ignore[assignment]
                visible = [ns for ns in spaces if key.allows(ns)]
                result = visible[op.offset : op.offset + op.limit]
            out.append(result)
        return out

    # -- admin -----------------------------------------------------------------------------

    def export(self, key: ApiKey, prefix: Any) -> AsyncIterator[dict[str, Any]]:
        """Everything under ``prefix`` (items, then history), read in chunks off the loop.
        The key is checked here, before the first record is read."""
        ns = self._prefix(key, "admin", prefix)
        return self._chunks(self.store.export(ns))

    @staticmethod
    async def _chunks(records: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        def chunk() -> list[dict[str, Any]]:
            out = []
            for record in records:
                out.append(record)
                if len(out) >= 500:
                    break
            return out

        while True:
            part = await asyncio.to_thread(chunk)
            if not part:
                return
            for record in part:
                yield record

    async def purge(self, key: ApiKey, prefix: Any) -> int:
        ns = self._prefix(key, "admin", prefix)
        return await self.store.apurge(ns)

    async def stats(self, key: ApiKey, prefix: Any) -> dict[str, Any]:
        """Counts under ``prefix``: namespaces, items, jobs by state (visible ones)."""
        ns = self._prefix(key, "read", prefix)
        spaces = await self.store.anamespace_summary(ns)  # ns lies in the key's prefixes
        items = sum(space.items for space in spaces)
        jobs = await asyncio.to_thread(self.queue.jobs, None, limit=100_000)
        states: dict[str, int] = {}
        for job in jobs:
            if self._job_visible(key, job, ns):
                states[job.state] = states.get(job.state, 0) + 1
        return {"prefix": list(ns), "namespaces": len(spaces), "items": items, "jobs": states}

    async def summary(self, key: ApiKey, prefix: Any) -> list[dict[str, Any]]:
        """Each namespace under ``prefix`` with its item count and last write, for a tree
        view (read; namespaces outside the key's prefixes are left out). Counted by the
        store in SQL (:meth:`~retain.stores.RetainStore.namespace_summary`), not read."""
        ns = check_namespace(prefix, prefix=True)
        if not any(ns[: len(s)] == s or s[: len(ns)] == ns for s in key.scopes):
            raise NotFoundError(_HIDDEN, status=404)
        found: dict[tuple[str, ...], NamespaceSummary] = {}
        for scope in key.scopes:
            if scope[: len(ns)] == ns:
                under = scope  # the scope lies under the prefix asked about
            elif ns[: len(scope)] == scope:
                under = ns  # the prefix lies inside the scope
            else:
                continue  # another part of the tree
            self.check(key, "read", under)
            for space in await self.store.anamespace_summary(under):
                found[space.namespace] = space  # overlapping scopes count a namespace once
        return [
            {
                "namespace": list(space.namespace),
                "items": space.items,
                "last_activity": space.last_activity.isoformat(),
            }
            for space in sorted(found.values())
        ]

    async def reembed(self, key: ApiKey) -> int:
        """Recompute every vector (the whole store: root-scoped admin keys only)."""
        self._prefix(key, "admin", ())
        return await asyncio.to_thread(self.store.reembed)

    # -- profiles --------------------------------------------------------------------------

    async def profile(self, key: ApiKey, user_id: str) -> dict[str, Any] | None:
        self._ns(key, "read", self._profile_ns(user_id))
        found = await asyncio.to_thread(self.profiles.get, user_id=user_id)
        return None if found is None else self.profiles.schema.dump(found)

    async def update_profile(
        self, key: ApiKey, user_id: str, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        self._ns(key, "write", self._profile_ns(user_id))
        with provenance(api_key=key.id):
            updated = await asyncio.to_thread(
                lambda: self.profiles.set_fields(user_id=user_id, **dict(fields))
            )
        return dict(self.profiles.schema.dump(updated))

    def profile_schema(self) -> dict[str, Any]:
        from pydantic import TypeAdapter

        return dict(TypeAdapter(self.profiles.schema.schema).json_schema())

    def _profile_ns(self, user_id: str) -> tuple[str, ...]:
        if not isinstance(user_id, str) or not user_id or "." in user_id:
            raise InvalidInputError(
                f"user_id must be a non-empty string without '.'; got {user_id!r}."
            )
        return self.profiles.namespace(user_id)

    # -- conversations and jobs ------------------------------------------------------------

    async def submit(
        self,
        key: ApiKey,
        namespace: Any,
        messages: Sequence[Mapping[str, str]],
        *,
        thread_id: str | None = None,
        delay: float = 0.0,
        idempotency_key: str | None = None,
        said_at: datetime | None = None,
    ) -> Job:
        """Queue a conversation for background memory formation in ``namespace``.

        Submissions with the same namespace and ``thread_id`` debounce: a newer one
        replaces the queued one. The debounce key always holds the namespace, so one
        tenant never replaces another's work. The facts formed are stamped with
        ``said_at`` (default: now, when it is submitted, not when the job runs)."""
        ns = self._ns(key, "write", namespace)
        if any("{" in label or "}" in label for label in ns):
            raise InvalidInputError("Namespace labels of conversations may not hold '{' or '}'.")
        if not messages:
            raise InvalidInputError("A conversation needs at least one message.")
        now = datetime.fromtimestamp(self.store.clock.now(), timezone.utc)
        said = check_instant(said_at) if said_at is not None else now
        payload = {
            "namespace": list(ns),
            "messages": [dict(m) for m in messages],
            "said_at": format_time(said),
        }
        chosen = None if thread_id is None else debounce_key(ns, thread_id, None)
        idem = None if idempotency_key is None else json.dumps([list(ns), idempotency_key])
        job, _ = await asyncio.to_thread(
            lambda: self.queue.enqueue(payload, key=chosen, delay=delay, idempotency_key=idem)
        )
        return job

    def _job_visible(self, key: ApiKey, job: Job, under: Sequence[str] = ()) -> bool:
        payload = job.payload if isinstance(job.payload, Mapping) else {}
        ns = payload.get("namespace")
        if not isinstance(ns, list):
            return False
        return key.allows(ns) and tuple(ns[: len(under)]) == tuple(under)

    async def job(self, key: ApiKey, job_id: int, permission: Permission = "read") -> Job:
        job = await asyncio.to_thread(self.queue.get, job_id)
        if job is None or not self._job_visible(key, job):
            raise NotFoundError(_HIDDEN, status=404)
        self.check(key, permission, job.payload["namespace"])
        return job

    async def jobs(
        self, key: ApiKey, *, state: JobState | None = None, limit: int = 100
    ) -> list[Job]:
        found = await asyncio.to_thread(self.queue.jobs, state, limit=100_000)
        visible = [j for j in found if self._job_visible(key, j)]
        if visible and "read" not in key.permissions:
            self.check(key, "read", visible[0].payload["namespace"])
        return visible[:limit]

    async def retry(self, key: ApiKey, job_id: int) -> Job:
        await self.job(key, job_id, "write")
        return await asyncio.to_thread(self.queue.retry, job_id)

    async def ready(self) -> dict[str, Any]:
        """Whether the store and the queue answer (raises a store error if not)."""
        await self.store.aget(("retain-readiness",), "probe")
        counts = await asyncio.to_thread(self.queue.counts)
        return {"status": "ready", "jobs": counts, "worker": self._thread is not None}
