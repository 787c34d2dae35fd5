"""The LangGraph notebook's flow with retain: a chat bot that keeps a profile of its user.

As in the seed notebook: a ``StateGraph`` whose ``fetch_profile`` node puts the user's
profile in the system prompt, a ``bot`` node that answers, and a ``process_convo`` node that
schedules a *debounced* profile update (a newer message in the thread within
``delay_seconds`` replaces the pending update). Thread memory: LangGraph's ``SqliteSaver``
when ``langgraph-checkpoint-sqlite`` is installed (``pip install 'retain[sqlite-checkpoint]'``),
else ``MemorySaver``. Cross-thread memory: retain's ``SQLiteStore``.

Run offline with fake models: ``python examples/profile_notebook.py``. With a real model,
pass it to :func:`build` (for example ``resolve_model("openai:gpt-4o-mini")``).
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import MemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from retain import LearningMachine
from retain.clock import Clock
from retain.stores import SQLiteStore

BASE_PROMPT = (
    "You are a helpful and friendly chatbot. Use the user's profile, if any, so they know "
    "you are paying attention; use their preferred name if you know it."
)


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    user_info: str


def checkpointer_for(path: Path) -> tuple[BaseCheckpointSaver[Any], str]:
    """``SqliteSaver`` on ``path`` when installed, else ``MemorySaver``; and which one."""
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver
    except ImportError:
        return MemorySaver(), "MemorySaver"
    return SqliteSaver(sqlite3.connect(path, check_same_thread=False)), "SqliteSaver"


def build(
    model: BaseChatModel,
    extractor: BaseChatModel,
    directory: Path,
    *,
    delay_seconds: float = 60.0,
    clock: Clock | None = None,
) -> tuple[Any, LearningMachine, str]:
    """The compiled graph, its learning machine, and the checkpointer's name."""
    store = SQLiteStore(directory / "memories.db")
    machine = LearningMachine(extractor, store=store, debounce_seconds=delay_seconds, clock=clock)

    def fetch_profile(state: State, config: RunnableConfig) -> dict[str, Any]:
        return {"user_info": machine.context(config).text}

    def bot(state: State) -> dict[str, Any]:
        system = f"{BASE_PROMPT}\n\n{state['user_info']}".strip()
        return {"messages": [model.invoke([SystemMessage(system), *state["messages"]])]}

    def process_convo(state: State, config: RunnableConfig) -> dict[str, Any]:
        machine.after_turn(state["messages"], config)  # debounced per thread
        return {}

    builder = StateGraph(State)
    builder.add_node("fetch_profile", fetch_profile)
    builder.add_node("bot", bot)
    builder.add_node("process_convo", process_convo)
    builder.add_edge(START, "fetch_profile")
    builder.add_edge("fetch_profile", "bot")
    builder.add_edge("bot", "process_convo")
    builder.add_edge("process_convo", END)
    checkpointer, name = checkpointer_for(directory / "checkpoints.db")
    return builder.compile(checkpointer=checkpointer, store=store), machine, name


def chat(graph: Any, text: str, user_id: str, thread_id: str) -> str:
    """One user message; returns the bot's answer."""
    config = {"configurable": {"user_id": user_id, "thread_id": thread_id}}
    result = graph.invoke({"messages": [("user", text)]}, config)
    return str(result["messages"][-1].content)


def main() -> None:
    from retain.clock import ManualClock
    from retain.testing import FakeChatModel, done, update

    clock = ManualClock()
    extractor = FakeChatModel(
        [[update("default", set={"name": "Alice Chen", "preferred_name": "Ali"})], [done()]]
    )
    model = FakeChatModel(["Nice to meet you!", "Noted.", "Hi Ali! Your name is Alice Chen."])
    with tempfile.TemporaryDirectory() as tmp:
        graph, machine, saver = build(model, extractor, Path(tmp), clock=clock)
        print(f"checkpointer: {saver}")
        print(chat(graph, "Hi! I'm Alice Chen.", "alice", "thread-1"))
        print(chat(graph, "But please call me Ali.", "alice", "thread-1"))
        clock.advance(60)  # the conversation settled: one debounced update runs
        machine.flush()
        print(chat(graph, "What's my name?", "alice", "thread-2"))
        clock.advance(60)
        machine.flush()
        print(f"profile updates: {len(extractor.calls)}")  # one per settled thread
        machine.profiles.print(user_id="alice")  # type: ignore[union-attr]
        machine.shutdown()


if __name__ == "__main__":
    main()
