"""``RetainClient`` and ``AsyncRetainClient``: retain's HTTP API from Python.

Both share every method (:class:`_Api`); each method builds a :class:`~._calls.Call` and
hands it to the client's one driver, ``_run``: the sync client returns the answer, the
async client an awaitable of it. Answers are the API's JSON (dicts and lists).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from retain.client import _calls
from retain.client._calls import Call, error_from
from retain.closing import Closing
from retain.errors import ConfigurationError, ServerUnavailableError

__all__ = ["AsyncRetainClient", "RetainClient"]


def _unreachable(url: str, error: Exception) -> ServerUnavailableError:
    return ServerUnavailableError(
        f"Cannot reach the retain server at {url}: {type(error).__name__}.",
        hint="Check the URL and that 'retain serve' is running.",
    )


class _Api:
    """The calls both clients make; ``_run`` is each client's driver."""

    url: str

    def _run(self, call: Call) -> Any:
        raise NotImplementedError

    def put(
        self,
        namespace: Sequence[str],
        key: str | None,
        value: Mapping[str, Any],
        *,
        index: Any = None,
        ttl: float | None = None,
    ) -> Any:
        """Store a memory (``key=None``: a new UUID); returns the stored item."""
        return self._run(_calls.put(namespace, key, value, index=index, ttl=ttl))

    def get(self, namespace: Sequence[str], key: str) -> Any:
        """One item; :class:`~retain.errors.NotFoundError` if absent or out of scope."""
        return self._run(_calls.get(namespace, key))

    def delete(self, namespace: Sequence[str], key: str) -> Any:
        return self._run(_calls.delete(namespace, key))

    def search(
        self,
        prefix: Sequence[str],
        query: str | None = None,
        *,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        **options: Any,
    ) -> Any:
        """Recall under ``prefix`` (``mode``, ``recency_weight``, ``importance_weight`` as
        in :meth:`retain.stores.RetainStore.recall`), or list without a query."""
        body = {"filter": dict(filter) if filter else None, "limit": limit, "offset": offset}
        return self._run(_calls.search(prefix, query, {**body, **options}))

    def history(self, namespace: Sequence[str], key: str) -> Any:
        return self._run(_calls.history(namespace, key))

    def as_of(self, namespace: Sequence[str], key: str, at: datetime) -> Any:
        return self._run(_calls.as_of(namespace, key, at))

    def restore(self, namespace: Sequence[str], key: str, version: int) -> Any:
        return self._run(_calls.restore(namespace, key, version))

    def purge(self, prefix: Sequence[str]) -> Any:
        """Delete everything under ``prefix``; returns how many items (admin)."""
        return self._run(_calls.purge(prefix))

    def namespaces(
        self,
        prefix: Sequence[str] | None = None,
        *,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Any:
        return self._run(_calls.namespaces(prefix, max_depth, limit, offset))

    def stats(self, prefix: Sequence[str] = ()) -> Any:
        return self._run(_calls.stats(prefix))

    def reembed(self) -> Any:
        return self._run(_calls.reembed())

    def profile(self, user_id: str) -> Any:
        """The user's profile as a dict, or ``None`` before anything is known."""
        return self._run(_calls.profile(user_id))

    def update_profile(self, user_id: str, fields: Mapping[str, Any]) -> Any:
        return self._run(_calls.update_profile(user_id, fields))

    def submit(
        self,
        namespace: Sequence[str],
        messages: Sequence[Mapping[str, str]],
        *,
        thread_id: str | None = None,
        delay: float = 0.0,
        idempotency_key: str | None = None,
    ) -> Any:
        """Queue a conversation for background memory formation; returns the job."""
        return self._run(_calls.submit(namespace, messages, thread_id, delay, idempotency_key))

    def job(self, job_id: int) -> Any:
        return self._run(_calls.job(job_id))

    def jobs(self, state: str | None = None, *, limit: int = 100) -> Any:
        return self._run(_calls.jobs(state, limit))

    def retry_job(self, job_id: int) -> Any:
        return self._run(_calls.retry(job_id))

    def create_key(
        self,
        name: str,
        *,
        prefixes: Sequence[Sequence[str]],
        permissions: Sequence[str] = ("read", "write"),
        subject: str | None = None,
    ) -> Any:
        """A new key (admin); its ``secret`` is in the answer, once."""
        return self._run(_calls.create_key(name, prefixes, permissions, subject))

    def list_keys(self) -> Any:
        return self._run(_calls.list_keys())

    def revoke_key(self, key_id: str) -> Any:
        return self._run(_calls.revoke_key(key_id))

    def batch_json(self, encoded_ops: list[dict[str, Any]]) -> Any:
        """Store ops as JSON (see :mod:`retain.server.ops`); what ``RemoteStore`` uses."""
        return self._run(_calls.batch(encoded_ops))


def _headers(api_key: str | None) -> dict[str, str]:
    if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
        raise ConfigurationError("api_key must be a non-empty string (or None).")
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _body(response: httpx.Response, call: Call) -> Any:
    if response.status_code >= 400:
        raise error_from(response.status_code, response.content)
    if response.status_code == 204 or not response.content:
        return None
    return call.parse(response.json())


class RetainClient(_Api, Closing):
    """A sync client of ``retain serve``.

    Args:
        url: The server, e.g. ``http://127.0.0.1:8000``.
        api_key: Sent as ``Authorization: Bearer``; never logged or shown in errors.
        timeout: Seconds per request.
        transport: An ``httpx`` transport (tests may pass ``httpx.MockTransport``).
        http_client: An ``httpx.Client`` to send with instead (for example FastAPI's
            ``TestClient(create_app(store))``, which serves the app in-process).

    Errors are retain's: :class:`~retain.errors.NotFoundError`,
    :class:`~retain.errors.AuthenticationError`, input errors by their own class,
    :class:`~retain.errors.ServerUnavailableError` when nothing answers.

    Example (needs a running server, hence not run here):

    .. code-block:: python

        from retain.client import RetainClient

        with RetainClient("http://127.0.0.1:8000", api_key="rk_...") as client:
            client.put(("users", "u1", "memories"), None, {"content": "User likes tea"})
            client.search(("users", "u1"), "tea")
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = http_client or httpx.Client(
            base_url=self.url, headers=_headers(api_key), timeout=timeout, transport=transport
        )
        if http_client is not None:
            http_client.headers.update(_headers(api_key))

    def _run(self, call: Call) -> Any:
        try:
            response = self._http.request(
                call.method, call.path, params=call.params, json=call.json
            )
        except httpx.TransportError as e:
            raise _unreachable(self.url, e) from None
        return _body(response, call)

    def export(self, prefix: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Everything under ``prefix`` as records, streamed (admin)."""
        call = _calls.export(prefix)
        try:
            with self._http.stream("GET", call.path, params=call.params) as response:
                if response.status_code >= 400:
                    raise error_from(response.status_code, response.read())
                for line in response.iter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.TransportError as e:
            raise _unreachable(self.url, e) from None

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"RetainClient({self.url!r})"


class AsyncRetainClient(_Api):
    """The async twin of :class:`RetainClient`: the same methods, each awaited.

    Example (needs a running server, hence not run here):

    .. code-block:: python

        async with AsyncRetainClient("http://127.0.0.1:8000", api_key="rk_...") as client:
            await client.search(("users", "u1"), "tea")
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    async def _run(self, call: Call) -> Any:
        try:
            response = await self._http.request(
                call.method, call.path, params=call.params, json=call.json
            )
        except httpx.TransportError as e:
            raise _unreachable(self.url, e) from None
        return _body(response, call)

    async def export(self, prefix: Sequence[str]) -> AsyncIterator[dict[str, Any]]:
        call = _calls.export(prefix)
        try:
            async with self._http.stream("GET", call.path, params=call.params) as response:
                if response.status_code >= 400:
                    raise error_from(response.status_code, await response.aread())
                async for line in response.aiter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.TransportError as e:
            raise _unreachable(self.url, e) from None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRetainClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncRetainClient({self.url!r})"
