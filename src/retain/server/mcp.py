"""retain's MCP server (the official ``mcp`` SDK): memory tools for any MCP client.

Over streamable HTTP (mounted at ``/mcp/`` by ``retain serve``) each request carries its
key as ``Authorization: Bearer <key>``; over stdio (``retain mcp``) the key is
``RETAIN_API_KEY``, checked once at start. Tools see only what the key's prefixes allow,
exactly like the REST API (they call the same :class:`~retain.server.service.Service`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from retain.errors import AuthenticationError, RetainError
from retain.server.keys import ApiKey
from retain.server.models import item_out, job_out
from retain.server.service import Service

__all__ = ["create_mcp_server"]

_INSTRUCTIONS = (
    "Long-term memory. Namespaces are lists of labels such as ['users', 'u1', 'memories']; "
    "your API key limits which ones you can reach. Search before answering questions about "
    "the user; add or update a memory when the user states a lasting fact or preference."
)


@contextlib.contextmanager
def _tool_errors() -> Iterator[None]:
    """retain's errors reach the model as the tool's error text (type and message)."""
    try:
        yield
    except RetainError as e:
        raise ToolError(f"{type(e).__name__}: {e}") from None


def create_mcp_server(service: Service, *, api_key: ApiKey | None = None) -> MCPServer:
    """The MCP server over ``service``. ``api_key``: the key of a stdio session (over
    HTTP every request brings its own)."""
    server: MCPServer = MCPServer("retain", instructions=_INSTRUCTIONS)

    async def caller(ctx: Context) -> ApiKey:
        headers = ctx.headers
        if headers is None:
            if api_key is None:
                raise AuthenticationError("Set RETAIN_API_KEY to an API key.", status=401)
            return api_key
        auth = headers.get("authorization") or ""
        secret = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        return await service.authenticate(secret or headers.get("x-api-key"))

    @server.tool()
    async def add_memory(
        namespace: list[str], content: str, ctx: Context, key: str | None = None
    ) -> dict[str, Any]:
        """Store a memory now: a lasting fact or preference, as one short sentence."""
        with _tool_errors():
            item = await service.put(
                await caller(ctx), namespace, key or str(uuid.uuid4()), {"content": content}
            )
            return item_out(item)

    @server.tool()
    async def remember_conversation(
        namespace: list[str],
        messages: list[dict[str, str]],
        ctx: Context,
        thread_id: str | None = None,
        delay: float = 0.0,
    ) -> dict[str, Any]:
        """Form memories from a conversation in the background (messages are
        {"role": "user"|"assistant", "content": "..."}); returns the job."""
        with _tool_errors():
            job = await service.submit(
                await caller(ctx), namespace, messages, thread_id=thread_id, delay=delay
            )
            return job_out(job)

    @server.tool()
    async def search_memories(
        prefix: list[str], query: str, ctx: Context, limit: int = 5
    ) -> list[dict[str, Any]]:
        """Recall the memories under a namespace prefix that best match a query."""
        with _tool_errors():
            found = await service.search(await caller(ctx), prefix, query=query, limit=limit)
            return [item_out(i) for i in found]

    @server.tool()
    async def update_memory(
        namespace: list[str], key: str, content: str, ctx: Context
    ) -> dict[str, Any]:
        """Replace the content of an existing memory (the old one stays in its history)."""
        with _tool_errors():
            who = await caller(ctx)
            await service.get(who, namespace, key)
            return item_out(await service.put(who, namespace, key, {"content": content}))

    @server.tool()
    async def delete_memory(namespace: list[str], key: str, ctx: Context) -> str:
        """Delete a memory that is wrong or that the user asked to forget."""
        with _tool_errors():
            await service.delete(await caller(ctx), namespace, key)
            return f"deleted {key}"

    @server.tool()
    async def get_profile(user_id: str, ctx: Context) -> dict[str, Any]:
        """The user's profile (null fields are unknown)."""
        with _tool_errors():
            profile = await service.profile(await caller(ctx), user_id)
            return {"user_id": user_id, "profile": profile}

    @server.tool()
    async def update_profile(user_id: str, fields: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Set some fields of the user's profile; the others are kept."""
        with _tool_errors():
            profile = await service.update_profile(await caller(ctx), user_id, fields)
            return {"user_id": user_id, "profile": profile}

    return server
