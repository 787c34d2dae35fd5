"""retain as a service: ``retain serve`` (FastAPI + uvicorn) with tenant-scoped API keys
and an MCP server (``pip install 'retain[server]'``).

* :func:`create_app`: the ASGI application (REST at ``/v1``, OpenAPI, MCP at ``/mcp/``);
* :class:`Service`: the operations, checked against API keys, shared by REST and MCP;
* :mod:`retain.server.keys`: hashed API keys limited to namespace prefixes and permissions;
* :func:`create_mcp_server`: the MCP tools (stdio: ``retain mcp``).

FastAPI and the MCP SDK are imported on first use of what needs them, so
``retain.server.keys`` works without the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retain.server.keys import ApiKey, KeyStore, open_key_store

if TYPE_CHECKING:
    from retain.server.app import create_app
    from retain.server.mcp import create_mcp_server
    from retain.server.service import Service

__all__ = ["ApiKey", "KeyStore", "Service", "create_app", "create_mcp_server", "open_key_store"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "Service", "create_mcp_server"):
        from retain.errors import MissingDependencyError

        try:
            if name == "create_app":
                from retain.server.app import create_app

                return create_app
            if name == "Service":
                from retain.server.service import Service

                return Service
            from retain.server.mcp import create_mcp_server

            return create_mcp_server
        except ImportError as e:
            raise MissingDependencyError("retain serve", str(e.name), "server") from e
    raise AttributeError(f"module 'retain.server' has no attribute {name!r}")
