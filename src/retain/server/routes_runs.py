"""LangGraph Platform's run protocol, the subset ``ReflectionExecutor("name", namespace,
url=...)`` speaks (:mod:`retain.background.remote`): each submission becomes a queued
conversation job, so a remote executor can hand its work to ``retain serve``.

``POST /threads/{thread_id}/runs`` with ``{"assistant_id", "input": {"messages": [...]},
"config", "after_seconds", ...}``. The namespace written is
``config["configurable"]["namespace"]`` (a list of labels), else the API key's own prefix
when it has exactly one. The thread id is the debounce key: a newer run on the same thread
replaces a queued one (``multitask_strategy="rollback"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Body

from retain.errors import InvalidInputError
from retain.server.errors import ERROR_RESPONSES
from retain.server.keys import ApiKey
from retain.server.routes import Key, Svc

__all__ = ["router"]

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}
_ROLES.update(system="system")


def _message(raw: Any) -> dict[str, str]:
    if isinstance(raw, (list, tuple)) and len(raw) == 2:
        role, content = raw
    elif isinstance(raw, Mapping):
        role, content = raw.get("role", raw.get("type")), raw.get("content")
    else:
        role, content = None, None
    if role not in _ROLES or not isinstance(content, str):
        raise InvalidInputError(
            "Each message is [role, content] or {role, content} with role user, assistant or "
            f"system and text content; got {raw!r}."
        )
    return {"role": _ROLES[str(role)], "content": content}


def _namespace(key: ApiKey, config: Any) -> list[str]:
    configurable = config.get("configurable") if isinstance(config, Mapping) else None
    chosen = configurable.get("namespace") if isinstance(configurable, Mapping) else None
    if chosen is None and len(key.scopes) == 1 and key.scopes[0]:
        return list(key.scopes[0])
    if not isinstance(chosen, list) or not all(isinstance(label, str) for label in chosen):
        raise InvalidInputError(
            "Say where to form memories: config={'configurable': {'namespace': [...]}}."
        )
    return chosen


def _said_at(raw: Any) -> datetime | None:
    """The input's ``said_at`` (what a remote ReflectionExecutor sends: ISO 8601 with a
    time zone), or ``None``."""
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInputError(
            f"said_at must be an ISO 8601 time with a time zone; got {str(raw)[:40]!r}."
        )
    return parsed


@router.post("/threads/{thread_id}/runs")
async def create_run(
    thread_id: str,
    key: Key,
    service: Svc,
    body: dict[str, Any] = Body(examples=[{"assistant_id": "memory", "input": {"messages": []}}]),  # noqa: B008
) -> dict[str, Any]:
    """A run of the memory reflector on ``input["messages"]``, queued like
    ``POST /v1/conversations`` (``after_seconds``: the delay)."""
    payload = body.get("input")
    raw = payload.get("messages") if isinstance(payload, Mapping) else None
    if not isinstance(raw, list):
        raise InvalidInputError("A run's input is {'messages': [...]}.")
    delay = body.get("after_seconds") or 0
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise InvalidInputError("after_seconds must be a number of seconds >= 0.")
    job = await service.submit(
        key,
        _namespace(key, body.get("config")),
        [_message(m) for m in raw],
        thread_id=thread_id,
        delay=float(delay),
        said_at=_said_at(payload.get("said_at") if isinstance(payload, Mapping) else None),
    )
    at = datetime.fromtimestamp(job.created_at, timezone.utc).isoformat()
    return {
        "run_id": str(job.id),
        "thread_id": thread_id,
        "assistant_id": str(body.get("assistant_id", "")),
        "status": "pending",
        "created_at": at,
        "updated_at": at,
        "metadata": {"job_id": job.id},
        "multitask_strategy": "rollback",
        "kwargs": {},
    }
