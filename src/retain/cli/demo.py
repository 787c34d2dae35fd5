"""``retain demo``: a user tells an assistant about themselves over several sessions; memory
forms in the background in a SQLite file; a new session answers from memory.

The story (:mod:`retain.cli.demo_story`) runs on the real pieces: a
:class:`~retain.stores.SQLiteStore` file with the offline embedding model and a fact
manager (``create_memory_store_manager``, namespace ``("memories", "{user_id}")``) run by a
:class:`~retain.ReflectionExecutor` after each user turn: one model call per turn. It
then prints the current facts (those recalled for the final question with their scores),
the superseded ones and the history of a memory that changed, and checks two things: every
fact the user told (name, home, the added language, the drink that changed, the team lead
that changed) is stored and current, with no superseded fact presented as current
(:func:`~retain.cli.demo_story.check_memories`), and the final answer from memory is right.
The exit code is 0 only when both hold.

With the embedded model, memory formation has its own llama.cpp context
(``load_local_chat_model(..., context="memory")``, same weights), so the chat replies in
between do not evict the fact prompt's fixed instructions from its cache.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.store.base import SearchItem

from retain.cli.demo_story import (
    FACT_INSTRUCTIONS,
    QUESTION,
    SESSIONS,
    USER_ID,
    answer_prompt,
    check_answer,
    check_memories,
)
from retain.cli.progress import Progress, wait_for
from retain.embeddings import DEFAULT_EMBED, MINILM_DIMS
from retain.errors import ConfigurationError, MissingDependencyError
from retain.executor import ReflectionExecutor
from retain.llm.resolve import resolve_model
from retain.store_manager import MemoryStoreManager, create_memory_store_manager
from retain.stores import SQLiteStore, Version

__all__ = [
    "DEFAULT_DEMO_PATH",
    "DEFAULT_MODEL",
    "DEMO_APPLICATION_ID",
    "is_demo_database",
    "run_demo",
]

DEFAULT_MODEL = "local:qwen2.5-1.5b"
"""The model used without ``--model`` or ``RETAIN_MODEL``: embedded, offline."""
DEFAULT_DEMO_PATH = Path(".retain-demo") / "memories.db"
"""Where the demo keeps its memories (relative to the working directory)."""
DEMO_APPLICATION_ID = int.from_bytes(b"rtdm", "big")
"""The SQLite ``application_id`` the demo stamps on its database: a later run empties a
file only when it carries this mark."""

FACTS_NAMESPACE = ("memories", USER_ID)
REPLY_TOKENS = 40
ANSWER_TOKENS = 80
CHAT_SYSTEM = (
    "You are May's assistant. Acknowledge what she tells you in one short, friendly sentence "
    "that speaks to her as 'you'."
)


@dataclass
class Formed:
    """What one background run wrote (and what failed)."""

    facts: int = 0
    errors: list[str] = field(default_factory=list)


class _FormMemories:
    """The reflector: update the facts (one model call).

    It is given the user's turn only: small models tend to record the assistant's echoes
    ("Priya is now my team lead") as facts, and, given two turns, only the one that changes
    a memory (the 1.5B model skipped "I've started learning Japanese" next to the switch
    from tea to coffee).
    """

    def __init__(self, facts: MemoryStoreManager) -> None:
        self.facts = facts

    def __call__(self, payload: dict[str, Any], config: RunnableConfig) -> Formed:
        formed = Formed()
        try:
            formed.facts = len(self.facts.invoke({"messages": payload["messages"]}, config))
        except Exception as e:  # shown to the user; the story goes on
            formed.errors.append(f"facts: {type(e).__name__}: {e}")
        return formed


def is_demo_database(path: Path) -> bool:
    """Whether ``path`` is a SQLite file this demo made (its header carries
    :data:`DEMO_APPLICATION_ID`); read-only, nothing is written."""
    header = b""
    with contextlib.suppress(OSError), path.open("rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return False
    # SQLite keeps PRAGMA application_id at offset 68 of the header; a WAL file may hold a
    # newer first page, so ask SQLite itself (read-only) rather than trust the bytes
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            (found,) = conn.execute("PRAGMA application_id").fetchone()
    except sqlite3.Error:
        return False
    return bool(found == DEMO_APPLICATION_ID)


def _check_target(path: Path, keep: bool) -> None:
    """Refuse to empty a file the demo did not make (before any model is loaded)."""
    if not keep and (path.exists() or path.is_symlink()) and not is_demo_database(path):
        raise ConfigurationError(
            f"{path} exists and is not a database made by `retain demo`, so the demo will "
            "not delete it. Choose another --path (default .retain-demo/memories.db), "
            "delete the file yourself, or pass --keep to add the demo's memories to it."
        )


def _fresh_store(path: Path, keep: bool) -> SQLiteStore:
    _check_target(path, keep)
    fresh = not keep or not path.exists()
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SQLiteStore(path, index={"embed": DEFAULT_EMBED, "dims": MINILM_DIMS})
    if fresh:  # mark it as the demo's, so the next run may empty it
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
    return store


Model = BaseChatModel | Runnable[Any, Any]


def _load_model(spec: str, out: TextIO) -> tuple[Model, Model]:
    """The chat model, and the one memory formation uses (the same, except that an
    embedded model gives memory formation its own llama.cpp context)."""
    provider, _, name = spec.partition(":")
    label = f"loading model {spec}"
    try:
        if provider != "local":
            with Progress(out, label):
                model = resolve_model(spec)
            return model, model
        try:
            from retain.local import load_local_chat_model
        except ImportError:
            model = resolve_model(spec)  # raises the install hint
            return model, model
        label += " (first time: assembling and verifying weights)"
        with Progress(out, label) as progress:

            def report(stage: str, fraction: float) -> None:
                progress.note(f"{stage} {fraction:.0%}", stage=stage)

            chat = load_local_chat_model(name, progress=report)
            return chat, load_local_chat_model(name, context="memory")
    except MissingDependencyError as e:
        if spec != DEFAULT_MODEL:
            raise
        raise MissingDependencyError(
            "The demo's default embedded model (or set RETAIN_MODEL, e.g. openai:gpt-4o-mini "
            "with OPENAI_API_KEY)",
            e.package,
            e.extra,
        ) from None


def _text(value: dict[str, Any]) -> str:
    content = value.get("content")
    if isinstance(content, dict):
        if set(content) == {"content"}:
            return str(content["content"])
        return ", ".join(f"{k}={v}" for k, v in content.items() if v not in (None, ""))
    return str(content)


def _reply(
    model: Runnable[Any, Any], messages: Sequence[Any], out: TextIO, label: str
) -> tuple[str, float]:
    with Progress(out, label, quiet=True) as progress:
        message: BaseMessage = model.invoke(list(messages))
    return str(message.content).strip(), progress.elapsed


def _changed_memory(store: SQLiteStore) -> list[Version]:
    """The versions of a fact memory that changed (the team lead first), or none."""
    changed = []
    for item in store.recall(FACTS_NAMESPACE, limit=100):  # current facts
        versions = store.history(FACTS_NAMESPACE, item.key)
        if len(versions) > 1:
            changed.append((_text(item.value), versions))
    changed.sort(key=lambda c: ("lead" not in c[0].lower(), "drink" not in c[0].lower()))
    return changed[0][1] if changed else []


def _print_history(versions: list[Version], say: Any) -> None:
    if not versions:
        say("history: no memory was updated (a changed fact was stored as a new memory)")
        return
    say(f"history of a memory that changed ({len(versions)} versions):")
    for v in versions:
        where = v.provenance.get("thread_id", "?")
        text = "(deleted)" if v.value is None else _text(v.value)
        say(f"  v{v.version}  {v.at:%H:%M:%S}  {v.op:<6} [{where}]  {text}")


def run_demo(
    model: str | BaseChatModel | Runnable[Any, Any] | None = None,
    *,
    path: str | Path = DEFAULT_DEMO_PATH,
    keep: bool = False,
    out: TextIO | None = None,
    timeout: float = 600.0,
    after_seconds: float = 0.2,
) -> int:
    """Run the story; returns 0 when the stored facts and the final answer are right, else 1.

    ``model``: a chat model or ``"provider:model"`` string (default: ``RETAIN_MODEL``,
    else :data:`DEFAULT_MODEL`). ``path``: the SQLite file, emptied first unless ``keep``;
    an existing file is emptied only when an earlier run made it (:func:`is_demo_database`),
    anything else raises :class:`~retain.errors.ConfigurationError` and is left untouched.
    ``timeout``: seconds to wait for each session's memory formation.
    """
    stream = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=stream, flush=True)

    spec = model or os.environ.get("RETAIN_MODEL") or DEFAULT_MODEL
    name = spec if isinstance(spec, str) else type(spec).__name__
    db = Path(path).resolve()
    say(f"retain demo: model {name}, memories in {db}{' (kept)' if keep else ''}\n")
    _check_target(db, keep)
    if isinstance(spec, str):
        chat, memory_model = _load_model(spec, stream)
    else:
        chat = memory_model = resolve_model(spec)
    store = _fresh_store(db, keep)
    facts = create_memory_store_manager(
        memory_model,
        instructions=FACT_INSTRUCTIONS,
        namespace=("memories", "{user_id}"),
        store=store,
        query_limit=10,
    )
    replies = chat.bind(max_tokens=REPLY_TOKENS)
    executor = ReflectionExecutor(_FormMemories(facts), store=store, max_workers=1)
    try:
        for number, turns in enumerate(SESSIONS, start=1):
            thread = f"session-{number}"
            say(f"--- session {number} ---")
            config = {"configurable": {"user_id": USER_ID, "thread_id": thread}}
            conversation: list[dict[str, str]] = []
            for text in turns:
                say(f"user: {text}")
                conversation.append({"role": "user", "content": text})
                messages = [{"role": "system", "content": CHAT_SYSTEM}, *conversation]
                reply, seconds = _reply(replies, messages, stream, "assistant is replying")
                say(f"assistant ({seconds:.1f} s): {reply}")
                conversation.append({"role": "assistant", "content": reply})
                # one extraction per user turn (see _FormMemories): a small model given two
                # turns at once tends to record only the one that changes a memory
                said = {"messages": [{"role": "user", "content": text}]}
                future = executor.submit(said, config, after_seconds=after_seconds)
                with Progress(stream, "forming memories in the background") as progress:
                    (error,) = wait_for([future], progress, timeout=timeout)
                    if error is None:
                        formed: Formed = future.result()
                        progress.note(f"{formed.facts} fact(s) written")
                if error is not None:
                    say(f"    memory formation failed: {type(error).__name__}: {error}")
                for problem in [] if error is not None else formed.errors:
                    say(f"    memory formation failed for {problem}")
            say()
        return _finale(store, chat, stream, say)
    finally:
        executor.shutdown()
        store.close()


def _finale(store: SQLiteStore, chat: Model, stream: TextIO, say: Any) -> int:
    say(f"--- what retain remembers ({store.path}) ---")
    # current facts only: a superseded one is never presented as current
    recalled: list[SearchItem] = store.recall(FACTS_NAMESPACE, query=QUESTION, limit=8)
    say(f"current facts, scored against the final question ({len(recalled)}):")
    for item in recalled:
        say(f"  {item.score or 0.0:.3f}  {_text(item.value)}")
    current = store.recall(FACTS_NAMESPACE, limit=100)
    everything = store.recall(FACTS_NAMESPACE, limit=100, include_superseded=True)
    now = {item.key for item in current}
    ended = [item for item in everything if item.key not in now]
    say(f"superseded facts, kept for history ({len(ended)}):")
    for item in ended:
        say(f"  {_text(item.value)}  (until {item.value.get('valid_to', '?')})")
    _print_history(_changed_memory(store), say)

    say("\n--- a new session: the assistant answers from memory ---")
    say(f"user: {QUESTION}")
    messages = [
        {"role": "system", "content": answer_prompt([_text(i.value) for i in recalled])},
        {"role": "user", "content": QUESTION},
    ]
    answering = chat.bind(max_tokens=ANSWER_TOKENS)
    answer, seconds = _reply(answering, messages, stream, "assistant is answering")
    say(f"assistant ({seconds:.1f} s): {answer}")

    stored = check_memories([_text(item.value) for item in current])
    verdict = check_answer(answer)
    say()
    if stored.right:
        marks = ", ".join(f"{part}: {fact!r}" for part, fact in stored.found.items())
        say(f"check: memories RIGHT, every told fact is current ({marks}); none superseded")
    else:
        if stored.missing:
            say(f"check: memories WRONG, no current fact has the {', '.join(stored.missing)}")
        for part, fact in stored.stale.items():
            say(f"check: memories WRONG, a superseded {part} is still current: {fact!r}")
    marks = ", ".join(f"{part}: {word}" for part, word in verdict.found.items())
    if verdict.right:
        say(f"check: answer RIGHT, the answer has {marks}")
    else:
        say(
            f"check: answer WRONG, the answer misses {', '.join(verdict.missing)}"
            + (f" (it has {marks})" if marks else "")
        )
    if stored.right and verdict.right:
        return 0
    checks = (("memories", stored.right), ("answer", verdict.right))
    failed = [what for what, ok in checks if not ok]
    say(f"the story failed: the {' and the '.join(failed)} check failed")
    return 1
