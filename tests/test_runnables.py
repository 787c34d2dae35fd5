"""The create_* factories take their class's arguments (retain.runnables)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from retain import (
    create_memory_manager,
    create_memory_store_manager,
    create_multi_prompt_optimizer,
    create_prompt_optimizer,
)
from retain.manager import MemoryManager
from retain.optimizers import MultiPromptOptimizer, PromptOptimizer
from retain.store_manager import MemoryStoreManager
from retain.testing import FakeChatModel

FACTORIES = [
    (create_memory_manager, MemoryManager),
    (create_memory_store_manager, MemoryStoreManager),
    (create_prompt_optimizer, PromptOptimizer),
    (create_multi_prompt_optimizer, MultiPromptOptimizer),
]


@pytest.mark.parametrize(("factory", "cls"), FACTORIES)
def test_a_factory_shows_and_passes_on_its_class_arguments(factory: Any, cls: type) -> None:
    params = inspect.signature(factory).parameters
    assert params == inspect.signature(cls).parameters
    assert "model" in params
    assert params["max_repairs"].default == 2
    built = factory(FakeChatModel([]), max_repairs=0)
    assert type(built) is cls
    with pytest.raises(TypeError):
        factory(FakeChatModel([]), not_an_argument=1)
