"""``RemoteStore``: LangGraph's ``BaseStore`` over HTTP, backed by ``retain serve``.

Every ``batch``/``abatch`` is one ``POST /v1/batch``; the server checks each op against the
API key before any runs. Anything built on a ``BaseStore`` works against a server: the
store manager, the memory tools, ``@entrypoint(store=...)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from langgraph.store.base import BaseStore, Op, Result

from retain.client._client import AsyncRetainClient, RetainClient
from retain.server.ops import decode_results, encode_ops

__all__ = ["RemoteStore"]


class RemoteStore(BaseStore):
    """A LangGraph store whose items live on a retain server.

    Args:
        url: The server, e.g. ``http://127.0.0.1:8000``.
        api_key: The key; its prefixes and permissions limit what this store can reach
            (an op outside them raises :class:`~retain.errors.NotFoundError`).
        timeout: Seconds per request.

    Example (needs a running server, hence not run here):

    .. code-block:: python

        from retain import create_memory_store_manager
        from retain.client import RemoteStore

        store = RemoteStore("http://127.0.0.1:8000", api_key="rk_...")
        manager = create_memory_store_manager(
            "openai:gpt-4o-mini", namespace=("users", "{langgraph_user_id}"), store=store
        )
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._async_transport = async_transport
        self.client = RetainClient(url, api_key, timeout=timeout, transport=transport)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        if not ops:
            return []
        return decode_results(ops, self.client.batch_json(encode_ops(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        if not ops:
            return []
        # one client per call: an httpx.AsyncClient belongs to the event loop it ran on
        async with AsyncRetainClient(
            self.url, self._api_key, timeout=self._timeout, transport=self._async_transport
        ) as client:
            raw = await client.batch_json(encode_ops(ops))
        return decode_results(ops, raw)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r})"
