"""``retain serve --workers N`` (:func:`retain.server.processes.serve_processes`): keep-alive
connections opened all at once are spread evenly over the processes, a process that dies is
replaced, and SIGTERM stops them all."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _pids(port: int, clients: int) -> list[int]:
    """Open ``clients`` connections at once and keep them all open until each was answered
    (twice: keep-alive stays with its process); the process id that answered each."""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]

    async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        return int(await reader.readexactly(length))

    try:
        first = await asyncio.gather(*(ask(r, w) for r, w in conns))
        again = await asyncio.gather(*(ask(r, w) for r, w in conns))
    finally:
        for _, writer in conns:
            writer.close()
    assert first == again
    return list(first)


def _children(pid: int) -> list[int]:
    """The server processes (multiprocessing's resource tracker left out)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except FileNotFoundError:  # exited meanwhile
            continue
    return found


@pytest.mark.slow
def test_connections_are_spread_evenly_and_a_dead_process_is_replaced() -> None:
    port = _port()
    code = (
        "from retain.server.processes import serve_processes; "
        f"serve_processes('tests.server._pid_app:make', host='127.0.0.1', port={port}, "
        "workers=2)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    parent = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    try:

        def serving() -> bool:
            assert parent.poll() is None, parent.stderr.read() if parent.stderr else ""
            try:
                return len(set(asyncio.run(_pids(port, 4)))) >= 1
            except OSError:
                return False

        wait_for(serving, "a server process to answer", timeout=60)
        workers = wait_for(
            lambda: len(_children(parent.pid)) == 2 and _children(parent.pid), "two processes"
        )
        # at once, while the second process may still be starting: it is owed its share
        shares = collections.Counter(asyncio.run(_pids(port, 20)))
        assert set(shares) == set(workers)
        assert max(shares.values()) - min(shares.values()) <= 2, shares

        os.kill(workers[0], signal.SIGKILL)
        replaced = wait_for(
            lambda: workers[0] not in _children(parent.pid) and len(_children(parent.pid)) == 2,
            "the dead process to be replaced",
        )
        assert replaced
        now = _children(parent.pid)

        def both_answer() -> bool:
            return set(asyncio.run(_pids(port, 20))) == set(now)

        wait_for(both_answer, "the new process to take connections")
    finally:
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=60)
    assert parent.returncode == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers[1:])


@pytest.mark.slow
def test_an_app_that_cannot_start_stops_the_server_with_a_clear_error() -> None:
    code = (
        "from retain.server.processes import serve_processes; "
        f"serve_processes('tests.server._pid_app:broken', host='127.0.0.1', port={_port()}, "
        "workers=1)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "ServiceError: A server process exited 3 times within 30 s" in done.stderr
    assert done.stderr.count("this app cannot start") >= 3  # each try's own error shown
