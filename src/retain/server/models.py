"""The JSON shapes of retain's HTTP API (request bodies and responses), shared by the
server (:mod:`retain.server`) and the client (:mod:`retain.client`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from langgraph.store.base import Item, SearchItem
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from retain.queue import Job
from retain.stores import Version

__all__ = [
    "BatchIn",
    "ConversationIn",
    "ErrorBody",
    "ErrorOut",
    "JobOut",
    "KeyIn",
    "KeyOut",
    "MemoryIn",
    "MemoryOut",
    "Message",
    "PurgeIn",
    "RestoreIn",
    "SearchIn",
    "VersionOut",
    "item_out",
    "job_out",
    "parse_namespace",
    "version_out",
]

Label = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^.\x00]+$")]
"""A namespace label: non-empty, without '.' or NUL."""
Namespace = Annotated[list[Label], Field(min_length=1)]
Prefix = list[Label]
NAMESPACE_PATTERN = r"^[^.\x00]+(\.[^.\x00]+)*$"
MAX_OFFSET = 2**31


def _distinct(fields: list[str]) -> list[str]:
    if len(set(fields)) != len(fields):
        raise ValueError("index fields must be distinct")
    return fields


IndexFields = Annotated[
    list[Annotated[str, StringConstraints(min_length=1)]],
    AfterValidator(_distinct),
    Field(json_schema_extra={"uniqueItems": True}),
]
PREFIX_PATTERN = r"^([^.\x00]+(\.[^.\x00]+)*)?$"


def parse_namespace(text: str) -> tuple[str, ...]:
    """A namespace from its query-string form, labels joined by ``'.'`` (labels never hold
    ``'.'``): ``"users.u1"`` is ``("users", "u1")``, ``""`` the root.

    Example:
        >>> parse_namespace("users.u1"), parse_namespace("")
        (('users', 'u1'), ())
    """
    return () if text == "" else tuple(text.split("."))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    type: str = Field(description="The retain error type, e.g. InvalidNamespaceError.")
    message: str
    hint: str = Field("", description="What to do next.")


class ErrorOut(BaseModel):
    """Every error answer: ``{"error": {"type", "message", "hint"}}``."""

    error: ErrorBody


class MemoryIn(_Strict):
    namespace: Namespace = Field(examples=[["users", "u1", "memories"]])
    key: str | None = Field(None, description="Default: a new UUID.")
    value: dict[str, Any] = Field(examples=[{"content": "User likes green tea"}])
    index: IndexFields | Literal[False] | None = Field(
        None, description="Fields to index (distinct paths); false: none; default: the store's."
    )
    ttl: float | None = Field(None, description="Minutes until it expires.")


class MemoryOut(BaseModel):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    score: float | None = None


class SearchIn(_Strict):
    prefix: Prefix = Field(examples=[["users", "u1"]])
    query: str | None = Field(None, description="Ranked recall; without it, a listing.")
    filter: dict[str, Any] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"
    recency_weight: float = Field(0.0, ge=0, le=1)
    importance_weight: float = Field(0.0, ge=0, le=1)
    as_of: AwareDatetime | None = Field(
        None,
        description="Facts valid at this time (docs/temporal.md); with or without a query.",
        examples=["2026-01-31T00:00:00Z"],
    )
    include_superseded: bool = Field(
        False, description="With a query: keep facts a later one superseded (ended)."
    )


class VersionOut(BaseModel):
    version: int
    op: Literal["put", "delete"]
    value: dict[str, Any] | None
    at: datetime
    provenance: dict[str, Any]


class RestoreIn(_Strict):
    namespace: Namespace
    key: str
    version: int = Field(ge=1, le=2**63 - 1)


class PurgeIn(_Strict):
    prefix: Namespace


class Message(_Strict):
    role: Literal["user", "assistant", "system", "human", "ai"]
    content: str


class ConversationIn(_Strict):
    namespace: Namespace = Field(examples=[["users", "u1", "memories"]])
    messages: list[Message] = Field(min_length=1)
    thread_id: str | None = Field(
        None, description="Debounce key: a newer submission replaces the queued one."
    )
    delay: float = Field(0.0, ge=0, le=86_400, description="Seconds to wait before forming.")
    idempotency_key: str | None = None
    said_at: AwareDatetime | None = Field(
        None,
        description="When the conversation happened (default: when it was submitted); "
        "the facts formed from it are stamped with it (docs/temporal.md).",
    )


class JobOut(BaseModel):
    id: int
    state: str
    namespace: list[str] | None
    run_at: float
    attempts: int
    max_attempts: int
    error: str | None
    result: Any = None
    created_at: float
    updated_at: float


class KeyIn(_Strict):
    name: str = Field(min_length=1)
    prefixes: list[Prefix] = Field(min_length=1, examples=[[["users", "{key_subject}"]]])
    permissions: list[Literal["read", "write", "admin"]] = ["read", "write"]
    subject: str | None = Field(None, description="Fills {key_subject} in the prefixes.")


class KeyOut(BaseModel):
    id: str
    name: str
    subject: str | None
    prefixes: list[list[str]]
    scopes: list[list[str]]
    permissions: list[str]
    created_at: float
    revoked_at: float | None
    secret: str | None = Field(None, description="Shown once, when the key is created.")


class BatchIn(_Strict):
    ops: list[dict[str, Any]] = Field(
        description="LangGraph store ops: {op: get|put|search|list_namespaces, ...}."
    )


def item_out(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }
    if isinstance(item, SearchItem):
        out["score"] = item.score
    return out


def version_out(version: Version) -> dict[str, Any]:
    return {
        "version": version.version,
        "op": version.op,
        "value": version.value,
        "at": version.at.isoformat(),
        "provenance": version.provenance,
    }


def job_out(job: Job) -> dict[str, Any]:
    payload = job.payload if isinstance(job.payload, dict) else {}
    ns = payload.get("namespace")
    return {
        "id": job.id,
        "state": job.state,
        "namespace": ns if isinstance(ns, list) else None,
        "run_at": job.run_at,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": job.error,
        "result": job.result,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }
