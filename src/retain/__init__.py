"""retain: long-term memory for LLM agents.

LangMem-compatible API: replace ``from langmem import ...`` with ``from retain import ...``.
"""

from retain.core.types import ExtractedMemory, ExtractionResult, Memory, RemoveDoc
from retain.errors import (
    ConfigurationError,
    InvalidInputError,
    MissingDependencyError,
    ModelOutputError,
    RetainError,
    StoreError,
)
from retain.llm.resolve import resolve_model
from retain.manager import (
    MemoryManager,
    MemoryState,
    create_memory_enricher,
    create_memory_manager,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ConfigurationError",
    "ExtractedMemory",
    "ExtractionResult",
    "InvalidInputError",
    "Memory",
    "MemoryManager",
    "MemoryState",
    "MissingDependencyError",
    "ModelOutputError",
    "RemoveDoc",
    "RetainError",
    "StoreError",
    "__version__",
    "create_memory_enricher",
    "create_memory_manager",
    "resolve_model",
]
