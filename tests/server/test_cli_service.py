"""The ``retain`` service commands: on a local store (the app served in-process) and
against a real server (``--url``); one-line errors with their documented exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retain.cli import main
from tests.server.conftest import RunningServer, wait_for

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    for name in list(os.environ):
        if name.startswith("RETAIN_"):
            monkeypatch.delenv(name)

    def call(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        code = main(list(args))
        out, err = capsys.readouterr()
        for name in env or {}:
            monkeypatch.delenv(name)
        return code, out, err

    return call


def test_local_store_commands(run: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    store = ["--store", f"sqlite:///{tmp_path / 'm.db'}"]
    code, out, _ = run("add", "users.u1.memories", "User likes green tea", "--key", "tea", *store)
    assert (code, out.strip()) == (0, "stored users.u1.memories/tea")
    run("add", "users.u1.memories", "--value", '{"content": "User drives a red car"}', *store)
    code, out, _ = run("search", "users.u1", "green tea", "--json", *store)
    found = json.loads(out)
    assert code == 0
    assert found[0]["key"] == "tea"
    assert isinstance(found[0]["score"], float)
    code, out, _ = run("get", "users.u1.memories", "tea", *store)
    assert "User likes green tea" in out
    run("add", "users.u1.memories", "User likes black tea", "--key", "tea", *store)
    code, out, _ = run("history", "users.u1.memories", "tea", "--json", *store)
    assert [v["value"]["content"] for v in json.loads(out)] == [
        "User likes green tea",
        "User likes black tea",
    ]
    dump = tmp_path / "export.jsonl"
    code, out, _ = run("export", "users.u1", "-o", str(dump), *store)
    assert code == 0
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert sum(r["type"] == "item" for r in records) == 2
    code, out, _ = run("stats", "users", "--json", *store)
    assert json.loads(out)["items"] == 2
    code, out, _ = run("purge", "users.u1", "--yes", "--json", *store)
    assert json.loads(out) == {"purged": 2}
    code, out, _ = run("search", "users.u1", *store)
    assert out.strip() == "(nothing found)"
    code, out, _ = run("import", str(dump), *store)
    assert (code, out.strip()) == (0, "imported 2 memories")
    code, out, _ = run("get", "users.u1.memories", "tea", "--json", *store)
    assert json.loads(out)["value"] == {"content": "User likes black tea"}
    code, out, _ = run("reembed", "--json", *store)
    assert json.loads(out) == {"reembedded": 2}


def test_keys_commands_and_a_scoped_key_against_a_server(
    run: Callable[..., tuple[int, str, str]],
    make_server: Callable[..., RunningServer],
    sqlite_path: Path,
) -> None:
    server = make_server(mcp=False)
    # keys are made on the server's own database through the server (admin key)
    admin = {"RETAIN_API_KEY": "test-admin-key-0123456789abcdef"}
    code, out, err = run(
        "keys",
        "create",
        "app",
        "--prefix",
        "users.{key_subject}",
        "--subject",
        "u1",
        "--json",
        "--url",
        server.url,
        env=admin,
    )
    assert code == 0, err
    made = json.loads(out)
    assert (code, made["scopes"]) == (0, [["users", "u1"]])
    u1 = {"RETAIN_API_KEY": made["secret"]}
    url = ["--url", server.url]
    assert run("add", "users.u1.memories", "User likes tea", *url, env=u1)[0] == 0
    code, out, err = run("search", "users.u1", "tea", "--json", *url, env=u1)
    assert code == 0, err
    assert [i["value"]["content"] for i in json.loads(out)] == ["User likes tea"]
    code, out, err = run("add", "users.u2.memories", "x", *url, env=u1)
    assert (code, out) == (3, "")
    assert err.count("\n") == 1
    assert err.startswith("retain: error: Nothing found there, or it lies outside")
    code, _, err = run("search", "users.u1", "tea", *url, env={"RETAIN_API_KEY": "rk_x_y"})
    assert code == 4
    assert "rk_x_y" not in err
    code, out, _ = run("keys", "list", "--json", *url, env=admin)
    assert [k["id"] for k in json.loads(out)] == [made["id"]]
    assert run("keys", "revoke", made["id"], *url, env=admin)[0] == 0
    assert run("search", "users.u1", "tea", *url, env=u1)[0] == 4


def test_local_keys_create_list_revoke(
    run: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    store = ["--store", f"sqlite:///{tmp_path / 'm.db'}"]
    code, out, _ = run("keys", "create", "ops", "--prefix", ".", "--permission", "admin", *store)
    assert code == 0
    assert "secret (shown once): rk_" in out
    code, out, _ = run("keys", "list", "--json", *store)
    listed = json.loads(out)
    assert [(k["name"], k["scopes"], k["permissions"]) for k in listed] == [
        ("ops", [[]], ["admin"])
    ]
    assert run("keys", "revoke", listed[0]["id"], *store)[0] == 0
    code, _, err = run("keys", "revoke", listed[0]["id"], *store)
    assert code == 3
    assert err.startswith("retain: error: No live key")


def test_user_errors_are_one_line_with_their_exit_codes(
    run: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    store = ["--store", f"sqlite:///{tmp_path / 'm.db'}"]
    code, _, err = run("add", "users..u1", "x", *store)
    assert code == 2
    assert err.startswith("retain: error: ")
    assert err.count("\n") == 1
    code, _, err = run("import", str(tmp_path / "missing.jsonl"), *store)
    assert code == 1
    assert err.startswith("retain: error: unexpected FileNotFoundError")
    code, _, err = run("add", "users.u1", "x", "--store", "mysql://nope")
    assert code == 2
    assert "Unknown store URL" in err
    code, _, err = run("serve", "--workers", "0", *store)
    assert (code, err) == (2, "retain: error: --workers must be 1 or more; got 0.\n")
    code, _, err = run("serve", *store, env={"RETAIN_WORKERS": "two"})
    assert (code, err) == (2, "retain: error: RETAIN_WORKERS must be a whole number; got 'two'.\n")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_one_line_and_exit_code_5(tmp_path: Path) -> None:
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    env.update(PYTHONPATH=SRC, RETAIN_API_KEY="rk_secret_value")
    url = f"http://127.0.0.1:{_closed_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "retain.cli", "search", "users.u1", "tea", "--url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 5
    assert done.stderr == (
        f"retain: error: Cannot reach the retain server at {url}: ConnectError. Check the URL "
        "and that 'retain serve' is running.\n"
    )
    assert "rk_secret_value" not in done.stderr


def test_retain_serve_starts_on_the_embedded_store(tmp_path: Path) -> None:
    """``retain serve`` as a user runs it: the default embedded SQLite file (in the working
    folder), a key made with ``retain keys create``, then add and search over HTTP."""
    import httpx

    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    env.update(PYTHONPATH=SRC, RETAIN_ADMIN_KEY="serve-test-admin-key-0123456789")
    cli = [sys.executable, "-m", "retain.cli"]
    made = subprocess.run(
        [*cli, "keys", "create", "app", "--json", "--subject", "u1", "--prefix", "users.u1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    secret = json.loads(made.stdout)["secret"]
    port = _closed_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as http:

            def ready() -> bool:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                try:
                    return http.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(ready, "retain serve to answer", timeout=120)
            body = {"namespace": ["users", "u1"], "key": "k", "value": {"content": "likes tea"}}
            assert http.post("/v1/memories", json=body).status_code == 200
            found = http.post(
                "/v1/memories/search", json={"prefix": ["users", "u1"], "query": "tea"}
            )
            assert [i["key"] for i in found.json()] == ["k"]
            other = {**body, "namespace": ["users", "u2"]}
            assert http.post("/v1/memories", json=other).status_code == 404
        assert (tmp_path / ".retain" / "memories.db").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_retain_serve_runs_several_processes_on_one_port(tmp_path: Path) -> None:
    """``retain serve --workers 2``: two server processes share the port and the store
    file; what one writes, the other finds (each keeps its own caches in step)."""
    import httpx

    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    admin = "serve-test-admin-key-0123456789"
    env.update(PYTHONPATH=SRC, RETAIN_ADMIN_KEY=admin)
    port = _closed_port()
    store = f"sqlite:///{tmp_path / 'm.db'}"
    cli = [sys.executable, "-m", "retain.cli", "serve", "--port", str(port), "--store", store]
    server = subprocess.Popen(
        [*cli, "--workers", "2", "--no-worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {admin}"}
    try:

        def ready() -> bool:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "retain serve --workers 2 to answer", timeout=120)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
        assert sum(b"spawn_main" in c for c in commands) == 2  # uvicorn's worker processes
        for i in range(12):  # a new connection each time: the kernel spreads them
            body = {"namespace": ["users", "u1"], "key": f"k{i}", "value": {"content": f"tea {i}"}}
            assert httpx.post(f"{base}/v1/memories", json=body, headers=auth).status_code == 200
        for _ in range(6):
            found = httpx.post(
                f"{base}/v1/memories/search",
                json={"prefix": ["users", "u1"], "query": "tea", "limit": 50},
                headers=auth,
            )
            assert sorted(i["key"] for i in found.json()) == sorted(f"k{i}" for i in range(12))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode is not None
