"""``RetainClient`` and ``AsyncRetainClient``: retain's HTTP API from Python.

Both share every method (:class:`_Api`); each method builds a :class:`~._calls.Call` and
hands it to the client's one driver, ``_run``: the sync client returns the answer, the
async client an awaitable of it. Answers are the API's JSON (dicts and lists).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Concatenate, ParamSpec

import httpx

from retain.client import _calls
from retain.client._calls import Call, error_from
from retain.closing import Closing
from retain.errors import ConfigurationError, ServerUnavailableError

__all__ = ["AsyncRetainClient", "RetainClient"]

P = ParamSpec("P")


def _unreachable(url: str, error: Exception) -> ServerUnavailableError:
    return ServerUnavailableError(
        f"Cannot reach the retain server at {url}: {type(error).__name__}.",
        hint="Check the URL and that 'retain serve' is running.",
    )


def _sends(build: Callable[P, Call]) -> Callable[Concatenate[_Api, P], Any]:
    """The client method sending the call ``build`` makes: its parameters and docstring."""

    def method(self: _Api, /, *args: P.args, **kwargs: P.kwargs) -> Any:
        return self._run(build(*args, **kwargs))

    method.__name__ = method.__qualname__ = build.__name__
    method.__doc__ = build.__doc__
    signature = inspect.signature(build)
    me = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[me, *signature.parameters.values()], return_annotation=Any
    )
    return method


class _Api:
    """The calls both clients make (each one function of :mod:`._calls`, sent); ``_run``
    is each client's driver: the sync client returns the answer, the async client an
    awaitable of it."""

    url: str

    def _run(self, call: Call) -> Any:
        raise NotImplementedError

    put = _sends(_calls.put)
    get = _sends(_calls.get)
    delete = _sends(_calls.delete)
    search = _sends(_calls.search)
    history = _sends(_calls.history)
    as_of = _sends(_calls.as_of)
    restore = _sends(_calls.restore)
    purge = _sends(_calls.purge)
    namespaces = _sends(_calls.namespaces)
    stats = _sends(_calls.stats)
    reembed = _sends(_calls.reembed)
    profile = _sends(_calls.profile)
    update_profile = _sends(_calls.update_profile)
    submit = _sends(_calls.submit)
    job = _sends(_calls.job)
    jobs = _sends(_calls.jobs)
    retry_job = _sends(_calls.retry_job)
    create_key = _sends(_calls.create_key)
    list_keys = _sends(_calls.list_keys)
    revoke_key = _sends(_calls.revoke_key)
    batch_json = _sends(_calls.batch_json)


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
