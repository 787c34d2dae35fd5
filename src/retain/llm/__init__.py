"""Chat models: resolving ``"provider:model"`` strings, binding structured output, drivers."""

from retain.llm.resolve import resolve_model

__all__ = ["resolve_model"]
