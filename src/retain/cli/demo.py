"""``retain demo``: a user tells an assistant about themselves over several sessions; the
memory forms between sessions; a final session shows what the assistant remembers."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from retain import ExtractedMemory, RemoveDoc, create_memory_manager
from retain.llm.resolve import resolve_model

SESSIONS: list[list[str]] = [
    ["Hi! I'm Maya Okafor, but everyone calls me May. I live in Rotterdam."],
    ["I've started learning Japanese, I practise every morning before work."],
    ["Heads-up: I moved from Rotterdam to Utrecht last weekend."],
    ["Our team lead used to be Jonas, but Priya took over the team this month."],
]
QUESTION = "Where do I live now, and what language am I learning?"

NO_MODEL = """\
retain demo needs a chat model.

Set RETAIN_MODEL to a "provider:model" string and the provider's API key, for example:

    export RETAIN_MODEL=openai:gpt-4o-mini OPENAI_API_KEY=sk-...
    export RETAIN_MODEL=anthropic:claude-3-5-haiku-latest ANTHROPIC_API_KEY=sk-ant-...
    export RETAIN_MODEL=ollama:llama3.1            # a local Ollama server
    export RETAIN_MODEL=vllm:MODEL@http://host:8000/v1

then run `retain demo` again (or pass --model). The embedded offline model
("local:...") is coming with the retain[local] extra."""


class UserProfile(BaseModel):
    """The user's profile."""

    name: str | None = Field(default=None, description="The user's full name")
    preferred_name: str | None = Field(default=None, description="What the user likes to be called")
    home_city: str | None = Field(default=None, description="Where the user lives now")
    languages_learning: list[str] = Field(default=[], description="Languages being learned")


def _say(text: str = "") -> None:
    print(text, flush=True)


def run_demo(model: str | BaseChatModel | None = None) -> int:
    """Run the story with ``model`` (default: the ``RETAIN_MODEL`` environment variable)."""
    spec = model or os.environ.get("RETAIN_MODEL")
    if not spec:
        _say(NO_MODEL)
        return 2
    _say(f"retain demo with {spec if isinstance(spec, str) else type(spec).__name__}\n")
    chat = resolve_model(spec)
    facts = create_memory_manager(chat, enable_deletes=True)
    profile = create_memory_manager(chat, schemas=[UserProfile], enable_inserts=False)
    memories: list[ExtractedMemory] = []
    profile_docs: list[ExtractedMemory] = []
    for number, turns in enumerate(SESSIONS, start=1):
        _say(f"--- session {number} ---")
        conversation: list[dict[str, Any]] = []
        for text in turns:
            _say(f"user: {text}")
            conversation.append({"role": "user", "content": text})
            reply = chat.invoke(conversation)
            _say(f"assistant: {reply.content}")
            conversation.append({"role": "assistant", "content": str(reply.content)})
        started = time.monotonic()
        _say("(forming memories...)")
        result = facts.invoke({"messages": conversation, "existing": memories})
        memories = [m for m in result if not isinstance(m.content, RemoveDoc)]
        profile_docs = profile.invoke({"messages": conversation, "existing": profile_docs})
        _say(f"(done in {time.monotonic() - started:.1f} s: {len(memories)} memories)\n")
    _say("--- what retain remembers ---")
    if profile_docs:
        _say(f"profile: {profile_docs[0].content!r}")
    for m in memories:
        _say(f"- {m.content.content}")
    _say("\n--- a new session ---")
    context = "\n".join(f"- {m.content.content}" for m in memories)
    answer = chat.invoke(
        [
            {"role": "system", "content": f"You know this about the user:\n{context}"},
            {"role": "user", "content": QUESTION},
        ]
    )
    _say(f"user: {QUESTION}\nassistant: {answer.content}")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
