"""The service commands of ``retain``: ``serve``, ``mcp``, ``keys`` and the memory
commands (``add``, ``search``, ``get``, ``history``, ``export``, ``import``, ``purge``,
``stats``, ``reembed``).

Every memory command speaks retain's HTTP API through :class:`retain.client.RetainClient`:
to a server (``--url``, key from ``RETAIN_API_KEY``), or to the app served in-process over
a local store (``--store``, default the embedded SQLite file) with a root admin key that
lives only for the command. One code path, the same checks and the same answers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from retain.errors import ConfigurationError, InvalidInputError

__all__ = ["add_service_commands", "run_service_command"]

DEFAULT_STORE = "sqlite:///.retain/memories.db"
SERVICE_COMMANDS = (
    "serve",
    "mcp",
    "keys",
    "add",
    "search",
    "get",
    "history",
    "export",
    "import",
    "purge",
    "stats",
    "reembed",
)


def _ns(text: str) -> tuple[str, ...]:
    """A namespace on the command line: labels joined by '.' (``users.u1.memories``)."""
    return () if text in ("", ".") else tuple(text.split("."))


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not JSON: {e}") from None


def _where(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        default=None,
        help=f"a local store URL (default RETAIN_STORE, else {DEFAULT_STORE})",
    )
    p.add_argument(
        "--url",
        default=None,
        help="a retain server (default RETAIN_URL); the key is RETAIN_API_KEY",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")


def add_service_commands(sub: Any) -> None:
    """Add the service commands to the ``retain`` parser."""
    serve = sub.add_parser("serve", help="run the HTTP API and MCP server")
    serve.add_argument("--host", default=None, help="default RETAIN_HOST, else 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default RETAIN_PORT, else 8000")
    serve.add_argument("--store", default=None, help=f"default RETAIN_STORE, else {DEFAULT_STORE}")
    serve.add_argument("--model", default=None, help="forms memories; default RETAIN_MODEL")
    serve.add_argument("--no-mcp", action="store_true", help="do not mount MCP at /mcp/")
    serve.add_argument("--no-worker", action="store_true", help="run no background worker")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes sharing the port (default RETAIN_WORKERS, else 1)",
    )
    mcp = sub.add_parser("mcp", help="run the MCP server over stdio (key: RETAIN_API_KEY)")
    mcp.add_argument("--store", default=None, help=f"default RETAIN_STORE, else {DEFAULT_STORE}")
    mcp.add_argument("--model", default=None, help="forms memories; default RETAIN_MODEL")

    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="a new key (its secret is printed once)")
    create.add_argument("name")
    create.add_argument(
        "--prefix",
        action="append",
        required=True,
        help="a namespace prefix the key reaches, e.g. users.{key_subject} (repeatable)",
    )
    create.add_argument("--subject", default=None, help="fills {key_subject}")
    create.add_argument(
        "--permission",
        action="append",
        choices=["read", "write", "admin"],
        help="read, write, admin (repeatable; default read and write)",
    )
    ksub.add_parser("list", help="the live keys")
    revoke = ksub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    for p in (create, ksub.choices["list"], revoke):
        _where(p)

    add = sub.add_parser("add", help="store a memory")
    add.add_argument("namespace", help="e.g. users.u1.memories")
    add.add_argument("text", nargs="?", help='stored as {"content": TEXT}')
    add.add_argument("--key", default=None, help="default: a new UUID")
    add.add_argument("--value", type=_json_arg, default=None, help="a JSON object to store")
    search = sub.add_parser("search", help="recall memories under a prefix")
    search.add_argument("prefix")
    search.add_argument("query", nargs="?")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--filter", type=_json_arg, default=None)
    search.add_argument("--mode", choices=["hybrid", "vector", "keyword"], default="hybrid")
    get = sub.add_parser("get", help="one memory")
    history = sub.add_parser("history", help="every version of one memory")
    for p in (get, history):
        p.add_argument("namespace")
        p.add_argument("key")
    export = sub.add_parser("export", help="everything under a prefix as JSON lines")
    export.add_argument("prefix")
    export.add_argument("-o", "--output", default="-", help="a file (default: stdout)")
    imp = sub.add_parser("import", help="put back the items of an export (JSON lines)")
    imp.add_argument("file", help="a JSON-lines file, or - for stdin")
    purge = sub.add_parser("purge", help="delete everything under a prefix, history included")
    purge.add_argument("prefix")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    stats = sub.add_parser("stats", help="counts of namespaces, memories and jobs")
    stats.add_argument("prefix", nargs="?", default="")
    reembed = sub.add_parser("reembed", help="recompute every vector")
    for p in (add, search, get, history, export, imp, purge, stats, reembed):
        _where(p)


def _require(*modules: str) -> None:
    """The ``server`` extra's packages, or a MissingDependencyError with the install line."""
    import importlib.util

    from retain.errors import MissingDependencyError

    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError("This retain command", module, "server")


