"""The remote runner behind ``ReflectionExecutor("name", namespace, url=...)``: hands each
submission to a server that runs the reflector, with LangGraph Platform's protocol (as
LangMem does), so a LangGraph server or a retain service speaking it can take the work.

The protocol, one request per submission::

    POST {url}/threads/{thread_id}/runs
    {"assistant_id": "<reflector name>", "input": <payload>, "config": <config>,
     "multitask_strategy": "rollback", "if_not_exists": "create",
     "after_seconds": <delay>}

``thread_id`` is a UUID derived from the namespace and the debounce key, so a newer
submission for the same conversation lands on the same server thread and
``multitask_strategy="rollback"`` cancels the older pending run (the server debounces).
The future resolves to the server's run record (a dict), or to the HTTP error.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

from retain.background.runner import Submission, register_for_exit
from retain.errors import ExecutorShutdownError
from retain.queue.codec import portable_config, to_json

__all__ = ["RemoteRunner", "remote_thread_id"]

logger = logging.getLogger("retain.executor")

_NAMESPACE = uuid.UUID("6f3d8a4e-8c1b-4f7a-9a57-1f0e6e2b9c11")


def remote_thread_id(namespace: tuple[str, ...] | None, key: Hashable) -> str:
    """The server thread for a conversation: stable across processes.

    Example:
        >>> from retain.background.remote import remote_thread_id
        >>> remote_thread_id(("memories",), "t-1") == remote_thread_id(("memories",), "t-1")
        True
    """
    return str(uuid.uuid5(_NAMESPACE, repr((tuple(namespace or ()), key))))


class RemoteRunner:
    """Sends submissions to a LangGraph-protocol server from one daemon thread."""

    mode = "remote"

    def __init__(
        self,
        name: str,
        namespace: tuple[str, ...] | None,
        *,
        url: str | None,
        sync_client: Any = None,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if sync_client is None:
            from langgraph_sdk import get_sync_client

            # api_key=None: never read keys from the environment (the library reads none)
            sync_client = get_sync_client(url=url, api_key=api_key, headers=headers)
        self.name = name
        self.namespace = namespace
        self.client = sync_client
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[Future[Any], dict[str, Any]] | None] = (
            collections.deque()
        )
        self._closed = False
        self._thread = threading.Thread(target=self._send_loop, daemon=True, name="retain-remote")
        self._thread.start()
        register_for_exit(self)

    def submit(self, sub: Submission) -> Future[Any]:
        """One run request for the server (which keeps and debounces it; ``sub.store`` and
        ``sub.idempotency_key`` are the server's business and unused here)."""
        key = sub.key if sub.key is not None else uuid.uuid4()
        request = {
            "thread_id": remote_thread_id(self.namespace, key),
            "assistant_id": self.name,
            "input": to_json(sub.payload, "payload"),
            "config": portable_config(sub.config),
            "multitask_strategy": "rollback",
            "if_not_exists": "create",
            "after_seconds": sub.delay or None,
        }
        future: Future[Any] = Future()
        with self._cond:
            if self._closed:
                raise ExecutorShutdownError(
                    "This ReflectionExecutor was shut down; create a new one to submit work."
                )
            self._queue.append((future, request))
            self._cond.notify()
        return future

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                item = self._queue.popleft()
            if item is None:
                return
            future, request = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                run = self.client.runs.create(
                    request.pop("thread_id"), request.pop("assistant_id"), **request
                )
            except Exception as e:
                logger.error("retain executor: remote submission failed: %r", e)
                future.set_exception(e)
            else:
                future.set_result(run)

    def trigger(self, match: Callable[[Hashable], bool], key_prefix: str | None) -> int:
        return 0  # the server decides when its runs start

    def pending(self) -> int:
        with self._cond:
            return sum(1 for item in self._queue if item is not None)

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        with self._cond:
            if not self._closed:
                self._closed = True
                if cancel_futures:
                    for item in self._queue:
                        if item is not None:
                            item[0].cancel()
                self._queue.append(None)
                self._cond.notify()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()
