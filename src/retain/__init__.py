"""retain: long-term memory for LLM agents.

LangMem-compatible API: replace ``from langmem import ...`` with ``from retain import ...``.
"""

from retain.background.scheduler import MemoryScheduler
from retain.core.optimization import AnnotatedTrajectory, Prompt
from retain.core.types import ExtractedMemory, ExtractionResult, Memory, RemoveDoc
from retain.errors import (
    ConfigurationError,
    EmbeddingDimensionError,
    ExecutorShutdownError,
    InvalidInputError,
    InvalidNamespaceError,
    InvalidValueError,
    MissingDependencyError,
    ModelOutputError,
    ProfileSchemaError,
    RetainError,
    StoreCorruptedError,
    StoreError,
    StoreLockedError,
)
from retain.executor import ReflectionExecutor
from retain.llm.resolve import resolve_model
from retain.manager import (
    MemoryManager,
    MemoryState,
    create_memory_enricher,
    create_memory_manager,
)
from retain.namespaces import NamespaceTemplate
from retain.optimizers import (
    MultiPromptOptimizer,
    PromptOptimizer,
    create_multi_prompt_optimizer,
    create_prompt_optimizer,
)
from retain.profiles import (
    LearningMachine,
    LearningMode,
    UserMemoryConfig,
    UserProfile,
    UserProfileConfig,
    UserProfileModel,
    UserProfileStore,
    create_learning_agent,
)
from retain.store_manager import (
    MemoryPhase,
    MemoryStoreManager,
    create_memory_store_enricher,
    create_memory_store_manager,
)
from retain.tools import create_manage_memory_tool, create_search_memory_tool

__version__ = "0.1.0.dev0"

__all__ = [
    "AnnotatedTrajectory",
    "ConfigurationError",
    "EmbeddingDimensionError",
    "ExecutorShutdownError",
    "ExtractedMemory",
    "ExtractionResult",
    "InvalidInputError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "LearningMachine",
    "LearningMode",
    "Memory",
    "MemoryManager",
    "MemoryPhase",
    "MemoryScheduler",
    "MemoryState",
    "MemoryStoreManager",
    "MissingDependencyError",
    "ModelOutputError",
    "MultiPromptOptimizer",
    "NamespaceTemplate",
    "ProfileSchemaError",
    "Prompt",
    "PromptOptimizer",
    "ReflectionExecutor",
    "RemoveDoc",
    "RetainError",
    "StoreCorruptedError",
    "StoreError",
    "StoreLockedError",
    "UserMemoryConfig",
    "UserProfile",
    "UserProfileConfig",
    "UserProfileModel",
    "UserProfileStore",
    "__version__",
    "create_learning_agent",
    "create_manage_memory_tool",
    "create_memory_enricher",
    "create_memory_manager",
    "create_memory_store_enricher",
    "create_memory_store_manager",
    "create_multi_prompt_optimizer",
    "create_prompt_optimizer",
    "create_search_memory_tool",
    "resolve_model",
]
