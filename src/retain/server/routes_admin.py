"""HTTP routes of export, purge, stats, keys, profiles, conversations and jobs, and the
health checks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse

from retain.queue import JobState
from retain.server.errors import ERROR_RESPONSES, error_body
from retain.server.models import ConversationIn, JobOut, KeyIn, KeyOut, PurgeIn, job_out
from retain.server.models import parse_namespace as _ns
from retain.server.routes import Key, PrefixQ, Svc

__all__ = ["health", "router"]

JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
health = APIRouter(tags=["health"])


@router.get(
    "/export",
    tags=["admin"],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export(prefix: PrefixQ, key: Key, service: Svc) -> StreamingResponse:
    """Everything under a prefix as JSON lines: items, then every version (admin)."""
    records = service.export(key, _ns(prefix))

    async def lines() -> AsyncIterator[bytes]:
        async for record in records:
            yield (json.dumps(record, ensure_ascii=False) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post("/purge", tags=["admin"])
async def purge(body: PurgeIn, key: Key, service: Svc) -> dict[str, int]:
    """Delete everything under a prefix, history included (admin). Cannot be undone."""
    return {"purged": await service.purge(key, body.prefix)}


@router.get("/stats", tags=["admin"])
async def stats(key: Key, service: Svc, prefix: PrefixQ = "") -> dict[str, Any]:
    """Namespaces, memories and jobs by state under a prefix."""
    return await service.stats(key, _ns(prefix))


@router.post("/reembed", tags=["admin"])
async def reembed(key: Key, service: Svc) -> dict[str, int]:
    """Recompute every vector with the store's embedding model (root admin key)."""
    return {"reembedded": await service.reembed(key)}


@router.post("/keys", response_model=KeyOut, status_code=201, tags=["keys"])
async def create_key(body: KeyIn, key: Key, service: Svc) -> dict[str, Any]:
    """A new key within the caller's own prefixes and permissions (admin); the secret is
    in the answer, once."""
    created, secret = await service.create_key(
        key,
        name=body.name,
        prefixes=body.prefixes,
        permissions=body.permissions,
        subject=body.subject,
    )
    return {**created.to_json(), "secret": secret}


@router.get("/keys", response_model=list[KeyOut], tags=["keys"])
async def list_keys(key: Key, service: Svc) -> list[dict[str, Any]]:
    """The live keys within the caller's prefixes (admin); secrets are never shown."""
    return [k.to_json() for k in await service.list_keys(key)]


@router.delete("/keys/{key_id}", status_code=204, tags=["keys"])
async def revoke_key(key_id: str, key: Key, service: Svc) -> Response:
    """Revoke a key at once (admin)."""
    await service.revoke_key(key, key_id)
    return Response(status_code=204)


@router.get("/profiles/{user_id}", tags=["profiles"])
async def get_profile(user_id: str, key: Key, service: Svc) -> dict[str, Any]:
    """A user's profile (``null`` before anything is known) and its JSON schema."""
    profile = await service.profile(key, user_id)
    return {"user_id": user_id, "profile": profile, "schema": service.profile_schema()}


@router.patch("/profiles/{user_id}", tags=["profiles"])
async def patch_profile(
    user_id: str,
    key: Key,
    service: Svc,
    fields: Annotated[dict[str, Any], Body(examples=[{"name": "Alice Chen"}])],
) -> dict[str, Any]:
    """Set some fields of a user's profile (JSON merge patch; the others are kept),
    validated against the schema; recorded in the profile's history."""
    profile = await service.update_profile(key, user_id, fields)
    return {"user_id": user_id, "profile": profile, "schema": service.profile_schema()}


@router.post("/conversations", response_model=JobOut, status_code=202, tags=["jobs"])
async def submit_conversation(body: ConversationIn, key: Key, service: Svc) -> dict[str, Any]:
    """Queue a conversation: memories are formed from it in the background, after
    ``delay`` seconds; a newer submission with the same ``thread_id`` replaces a queued one."""
    job = await service.submit(
        key,
        body.namespace,
        [m.model_dump() for m in body.messages],
        thread_id=body.thread_id,
        delay=body.delay,
        idempotency_key=body.idempotency_key,
        said_at=body.said_at,
    )
    return job_out(job)


@router.get("/jobs", response_model=list[JobOut], tags=["jobs"])
async def list_jobs(
    key: Key,
    service: Svc,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Background jobs of the key's namespaces (``state=dead``: failed for good)."""
    return [job_out(j) for j in await service.jobs(key, state=state, limit=limit)]


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
async def get_job(job_id: JobId, key: Key, service: Svc) -> dict[str, Any]:
    """One background job and its state."""
    return job_out(await service.job(key, job_id))


@router.post("/jobs/{job_id}/retry", response_model=JobOut, tags=["jobs"])
async def retry_job(job_id: JobId, key: Key, service: Svc) -> dict[str, Any]:
    """Queue a dead job again."""
    return job_out(await service.retry(key, job_id))


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers (no key needed)."""
    return {"status": "ok"}


@health.get("/readyz")
async def readyz(service: Svc) -> JSONResponse:
    """The store and the job queue answer (no key needed)."""
    try:
        return JSONResponse(await service.ready())
    except Exception as e:
        return JSONResponse(
            error_body(type(e).__name__, "The store is not ready.", "See the server's log."),
            status_code=503,
        )
