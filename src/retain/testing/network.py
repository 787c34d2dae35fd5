"""Refuse real network connections in tests: only loopback and Unix sockets are allowed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from retain.errors import RetainError

__all__ = ["NetworkBlockedError", "block_network"]

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkBlockedError(RetainError, ConnectionError):
    """A test tried to reach a non-local address while the network is blocked."""


def _is_local(host: Any, allowed: frozenset[str]) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]")
    if host in _LOCAL_NAMES or host in allowed:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@contextmanager
def block_network(allow_hosts: Iterable[str] = ()) -> Iterator[None]:
    """Within this block, connecting to or resolving a non-loopback host raises
    :class:`NetworkBlockedError`. Unix sockets and ``allow_hosts`` still work.

    Example:
        >>> import urllib.request
        >>> from retain.testing import block_network
        >>> with block_network():
        ...     try:
        ...         urllib.request.urlopen("https://api.openai.com", timeout=1)
        ...     except Exception as e:
        ...         print(type(e.__cause__ or e.reason).__name__)
        NetworkBlockedError
    """
    allowed = frozenset(allow_hosts)
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        inet = sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
        if inet and not _is_local(address[0], allowed):
            raise NetworkBlockedError(
                f"network access to {address[0]}:{address[1]} is blocked in tests; use a "
                "fake model from retain.testing, or mark the test allow_network."
            )

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host, allowed):
            raise NetworkBlockedError(
                f"resolving {host!r} is blocked in tests; use a fake model from retain.testing, "
                "or mark the test allow_network."
            )
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo
