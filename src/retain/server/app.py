"""``create_app``: the FastAPI application of ``retain serve``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from retain.profiles import UserProfile
from retain.queue import RetryPolicy
from retain.server.errors import install_error_handlers
from retain.server.keys import KeyStore, open_key_store
from retain.server.routes import router as memory_routes
from retain.server.routes_admin import health
from retain.server.routes_admin import router as admin_routes
from retain.server.routes_runs import router as run_routes
from retain.server.service import Service
from retain.stores import RetainStore

__all__ = ["create_app"]

_DESCRIPTION = """Long-term memory for LLM agents, as a service.

Every `/v1` request needs an API key (`Authorization: Bearer <key>`), limited to
namespace prefixes and to the permissions read, write and admin. A namespace outside the
key's prefixes answers **404**, exactly like one that holds nothing; a namespace inside them
without the permission answers **403**. Errors have one shape:
`{"error": {"type", "message", "hint"}}`. Namespaces in query strings are labels joined
by `.` (`users.u1.memories`); in JSON bodies, lists of labels.

The MCP server (streamable HTTP) is at `/mcp/`, with the same keys; the web inspector
(sign in with a key) at `/ui`.
"""


def create_app(
    store: RetainStore,
    *,
    keys: KeyStore | None = None,
    admin_key: str | None = None,
    model: Any = None,
    profile_schema: Any = UserProfile,
    worker: bool = True,
    mcp: bool = True,
    ui: bool = True,
    host: str = "127.0.0.1",
    poll_interval: float = 1.0,
    retry: RetryPolicy | None = None,
) -> FastAPI:
    """The HTTP application over ``store``: REST API at ``/v1``, OpenAPI at
    ``/openapi.json`` (interactive docs at ``/docs``), MCP at ``/mcp/``, the inspector at
    ``/ui``, health at ``/healthz`` and ``/readyz``.

    Args:
        store: A retain store; ``retain.stores.open_store(url)`` opens one from a URL.
        keys: The API keys (default: the store's own database).
        admin_key: The bootstrap admin key's secret (every namespace, every permission);
            the CLI reads it from ``RETAIN_ADMIN_KEY``.
        model: Forms memories from submitted conversations (``"provider:model"`` or a
            chat model); without one, conversations stay queued for another worker.
        profile_schema: The schema of ``/v1/profiles``.
        worker: Run a background worker in this process (with a model).
        mcp: Mount the MCP server (streamable HTTP) at ``/mcp/``.
        ui: Serve the inspector's pages at ``/ui`` (docs/inspector.md); every answer
            also carries ``Server-Timing: app;dur=<ms>``.
        host: The host the server binds (MCP's DNS-rebinding protection allows it).
        poll_interval: How often the worker looks for due jobs (seconds, at most).
        retry: Attempts and backoff of conversation jobs.

    The store is not closed when the app stops: it is the caller's.

    Example:
        >>> import tempfile, os
        >>> from fastapi.testclient import TestClient
        >>> from retain.server import create_app
        >>> from retain.stores import SQLiteStore
        >>> store = SQLiteStore(os.path.join(tempfile.mkdtemp(), "m.db"))
        >>> app = create_app(store, admin_key="an-admin-key-of-32-characters-xx", mcp=False)
        >>> with TestClient(app) as client:
        ...     auth = {"Authorization": "Bearer an-admin-key-of-32-characters-xx"}
        ...     put = client.post("/v1/memories", headers=auth, json={
        ...         "namespace": ["users", "u1"], "key": "k", "value": {"content": "tea"}})
        ...     got = client.get("/v1/memories/item?namespace=users.u1&key=k", headers=auth)
        >>> got.json()["value"]
        {'content': 'tea'}
        >>> store.close()
    """
    if isinstance(model, str):
        from retain.llm.resolve import resolve_model

        model = resolve_model(model)
    service = Service(
        store,
        keys=keys if keys is not None else open_key_store(store),
        admin_secret=admin_key,
        model=model,
        profile_schema=profile_schema,
        worker=worker,
        poll_interval=poll_interval,
        retry=retry,
    )
    mcp_server = None
    if mcp:
        from retain.server.mcp import create_mcp_server

        mcp_server = create_mcp_server(service)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            if mcp_server is None:
                yield
            else:
                async with mcp_server.session_manager.run():
                    yield
        finally:
            service.close()

    from retain import __version__

    app = FastAPI(
        title="retain",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(memory_routes)
    app.include_router(admin_routes)
    app.include_router(run_routes)
    app.include_router(health)
    if ui:
        from retain.server.ui import install_ui

        install_ui(app)
    if mcp_server is not None:
        # stateless: any process of a scaled-out server answers any request (keys per request)
        mcp_app = mcp_server.streamable_http_app(
            streamable_http_path="/", host=host, stateless_http=True
        )
        app.mount("/mcp", mcp_app)
    return app
