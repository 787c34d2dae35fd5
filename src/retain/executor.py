"""``ReflectionExecutor``: form memories in the background, after a conversation settles.

LangMem's API (``submit(payload, after_seconds=...)`` returning a future), with:

* **debounce per conversation**: the key is the thread id plus the namespace the
  reflector writes (``thread_id=``, else ``config["configurable"]["thread_id"]``); a newer
  submission for the same key replaces the pending one and cancels its future. Other
  users and threads never cancel each other; a submission with neither a thread id nor a
  namespace is never debounced;
* **exact timing** without polling: a scheduler thread sleeps until the next deadline;
  the clock is injectable (:class:`retain.clock.ManualClock` in tests);
* **clean exits**: daemon threads, and at interpreter exit pending in-memory work runs
  (durable work stays queued), so a script ends by itself without ``shutdown()``;
* **durable mode** (``durable=True``): pending work is stored in the store's own database
  (:class:`retain.queue.SQLiteQueue` in a SQLite file, :class:`retain.queue.PostgresQueue`
  in PostgreSQL, shared by several worker processes), survives crashes and restarts, is
  retried with backoff and takes effect once; failed jobs stay visible (:meth:`failed_jobs`);
* **remote mode** (``ReflectionExecutor("name", namespace, url=...)``): submissions go to
  a server over LangGraph Platform's runs protocol (:mod:`retain.background.remote`);
* **when it was said**: a conversation submitted to a store manager (or a remote
  reflector) records the time of ``submit`` on the executor's clock as its ``said_at``
  (ISO 8601), so a delayed or queued run stamps when the conversation happened, not when
  it ran (see docs/temporal.md).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableBinding
from langgraph.store.base import BaseStore

from retain.background.durable import DurableRunner
from retain.background.local import InMemoryRunner
from retain.background.remote import RemoteRunner
from retain.background.runner import Runner, Submission
from retain.clock import Clock, SystemClock
from retain.closing import Closing
from retain.core.temporal import SAID_AT
from retain.errors import ConfigurationError, ExecutorShutdownError, InvalidInputError
from retain.graph_context import current_config, current_store, detached_config
from retain.queue.base import Job, JobQueue, RetryPolicy
from retain.reflector import Reflector, reflector_namespace
from retain.store_manager import MemoryStoreManager

if TYPE_CHECKING:
    from retain.queue import PostgresQueue, SQLiteQueue

__all__ = ["ReflectionExecutor", "debounce_key", "takes_said_at"]


def debounce_key(
    namespace: tuple[str, ...] | None, thread_id: str | None, config: Mapping[str, Any] | None
) -> str | None:
    """The key submissions debounce on (``None``: never debounced).

    Example:
        >>> from retain.executor import debounce_key
        >>> debounce_key(("memories", "alice"), None, {"configurable": {"thread_id": "t1"}})
        '[["memories","alice"],"t1"]'
        >>> debounce_key(None, None, {}) is None
        True
    """
    configurable = dict((config or {}).get("configurable") or {})
    thread = thread_id if thread_id is not None else configurable.get("thread_id")
    if thread is None and namespace is None:
        return None
    return json.dumps(
        [None if namespace is None else list(namespace), None if thread is None else str(thread)],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def takes_said_at(reflector: Reflector | str) -> bool:
    """Whether the executor hands ``reflector`` the time of submission as ``said_at``: a
    store manager (also one bound with ``with_config``) and a remote reflector do; other
    reflectors get the payload as given (a memory manager or a function has no use for it).

    Example:
        >>> from retain import create_memory_manager, create_memory_store_manager
        >>> from retain.executor import takes_said_at
        >>> from retain.testing import FakeChatModel
        >>> takes_said_at(create_memory_store_manager(FakeChatModel([]), namespace=("m",)))
        True
        >>> takes_said_at(create_memory_manager(FakeChatModel([]))), takes_said_at(print)
        (False, False)
    """
    if isinstance(reflector, str):
        return True
    while isinstance(reflector, RunnableBinding):
        reflector = reflector.bound
    return isinstance(reflector, MemoryStoreManager)


class ReflectionExecutor(Closing):
    """Runs a reflector (a store manager, any Runnable or function) in the background.

    Args:
        reflector: What to run: a Runnable or function (local), or the name of a
            reflector deployed on a server (remote, with ``url``).
        namespace: Remote mode: the namespace the remote reflector writes (part of the
            debounce key), as in LangMem.
        url: Remote mode: the server's base URL.
        sync_client: Remote mode: a ``langgraph_sdk`` sync client to use instead of one
            built from ``url`` (``client`` is accepted for LangMem compatibility).
        api_key: Remote mode: sent as ``x-api-key``; never read from the environment.
        store: The store the reflector writes (handed to it: a store manager made without
            ``store=`` uses it); in durable mode, also where the queue lives (a
            :class:`~retain.stores.SQLiteStore` file or a :class:`~retain.stores.PostgresStore`
            database). Default: the store of the graph that submits (in-memory mode).
        durable: Keep pending work in a durable queue in ``store``'s database
            (:func:`retain.queue.open_queue`).
        queue: A :class:`~retain.queue.JobQueue` to use (implies durable mode).
        retry: Durable mode: attempts and backoff (default 5 attempts from 1 s, doubling).
        max_workers: Threads running reflections at once.
        lease_seconds: Durable mode: the visibility timeout of a running job (renewed every
            third of it while the job runs).
        poll_interval: Durable mode: the longest wait before looking for jobs added by
            other processes (work submitted here wakes the scheduler at once).
        clock: Time source; :class:`~retain.clock.ManualClock` in tests.

    Example:
        >>> from retain import ReflectionExecutor
        >>> from retain.clock import ManualClock
        >>> seen = []
        >>> clock = ManualClock()
        >>> executor = ReflectionExecutor(lambda payload: seen.append(payload["n"]), clock=clock)
        >>> config = {"configurable": {"thread_id": "t1"}}
        >>> first = executor.submit({"n": 1}, config, after_seconds=3)
        >>> clock.advance(2)
        >>> second = executor.submit({"n": 2}, config, after_seconds=3)  # replaces the first
        >>> first.cancelled()
        True
        >>> clock.advance(3)
        >>> second.result(timeout=5), seen
        (None, [2])
        >>> executor.shutdown()
    """

    def __init__(
        self,
        reflector: Reflector | str,
        namespace: tuple[str, ...] | None = None,
        *,
        url: str | None = None,
        client: Any = None,
        sync_client: Any = None,
        api_key: str | None = None,
        store: BaseStore | None = None,
        durable: bool = False,
        queue: JobQueue | None = None,
        retry: RetryPolicy | None = None,
        max_workers: int = 4,
        lease_seconds: float = 300.0,
        poll_interval: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigurationError(f"max_workers must be an integer >= 1; got {max_workers!r}.")
        self.clock: Clock = clock or SystemClock()
        self._dates = takes_said_at(reflector)  # submit() records said_at for it
        self.store = store
        self.namespace = None if namespace is None else tuple(namespace)
        self._runner: Runner
        self.queue: JobQueue | None = None  # durable mode's queue
        self._owned_queue: SQLiteQueue | PostgresQueue | None = None  # close() closes it
        self._closed = False
        if isinstance(reflector, str):
            if url is None and sync_client is None:
                raise ConfigurationError(
                    f"A reflector named {reflector!r} runs on a server: pass url= (or "
                    "sync_client=), or pass the reflector itself to run it locally."
                )
            if durable or queue is not None:
                raise ConfigurationError(
                    "Remote mode hands work to the server, which keeps it; durable=/queue= "
                    "apply to local mode only."
                )
            self.reflector: Reflector | str = reflector
            self._runner = RemoteRunner(
                reflector,
                self.namespace,
                url=url,
                sync_client=sync_client or client,
                api_key=api_key,
            )
            return
        if not (isinstance(reflector, Runnable) or callable(reflector)):
            raise ConfigurationError(
                "reflector must be a Runnable (for example a store manager), a function, or "
                f"the name of a remote reflector; got {type(reflector).__name__}."
            )
        if url is not None:
            raise ConfigurationError("url= is for remote mode: pass the reflector's name.")
        self.reflector = reflector
        if durable and queue is None:
            from retain.queue import open_queue

            if store is None:
                raise ConfigurationError(
                    "durable=True keeps the queue in the store's database: pass store= (a "
                    "retain SQLiteStore or PostgresStore) or queue=."
                )
            queue = open_queue(store, retry=retry, clock=self.clock.now)
            self._owned_queue = queue
        self.queue = queue
        if queue is None:
            self._runner = InMemoryRunner(
                reflector, store=store, clock=self.clock, max_workers=max_workers
            )
        else:
            self._runner = DurableRunner(
                reflector,
                queue=queue,
                store=store,
                clock=self.clock,
                max_workers=max_workers,
                lease_seconds=lease_seconds,
                poll_interval=poll_interval,
            )

    @property
    def durable(self) -> bool:
        """Whether pending work is kept in a durable queue."""
        return self._runner.mode == "durable"

    def _key(self, config: Mapping[str, Any] | None, thread_id: str | None) -> Hashable:
        if isinstance(self.reflector, str):
            namespace = self.namespace
        else:
            namespace = reflector_namespace(self.reflector, config)
        return debounce_key(namespace, thread_id, config)

    def submit(
        self,
        payload: Any,
        /,
        config: Mapping[str, Any] | None = None,
        *,
        after_seconds: float = 0,
        thread_id: str | None = None,
        key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Future[Any]:
        """Schedule ``reflector(payload, config)`` in ``after_seconds`` seconds.

        A pending submission with the same debounce key (see the module docstring; or
        ``key=`` to choose one) is replaced and its future cancelled. The future carries
        the reflector's result or exception. ``config`` is copied, never changed, without
        LangGraph's internal keys; without it, inside a LangGraph graph or ``@entrypoint``,
        the running graph's config is used (as in LangMem). An executor made without
        ``store=`` hands the reflector the running graph's store (in-memory mode).
        ``idempotency_key`` (durable mode): a second submission with the same key returns
        the first job's future instead of adding a job.

        A ``{"messages": ...}`` payload for a store manager or a remote reflector is handed
        on with ``"said_at"``: now on the executor's clock, as an ISO 8601 string (a copy;
        a ``said_at`` the payload has wins).
        """
        if (
            isinstance(after_seconds, bool)
            or not isinstance(after_seconds, (int, float))
            or not after_seconds >= 0
        ):
            raise InvalidInputError(
                f"after_seconds must be a number of seconds >= 0; got {after_seconds!r}."
            )
        if config is not None and not isinstance(config, Mapping):
            raise InvalidInputError(f"config must be a dict; got {type(config).__name__}.")
        if config is None:
            config = current_config()  # inside a graph or @entrypoint: its config (LangMem)
        copied = detached_config(config)
        chosen = key if key is not None else self._key(copied, thread_id)
        return self._runner.submit(
            Submission(
                chosen,
                self._dated(payload),
                copied,
                delay=float(after_seconds),
                idempotency_key=idempotency_key,
                store=None if self.store is not None else current_store(),
            )
        )

    def _dated(self, payload: Any) -> Any:
        """``payload`` with the time of submission as its ``said_at``, when it lacks one and
        the reflector takes one."""
        if not (self._dates and isinstance(payload, Mapping) and "messages" in payload):
            return payload
        if payload.get(SAID_AT) is not None:
            return payload
        said_at = datetime.fromtimestamp(self.clock.now(), timezone.utc)
        return {**payload, SAID_AT: said_at.isoformat()}

    def trigger(self, *, key_prefix: str | None = None) -> int:
        """Run pending work now instead of at its time: all of it, or the submissions whose
        key starts with ``key_prefix``. Returns how many were made due."""

        def match(key: Hashable) -> bool:
            return key_prefix is None or (isinstance(key, str) and key.startswith(key_prefix))

        self._check_open("trigger()")
        return self._runner.trigger(match, key_prefix)

    def pending(self) -> int:
        """How many submissions wait to run (durable: queued or running in the queue)."""
        self._check_open("pending()")
        return self._runner.pending()

    def failed_jobs(self, *, limit: int = 100) -> list[Job]:
        """Durable mode: the dead jobs (retries used up), with their errors."""
        if self.queue is None:
            where = "the server keeps them" if isinstance(self.reflector, str) else "no queue"
            raise ConfigurationError(
                f"failed_jobs() needs durable mode (durable=True); this executor has {where}."
            )
        self._check_open("failed_jobs()")
        return self.queue.jobs("dead", limit=limit)

    def _check_open(self, what: str) -> None:
        if self._closed and self._owned_queue is not None:
            raise ExecutorShutdownError(
                f"{what} after close(): the executor closed its queue. Call it before "
                "close(), or read the queue with retain.queue.open_queue(store)."
            )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work.

        Pending in-memory work runs now, unless ``cancel_futures`` (then it is cancelled);
        in durable mode queued jobs stay queued for a later worker (cancelled in the queue
        with ``cancel_futures``) and their futures here fail with
        :class:`~retain.errors.ExecutorShutdownError`. ``wait`` blocks until running
        work is done.
        """
        self._runner.shutdown(wait=wait, cancel_futures=cancel_futures)

    def close(self) -> None:
        """:meth:`shutdown` (waiting for running work), then close the durable queue this
        executor opened for ``durable=True`` (on PostgreSQL, its connection pool). A queue
        passed as ``queue=`` stays open: it is yours to close. Calling it again does
        nothing; leaving a ``with`` block calls it.

        Example:
            >>> import tempfile, os
            >>> from retain import ReflectionExecutor
            >>> from retain.stores import SQLiteStore
            >>> store = SQLiteStore(os.path.join(tempfile.mkdtemp(), "memories.db"))
            >>> with ReflectionExecutor(lambda payload: None, store=store, durable=True) as ex:
            ...     ex.submit({"messages": []}).result(timeout=5)
            >>> store.close()
        """
        self.shutdown(wait=True)
        if self._owned_queue is not None and not self._closed:
            self._owned_queue.close()
        self._closed = True

    def __repr__(self) -> str:
        return f"ReflectionExecutor({self.reflector!r}, mode={self._runner.mode!r})"
