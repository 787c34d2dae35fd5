"""Python clients of ``retain serve`` (``pip install 'retain[server]'``).

* :class:`RetainClient` / :class:`AsyncRetainClient`: the HTTP API, sync and async;
* :class:`RemoteStore`: LangGraph's ``BaseStore`` over HTTP, so the store manager, the
  memory tools and LangGraph graphs keep their memories on a server.

Errors are retain's (:mod:`retain.errors`): ``NotFoundError`` (absent, or outside the
key's namespaces), ``AuthenticationError``, ``PermissionDeniedError``, input errors by
their own class, ``ServerUnavailableError`` when the server cannot be reached.
"""

from retain.client._client import AsyncRetainClient, RetainClient
from retain.client.remote_store import RemoteStore

__all__ = ["AsyncRetainClient", "RemoteStore", "RetainClient"]
