"""One real extraction with the embedded 0.5B model (the `local-small` extra).

Marked ``model``: it runs llama.cpp, so never in parallel with other model tests. The
assembled weights are cached inside the virtual environment, not in the home directory.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from retain import create_memory_manager
from retain.local import ChatLocalLlama, load_local_chat_model

pytestmark = pytest.mark.model

CACHE = Path(sys.prefix) / "retain-models"


def test_small_model_extracts_a_sensible_memory() -> None:
    started = time.monotonic()
    stages: list[str] = []
    model = load_local_chat_model(
        "qwen2.5-0.5b", cache_dir=CACHE, progress=lambda stage, _: stages.append(stage)
    )
    assert isinstance(model, ChatLocalLlama)
    assert load_local_chat_model("qwen2.5-0.5b", cache_dir=CACHE) is model  # loaded once
    manager = create_memory_manager(model)
    result = manager.extract(
        [
            {"role": "user", "content": "Hi! I'm allergic to peanuts, keep that in mind."},
            {"role": "assistant", "content": "Noted, I'll avoid peanuts."},
        ]
    )
    texts = [str(getattr(m.content, "content", m.content)).lower() for m in result.memories]
    assert any("peanut" in t for t in texts), texts
    assert result.model_calls == 1  # the constrained JSON was valid the first time
    assert "loading model" in stages
    assert time.monotonic() - started < 120