def _open_store(url: str | None) -> Any:
    from retain.embeddings import DEFAULT_EMBED, MINILM_DIMS
    from retain.stores import open_store

    chosen = url or os.environ.get("RETAIN_STORE") or DEFAULT_STORE
    return open_store(chosen, index={"embed": DEFAULT_EMBED, "dims": MINILM_DIMS})


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """A client of the server (``--url``), or of the app over the local store."""
    from retain.client import RetainClient

    url = args.url or os.environ.get("RETAIN_URL")
    if url and args.store:
        raise ConfigurationError("Give --url (a server) or --store (a local store), not both.")
    if url:
        with RetainClient(url, os.environ.get("RETAIN_API_KEY") or None) as client:
            yield client
        return
    from fastapi.testclient import TestClient

    from retain.server import create_app

    store = _open_store(args.store)
    admin = secrets.token_urlsafe(32)
    try:
        app = create_app(store, admin_key=admin, mcp=False, worker=False)
        with TestClient(app, base_url="http://retain.local") as http:
            yield RetainClient("http://retain.local", admin, http_client=http)
    finally:
        store.close()


def _print(args: argparse.Namespace, value: Any, human: str, out: TextIO) -> None:
    if args.json:
        print(json.dumps(value, ensure_ascii=False, default=str), file=out)
    elif human:
        print(human, file=out)


def _line(item: dict[str, Any]) -> str:
    score = f"{item['score']:.3f}  " if item.get("score") is not None else ""
    ns = ".".join(item["namespace"])
    return f"{score}{ns}/{item['key']}  {json.dumps(item['value'], ensure_ascii=False)}"


