"""A real ``retain serve`` for the service tests: uvicorn in a thread, on a free loopback
port, over a SQLite file (or the PostgreSQL fixture)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from retain.server import create_app
from retain.stores import RetainStore, SQLiteStore
from tests.stateful.conftest import INDEX

ADMIN = "test-admin-key-0123456789abcdef"


class RunningServer:
    """uvicorn serving ``create_app(store, ...)`` on 127.0.0.1 in a daemon thread."""

    def __init__(self, store: RetainStore, **options: Any) -> None:
        self.store = store
        options.setdefault("admin_key", ADMIN)
        self.app = create_app(store, **options)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # wait for the condition, bounded
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def client(self, key: str | None = ADMIN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy (a condition, never a fixed delay)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "memories.db"


@pytest.fixture
def make_server(sqlite_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """``make_server(store=None, **create_app options)``: a started server (stopped, and
    its store closed, after the test)."""
    started: list[RunningServer] = []

    def make(store: RetainStore | None = None, **options: Any) -> RunningServer:
        store = store or SQLiteStore(sqlite_path, index=INDEX)  # type: ignore[arg-type]
        server = RunningServer(store, **options)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
        server.store.close()


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    return make_server(mcp=False)


# -- the inspector's browser tests ----------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "inspector-screenshots"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never downloaded). A missing
    browser fails the test: the inspector's tests are part of the suite, never skipped."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (scripts/dev.py test "
            "does) to run the inspector's browser tests."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh page (its own cookies) at 1280 px wide."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """``page`` at 1280 and 390 px wide, whole page, into build/inspector-screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow} px at {width} px wide"
    page.set_viewport_size({"width": 1280, "height": 900})
