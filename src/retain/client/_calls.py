"""The pure core of retain's clients: each API call as a :class:`Call` (what to send, how
to read the answer), and the one translation of error answers into retain's errors. The
sync and async clients only send calls and apply ``parse``: each client method is the
function of the same name here, sent (:func:`retain.client._client.sends`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from retain import errors as _errors
from retain.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
)

__all__ = ["Call", "error_from", "ns_query"]


def _identity(body: Any) -> Any:
    return body


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    parse: Callable[[Any], Any] = field(default=_identity)
    stream: bool = False


def ns_query(namespace: Sequence[str]) -> str:
    """A namespace in a query string: labels joined by ``'.'`` (checked on the server)."""
    if isinstance(namespace, str):
        raise InvalidInputError(
            f"A namespace is a tuple of labels such as ('users', 'u1'); got {namespace!r}."
        )
    return ".".join(namespace)


def error_from(status: int, content: bytes) -> Exception:
    """The retain error an error answer stands for. Input errors come back as their own
    class (``InvalidNamespaceError``, ...); the rest by status."""
    try:
        body = json.loads(content)["error"]
        kind, message, hint = str(body["type"]), str(body["message"]), str(body.get("hint", ""))
    except (ValueError, KeyError, TypeError):
        kind, message, hint = "ServiceError", f"The server answered HTTP {status}.", ""
    cls = getattr(_errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, InvalidInputError):
        return cls(message)
    by_status: dict[int, type[ServiceError]] = {
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
    }
    return by_status.get(status, ServiceError)(message, status=status, type=kind, hint=hint)


def put(
    namespace: Sequence[str],
    key: str | None,
    value: Mapping[str, Any],
    *,
    index: Any = None,
    ttl: float | None = None,
) -> Call:
    """Store a memory (``key=None``: a new UUID); returns the stored item."""
    body: dict[str, Any] = {"namespace": list(namespace), "key": key, "value": dict(value)}
    if index is not None:
        body["index"] = index
    if ttl is not None:
        body["ttl"] = ttl
    return Call("POST", "/v1/memories", json=body)


def get(namespace: Sequence[str], key: str) -> Call:
    """One item; :class:`~retain.errors.NotFoundError` if absent or out of scope."""
    return Call("GET", "/v1/memories/item", {"namespace": ns_query(namespace), "key": key})


def delete(namespace: Sequence[str], key: str) -> Call:
    return Call("DELETE", "/v1/memories/item", {"namespace": ns_query(namespace), "key": key})


def search(
    prefix: Sequence[str],
    query: str | None = None,
    *,
    filter: Mapping[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    **options: Any,
) -> Call:
    """Recall under ``prefix`` (``mode``, ``recency_weight``, ``importance_weight``,
    ``as_of`` (an aware datetime) and ``include_superseded`` as in
    :meth:`retain.stores.RetainStore.recall`), or list without a query."""
    body = {
        "prefix": list(prefix),
        "query": query,
        "filter": dict(filter) if filter else None,
        "limit": limit,
        "offset": offset,
        **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in options.items()},
    }
    return Call("POST", "/v1/memories/search", json=body)


def history(namespace: Sequence[str], key: str) -> Call:
    return Call("GET", "/v1/memories/history", {"namespace": ns_query(namespace), "key": key})


def as_of(namespace: Sequence[str], key: str, at: datetime) -> Call:
    params = {"namespace": ns_query(namespace), "key": key, "at": at.isoformat()}
    return Call("GET", "/v1/memories/as-of", params)


def restore(namespace: Sequence[str], key: str, version: int) -> Call:
    body = {"namespace": list(namespace), "key": key, "version": version}
    return Call("POST", "/v1/memories/restore", json=body)


def export(prefix: Sequence[str]) -> Call:
    return Call("GET", "/v1/export", {"prefix": ns_query(prefix)}, stream=True)


def purge(prefix: Sequence[str]) -> Call:
    """Delete everything under ``prefix``; returns how many items (admin)."""
    return Call("POST", "/v1/purge", json={"prefix": list(prefix)}, parse=lambda b: b["purged"])


def namespaces(
    prefix: Sequence[str] | None = None,
    *,
    max_depth: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Call:
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if prefix:
        params["prefix"] = ns_query(prefix)
    if max_depth is not None:
        params["max_depth"] = max_depth
    return Call("GET", "/v1/namespaces", params, parse=lambda b: [tuple(ns) for ns in b])


def stats(prefix: Sequence[str] = ()) -> Call:
    return Call("GET", "/v1/stats", {"prefix": ns_query(prefix)})


def reembed() -> Call:
    return Call("POST", "/v1/reembed", parse=lambda b: b["reembedded"])


def profile(user_id: str) -> Call:
    """The user's profile as a dict, or ``None`` before anything is known."""
    return Call("GET", f"/v1/profiles/{user_id}", parse=lambda b: b["profile"])


def update_profile(user_id: str, fields: Mapping[str, Any]) -> Call:
    return Call("PATCH", f"/v1/profiles/{user_id}", json=dict(fields), parse=lambda b: b["profile"])


def submit(
    namespace: Sequence[str],
    messages: Sequence[Mapping[str, str]],
    *,
    thread_id: str | None = None,
    delay: float = 0.0,
    idempotency_key: str | None = None,
) -> Call:
    """Queue a conversation for background memory formation; returns the job."""
    body = {
        "namespace": list(namespace),
        "messages": [dict(m) for m in messages],
        "thread_id": thread_id,
        "delay": delay,
        "idempotency_key": idempotency_key,
    }
    return Call("POST", "/v1/conversations", json=body)


def job(job_id: int) -> Call:
    return Call("GET", f"/v1/jobs/{int(job_id)}")


def jobs(state: str | None = None, *, limit: int = 100) -> Call:
    params: dict[str, Any] = {"limit": limit}
    if state:
        params["state"] = state
    return Call("GET", "/v1/jobs", params)


def retry_job(job_id: int) -> Call:
    return Call("POST", f"/v1/jobs/{int(job_id)}/retry")


def create_key(
    name: str,
    *,
    prefixes: Sequence[Sequence[str]],
    permissions: Sequence[str] = ("read", "write"),
    subject: str | None = None,
) -> Call:
    """A new key (admin); its ``secret`` is in the answer, once."""
    body = {
        "name": name,
        "prefixes": [list(p) for p in prefixes],
        "permissions": list(permissions),
        "subject": subject,
    }
    return Call("POST", "/v1/keys", json=body)


def list_keys() -> Call:
    return Call("GET", "/v1/keys")


def revoke_key(key_id: str) -> Call:
    return Call("DELETE", f"/v1/keys/{key_id}")


def batch_json(encoded_ops: list[dict[str, Any]]) -> Call:
    """Store ops as JSON (see :mod:`retain.server.ops`); what ``RemoteStore`` uses."""
    return Call("POST", "/v1/batch", json={"ops": encoded_ops}, parse=lambda b: b["results"])
