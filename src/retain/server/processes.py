"""Several server processes on one port, with connections spread evenly between them
(``retain serve --workers N``).

A Python process runs its request handling on one core at a time, so a server on a machine
with several cores runs several processes. When they share a listening socket, the kernel
hands each new connection to whichever process asks first: a burst of keep-alive clients
(an agent fleet starting, a load test) can land on one process while the others idle, and
every request on those connections then waits behind the others. Here each process
accepts a connection only while it holds no more connections than any other process, so
20 clients on 2 processes are served 10 and 10. The counts live in shared memory; the
parent restarts a process that dies, and stops them all on SIGINT or SIGTERM.

Each process runs uvicorn on an app built by ``factory`` (``"module:function"``), as
``uvicorn --factory`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import socket
import time
from types import FrameType
from typing import Any

import uvicorn

from retain.errors import ServiceError

__all__ = ["serve_processes"]

_log = logging.getLogger("retain.server")
_GONE = 2**31 - 1  # the count of a process not accepting yet: never the least loaded
_CRASHES = 3  # a process that exits this many times within _CRASH_WINDOW_S: give up
_CRASH_WINDOW_S = 30.0


def serve_processes(
    factory: str,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str = "warning",
    backlog: int = 2048,
) -> None:
    """Serve the app ``factory`` builds from ``workers`` processes on ``host:port`` until
    SIGINT or SIGTERM; connections are spread evenly between the processes. A process that
    exits is started again; one that exits 3 times within 30 s (an app that cannot start)
    stops them all with :class:`~retain.errors.ServiceError`."""
    sock = _listen(host, port, backlog)
    ctx = multiprocessing.get_context("spawn")
    counts: Any = ctx.Array("i", [0] * workers, lock=False)
    stopping: list[int] = []  # the signal that asked to stop

    exits: list[list[float]] = [[] for _ in range(workers)]  # when each slot's process exited

    def start(me: int, first: bool) -> Any:
        # At start every process is owed its share: connections wait for a process still
        # starting rather than all landing on the first one ready (keep-alive clients stay
        # where they land). A replacement takes none until it accepts (it writes its count).
        counts[me] = 0 if first else _GONE
        proc = ctx.Process(
            target=_worker, args=(factory, sock, counts, me, log_level), name=f"retain-serve-{me}"
        )
        proc.start()
        return proc

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    procs = [start(i, True) for i in range(workers)]
    try:
        while not stopping:
            for me, proc in enumerate(procs):
                proc.join(timeout=0.5 / workers)
                if stopping:
                    break
                if not proc.is_alive():
                    now = time.monotonic()
                    exits[me] = [t for t in exits[me] if now - t < _CRASH_WINDOW_S] + [now]
                    if len(exits[me]) >= _CRASHES:
                        raise ServiceError(
                            f"A server process exited {_CRASHES} times within "
                            f"{_CRASH_WINDOW_S:.0f} s (last exit code {proc.exitcode}).",
                            hint="See its error above; the app cannot start.",
                        )
                    _log.error(
                        "retain serve: process %d exited (%s); restarting it", me, proc.exitcode
                    )
                    procs[me] = start(me, False)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():  # pragma: no cover (a process that ignores SIGTERM)
                proc.kill()
        sock.close()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _worker(factory: str, sock: socket.socket, counts: Any, me: int, log_level: str) -> None:
    """One process: uvicorn over the app, accepting from the shared socket in turn."""
    config = uvicorn.Config(factory, factory=True, log_level=log_level)
    _Balanced(config, sock, counts, me).run()


class _Balanced(uvicorn.Server):
    """uvicorn's server, taking connections from a socket shared with other processes
    only while this process holds no more connections than the least loaded one."""

    def __init__(self, config: Any, sock: socket.socket, counts: Any, me: int) -> None:
        super().__init__(config)
        self._sock, self._counts, self._me = sock, counts, me
        self._accepting: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app's lifespan; no listener of its own
        if self.started:
            self._accepting = asyncio.create_task(self._accept())

    def _held(self) -> int:
        held = len(self.server_state.connections)
        self._counts[self._me] = held
        return held

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        config, state = self.config, self.server_state

        def protocol() -> asyncio.Protocol:
            made: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state
            )
            return made

        self._sock.setblocking(False)
        while not self.should_exit:
            held = self._held()
            if held > min(self._counts[:]):
                await asyncio.sleep(0.01)  # another process has fewer: its turn
                continue
            try:
                conn, _ = await loop.sock_accept(self._sock)
            except OSError as e:  # pragma: no cover (a connection reset before accept)
                _log.warning("retain serve: accept failed: %s", e)
                continue
            self._counts[self._me] = held + 1
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await loop.connect_accepted_socket(protocol, conn)
            except OSError:  # pragma: no cover (the client went away meanwhile)
                conn.close()

    async def on_tick(self, counter: int) -> bool:
        self._held()  # connections closed since the last accept
        return bool(await super().on_tick(counter))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        self._counts[self._me] = _GONE
        await super().shutdown(sockets=None)