def run_service_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run a service command; errors propagate to :func:`retain.cli.main`."""
    out = out or sys.stdout
    command = args.command
    _require("httpx", *{"serve": ("fastapi", "uvicorn"), "mcp": ("mcp",)}.get(command, ()))
    if command not in ("serve", "mcp", "keys") and not (args.url or os.environ.get("RETAIN_URL")):
        _require("fastapi")  # a local store is served in-process
    if command == "serve":
        return _serve(args)
    if command == "mcp":
        return _mcp(args)
    if command == "keys" and not (args.url or os.environ.get("RETAIN_URL")):
        return _local_keys(args, out)
    with _client(args) as client:
        return _memory_command(args, client, out)


def _memory_command(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    command = args.command
    if command == "keys":
        return _remote_keys(args, client, out)
    if command == "add":
        if (args.text is None) == (args.value is None):
            raise InvalidInputError("Give the memory as TEXT or as --value JSON (one of them).")
        value = args.value if args.value is not None else {"content": args.text}
        item = client.put(_ns(args.namespace), args.key, value)
        _print(args, item, f"stored {'.'.join(item['namespace'])}/{item['key']}", out)
    elif command == "search":
        options: dict[str, Any] = {"filter": args.filter, "limit": args.limit}
        if args.query is not None:
            options["mode"] = args.mode
        found = client.search(_ns(args.prefix), args.query, **options)
        _print(args, found, "\n".join(_line(i) for i in found) or "(nothing found)", out)
    elif command == "get":
        item = client.get(_ns(args.namespace), args.key)
        _print(args, item, _line(item), out)
    elif command == "history":
        versions = client.history(_ns(args.namespace), args.key)
        lines = [
            f"v{v['version']}  {v['at']}  {v['op']}  "
            f"{json.dumps(v['value'], ensure_ascii=False) if v['value'] is not None else ''}"
            for v in versions
        ]
        _print(args, versions, "\n".join(lines), out)
    elif command == "export":
        return _export(args, client, out)
    elif command == "import":
        return _import(args, client, out)
    elif command == "purge":
        prefix = _ns(args.prefix)
        if not args.yes:
            answer = input(f"Delete everything under {args.prefix!r}? Type the prefix: ")
            if answer.strip() != args.prefix:
                print("retain: nothing purged", file=sys.stderr)
                return 1
        count = client.purge(prefix)
        _print(args, {"purged": count}, f"purged {count} memories under {args.prefix}", out)
    elif command == "stats":
        stats = client.stats(_ns(args.prefix))
        jobs = ", ".join(f"{k} {v}" for k, v in sorted(stats["jobs"].items())) or "none"
        human = f"{stats['namespaces']} namespaces, {stats['items']} memories; jobs: {jobs}"
        _print(args, stats, human, out)
    elif command == "reembed":
        from retain.cli.progress import Progress

        with Progress(sys.stderr, "re-embedding every memory", quiet=args.json):
            count = client.reembed()
        _print(args, {"reembedded": count}, f"re-embedded {count} memories", out)
    return 0


def _export(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    from retain.cli.progress import Progress

    count = 0
    with contextlib.ExitStack() as stack:
        target = out
        progress = None
        if args.output != "-":  # stdout carries the data: no progress line there
            target = stack.enter_context(open(args.output, "w", encoding="utf-8"))
            progress = stack.enter_context(
                Progress(sys.stderr, f"exporting to {args.output}", quiet=args.json)
            )
        for record in client.export(_ns(args.prefix)):
            target.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
            if progress is not None:
                progress.note(f"{count} records")
    if args.output != "-":
        _print(args, {"records": count}, f"exported {count} records to {args.output}", out)
    return 0


def _import(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    from retain.cli.progress import Progress

    count = 0
    with contextlib.ExitStack() as stack:
        source = sys.stdin
        if args.file != "-":
            source = stack.enter_context(open(args.file, encoding="utf-8"))
        progress = stack.enter_context(
            Progress(sys.stderr, f"importing {args.file}", quiet=args.json)
        )
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                raise InvalidInputError(f"{args.file} line {number} is not JSON: {e}") from None
            if not isinstance(record, dict) or record.get("type", "item") != "item":
                continue  # versions: history is rebuilt by the puts
            if not {"namespace", "key", "value"} <= set(record):
                raise InvalidInputError(
                    f"{args.file} line {number} needs namespace, key and value."
                )
            client.put(record["namespace"], record["key"], record["value"])
            count += 1
            progress.note(f"{count} memories")
    _print(args, {"imported": count}, f"imported {count} memories", out)
    return 0


def _local_keys(args: argparse.Namespace, out: TextIO) -> int:
    from retain.server.keys import open_key_store

    store = _open_store(args.store)
    try:
        keys = open_key_store(store)
        try:
            if args.keys_command == "create":
                key, secret = keys.create(
                    args.name,
                    prefixes=[_ns(p) for p in args.prefix],
                    permissions=args.permission or ("read", "write"),
                    subject=args.subject,
                )
                made = {**key.to_json(), "secret": secret}
                _print(args, made, _key_line(made) + f"\nsecret (shown once): {secret}", out)
            elif args.keys_command == "list":
                listed = [k.to_json() for k in keys.list()]
                _print(args, listed, "\n".join(_key_line(k) for k in listed) or "(no keys)", out)
            else:
                if not keys.revoke(args.key_id):
                    from retain.errors import NotFoundError

                    raise NotFoundError(f"No live key {args.key_id!r}.", status=404)
                _print(args, {"revoked": args.key_id}, f"revoked {args.key_id}", out)
        finally:
            keys.close()
    finally:
        store.close()
    return 0


def _remote_keys(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    if args.keys_command == "create":
        made = client.create_key(
            args.name,
            prefixes=[_ns(p) for p in args.prefix],
            permissions=args.permission or ("read", "write"),
            subject=args.subject,
        )
        _print(args, made, _key_line(made) + f"\nsecret (shown once): {made['secret']}", out)
    elif args.keys_command == "list":
        listed = client.list_keys()
        _print(args, listed, "\n".join(_key_line(k) for k in listed) or "(no keys)", out)
    else:
        client.revoke_key(args.key_id)
        _print(args, {"revoked": args.key_id}, f"revoked {args.key_id}", out)
    return 0


def _key_line(key: dict[str, Any]) -> str:
    scopes = ", ".join(".".join(p) or "(everything)" for p in key["scopes"])
    return f"{key['id']}  {key['name']}  {'+'.join(key['permissions'])}  {scopes}"


def _settings_model(args: argparse.Namespace) -> str | None:
    return args.model or os.environ.get("RETAIN_MODEL") or None


_WORKER_SETTINGS = "RETAIN_SERVE_SETTINGS"  # what `retain serve --workers N` hands each process


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    host = args.host or os.environ.get("RETAIN_HOST") or "127.0.0.1"
    port = args.port or int(os.environ.get("RETAIN_PORT") or 8000)
    workers = args.workers if args.workers is not None else _int_setting("RETAIN_WORKERS", 1)
    if workers < 1:
        raise ConfigurationError(f"--workers must be 1 or more; got {workers}.")
    settings = {
        "store": args.store or os.environ.get("RETAIN_STORE") or DEFAULT_STORE,
        "model": _settings_model(args),
        "mcp": not args.no_mcp,
        "worker": not args.no_worker,
        "host": host,
    }
    store, app = _serve_app(settings)
    try:
        print(
            f"retain serve: http://{host}:{port} (docs at /docs, MCP at /mcp/, inspector at "
            f"/ui/){f'; {workers} processes' if workers > 1 else ''}",
            file=sys.stderr,
        )
        service = app.state.service
        if service.keys is not None and not service.keys.list() and not _admin_secret():
            print(
                "retain serve: no API keys yet; set RETAIN_ADMIN_KEY, or create one with "
                "'retain keys create NAME --prefix users.{key_subject} --subject USER'",
                file=sys.stderr,
            )
        if workers == 1:
            uvicorn.run(app, host=host, port=port, log_level="warning")
            return 0
    finally:
        store.close()  # with several processes, each opens its own (_worker_app)
    from retain.server.processes import serve_processes

    os.environ[_WORKER_SETTINGS] = json.dumps(settings)
    serve_processes("retain.cli.service:_worker_app", host=host, port=port, workers=workers)
    return 0


def _admin_secret() -> str | None:
    return os.environ.get("RETAIN_ADMIN_KEY") or None


def _int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number; got {raw!r}.") from None


def _serve_app(settings: dict[str, Any]) -> tuple[Any, Any]:
    """The store and the app of ``retain serve`` (one process's)."""
    from retain.server import create_app

    store = _open_store(settings["store"])
    try:
        app = create_app(
            store,
            admin_key=_admin_secret(),
            model=settings["model"],
            mcp=settings["mcp"],
            worker=settings["worker"],
            host=settings["host"],
        )
    except BaseException:
        store.close()
        raise
    return store, app


def _worker_app() -> Any:
    """One process of ``retain serve --workers N`` (uvicorn's app factory): its own store
    connection, key check and queue worker, from the settings the parent process left."""
    import atexit

    store, app = _serve_app(json.loads(os.environ[_WORKER_SETTINGS]))
    atexit.register(store.close)
    return app


def _mcp(args: argparse.Namespace) -> int:
    import asyncio

    from retain.server import Service, create_mcp_server, open_key_store

    secret = os.environ.get("RETAIN_API_KEY")
    if not secret:
        raise ConfigurationError(
            "retain mcp needs an API key in RETAIN_API_KEY (create one with 'retain keys "
            "create NAME --prefix users.{key_subject} --subject USER')."
        )
    store = _open_store(args.store)
    name = _settings_model(args)
    model = None
    if name is not None:
        from retain.llm.resolve import resolve_model

        model = resolve_model(name)
    service = Service(
        store,
        keys=open_key_store(store),
        admin_secret=os.environ.get("RETAIN_ADMIN_KEY") or None,
        model=model,
    )
    try:
        key = asyncio.run(service.authenticate(secret))
        service.start()
        create_mcp_server(service, api_key=key).run("stdio")
    finally:
        service.close()
        store.close()
    return 0


def exit_code(error: BaseException) -> int:
    """The documented exit code of an error (docs/service.md)."""
    from retain.errors import (
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        ServerUnavailableError,
        StoreLockedError,
        StoreUnavailableError,
    )

    if isinstance(error, NotFoundError):
        return 3
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        return 4
    if isinstance(error, (ServerUnavailableError, StoreUnavailableError, StoreLockedError)):
        return 5
    if isinstance(error, (InvalidInputError, ConfigurationError)):
        return 2
    return 1


def is_service_command(argv: Sequence[str]) -> bool:
    return bool(argv) and argv[0] in SERVICE_COMMANDS
