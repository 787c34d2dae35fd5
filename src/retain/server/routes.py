"""HTTP routes of memories, batches and namespaces (``/v1/...``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from retain.server.errors import ERROR_RESPONSES
from retain.server.keys import ApiKey
from retain.server.models import (
    MAX_OFFSET,
    NAMESPACE_PATTERN,
    PREFIX_PATTERN,
    BatchIn,
    MemoryIn,
    MemoryOut,
    RestoreIn,
    SearchIn,
    VersionOut,
    item_out,
    parse_namespace,
    version_out,
)
from retain.server.ops import decode_ops, encode_results
from retain.server.service import Service

__all__ = ["caller", "router", "service_of"]

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer <key>")


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The API key of the request (``Authorization: Bearer`` or ``X-API-Key``)."""
    secret = credentials.credentials if credentials else request.headers.get("x-api-key")
    return await service_of(request).authenticate(secret)


async def _service(request: Request) -> Service:
    # async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, a
    # thread hop per request for an attribute read
    return service_of(request)


Key = Annotated[ApiKey, Depends(caller)]
Svc = Annotated[Service, Depends(_service)]
NamespaceQ = Annotated[
    str,
    Query(
        description="Labels joined by '.', e.g. users.u1.memories",
        examples=["users.u1"],
        pattern=NAMESPACE_PATTERN,
    ),
]
PrefixQ = Annotated[
    str,
    Query(
        description="Labels joined by '.' (empty: the root)",
        examples=["users.u1"],
        pattern=PREFIX_PATTERN,
    ),
]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.post("/memories", response_model=MemoryOut, tags=["memories"])
async def put_memory(body: MemoryIn, key: Key, service: Svc) -> dict[str, Any]:
    """Store (or replace) one memory; every write is a new version in its history."""
    item = await service.put(
        key,
        body.namespace,
        body.key or str(uuid.uuid4()),
        body.value,
        index=body.index,
        ttl=body.ttl,
    )
    return item_out(item)


@router.get("/memories/item", response_model=MemoryOut, tags=["memories"])
async def get_memory(
    namespace: NamespaceQ, item_key: Annotated[str, Query(alias="key")], key: Key, service: Svc
) -> dict[str, Any]:
    """One memory by namespace and key."""
    return item_out(await service.get(key, parse_namespace(namespace), item_key))


@router.delete("/memories/item", status_code=204, tags=["memories"])
async def delete_memory(
    namespace: NamespaceQ, item_key: Annotated[str, Query(alias="key")], key: Key, service: Svc
) -> Response:
    """Delete one memory (recorded in its history)."""
    await service.delete(key, parse_namespace(namespace), item_key)
    return Response(status_code=204)


@router.get("/memories", response_model=list[MemoryOut], tags=["memories"])
async def list_memories(
    prefix: PrefixQ,
    key: Key,
    service: Svc,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[dict[str, Any]]:
    """The memories under a prefix, newest first."""
    found = await service.search(key, parse_namespace(prefix), limit=limit, offset=offset)
    return [item_out(i) for i in found]


@router.post("/memories/search", response_model=list[MemoryOut], tags=["memories"])
async def search_memories(body: SearchIn, key: Key, service: Svc) -> list[dict[str, Any]]:
    """Recall with retain's ranking (keywords and meaning, fused; recency and importance
    weights; current facts unless ``as_of`` or ``include_superseded``), or a filtered
    listing without a query (every item, or with ``as_of`` the facts valid then)."""
    options: dict[str, Any] = {"filter": body.filter, "limit": body.limit, "offset": body.offset}
    if body.query is not None:
        options.update(
            mode=body.mode,
            recency_weight=body.recency_weight,
            importance_weight=body.importance_weight,
            include_superseded=body.include_superseded,
        )
    if body.as_of is not None:
        options["as_of"] = body.as_of
    found = await service.search(key, body.prefix, query=body.query, **options)
    return [item_out(i) for i in found]


@router.get("/memories/history", response_model=list[VersionOut], tags=["history"])
async def memory_history(
    namespace: NamespaceQ, item_key: Annotated[str, Query(alias="key")], key: Key, service: Svc
) -> list[dict[str, Any]]:
    """Every version of one memory, oldest first, deletions included, with provenance."""
    versions = await service.history(key, parse_namespace(namespace), item_key)
    return [version_out(v) for v in versions]


@router.get("/memories/as-of", response_model=MemoryOut, tags=["history"])
async def memory_as_of(
    namespace: NamespaceQ,
    item_key: Annotated[str, Query(alias="key")],
    at: datetime,
    key: Key,
    service: Svc,
) -> dict[str, Any]:
    """The memory as it was at ``at`` (an ISO 8601 time with its offset)."""
    if at.tzinfo is None:
        from retain.errors import InvalidInputError

        raise InvalidInputError("'at' needs a time zone, e.g. 2026-12-01T10:00:00+00:00.")
    return item_out(await service.as_of(key, parse_namespace(namespace), item_key, at))


@router.post("/memories/restore", response_model=MemoryOut, tags=["history"])
async def restore_memory(body: RestoreIn, key: Key, service: Svc) -> dict[str, Any]:
    """Put back the value of an earlier version (itself a new version)."""
    return item_out(await service.restore(key, body.namespace, body.key, body.version))


@router.post("/batch", tags=["memories"])
async def batch(body: BatchIn, key: Key, service: Svc) -> dict[str, Any]:
    """LangGraph store ops in one call (what ``retain.client.RemoteStore`` sends). Every
    op is checked against the key before any runs."""
    ops = decode_ops(body.ops)
    return {"results": encode_results(await service.batch(key, ops))}


@router.get("/namespaces/summary", tags=["namespaces"])
async def namespace_summary(
    key: Key, service: Svc, prefix: Annotated[str, Query(pattern=PREFIX_PATTERN)] = ""
) -> list[dict[str, Any]]:
    """Each namespace under ``prefix`` that this key can read, with its number of memories
    and its last write (``last_activity``), sorted by namespace."""
    return await service.summary(key, parse_namespace(prefix))


@router.get("/namespaces", tags=["namespaces"])
async def namespaces(
    key: Key,
    service: Svc,
    prefix: Annotated[str | None, Query(pattern=PREFIX_PATTERN)] = None,
    suffix: Annotated[str | None, Query(pattern=PREFIX_PATTERN)] = None,
    max_depth: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[list[str]]:
    """The namespaces this key can read (``*`` matches any label in prefix/suffix)."""
    found = await service.namespaces(
        key,
        prefix=None if not prefix else parse_namespace(prefix),
        suffix=None if not suffix else parse_namespace(suffix),
        max_depth=max_depth,
        limit=limit,
        offset=offset,
    )
    return [list(ns) for ns in found]
