"""Turn a ``model`` argument into a LangChain chat model. The one place models are resolved.

Accepted:

* a LangChain ``BaseChatModel`` (or a Runnable wrapping one, e.g. ``model.bind(...)``);
* ``"openai:gpt-4o-mini"``, ``"anthropic:claude-3-5-sonnet-latest"``, ``"ollama:llama3.1"``;
* an OpenAI-compatible server by base URL: ``"vllm:Qwen/Qwen2.5-7B-Instruct@http://host:8000/v1"``,
  ``"llamacpp:qwen@http://localhost:8080/v1"`` or
  ``"openai-compatible:MODEL@BASE_URL"`` (without ``@BASE_URL``, vLLM defaults to
  ``http://localhost:8000/v1`` and llama.cpp to ``http://localhost:8080/v1``);
* ``"local:qwen2.5-1.5b"``: the embedded llama.cpp model (``retain[local]``);
* any other ``"provider:model"`` that ``langchain.chat_models.init_chat_model`` knows, when
  the ``langchain`` package is installed.

A missing provider package raises :class:`~retain.errors.MissingDependencyError` with the
install command.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableBinding

from retain.errors import ConfigurationError, MissingDependencyError, RetainError

__all__ = ["JSON_SCHEMA_PROVIDERS", "chat_model_of", "resolve_model"]

JSON_SCHEMA_PROVIDERS = frozenset({"vllm", "llamacpp", "openai-compatible", "ollama", "local"})
"""Providers whose models get JSON-schema-constrained output rather than tool calls."""

_DEFAULT_URLS = {"vllm": "http://localhost:8000/v1", "llamacpp": "http://localhost:8080/v1"}


def _import(module: str, package: str, extra: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(what, package, extra) from None


def _openai(name: str) -> BaseChatModel:
    mod = _import("langchain_openai", "langchain-openai", "openai", f"The model 'openai:{name}'")
    return mod.ChatOpenAI(model=name)  # type: ignore[no-any-return]


def _anthropic(name: str) -> BaseChatModel:
    mod = _import(
        "langchain_anthropic", "langchain-anthropic", "anthropic", f"The model 'anthropic:{name}'"
    )
    return mod.ChatAnthropic(model=name)  # type: ignore[no-any-return]


def _ollama(name: str) -> BaseChatModel:
    mod = _import("langchain_ollama", "langchain-ollama", "ollama", f"The model 'ollama:{name}'")
    return mod.ChatOllama(model=name)  # type: ignore[no-any-return]


def _compatible(provider: str) -> Callable[[str], BaseChatModel]:
    def make(spec: str) -> BaseChatModel:
        name, _, url = spec.partition("@")
        url = url or _DEFAULT_URLS.get(provider, "")
        if not name or not url:
            raise ConfigurationError(
                f"model {provider + ':' + spec!r} needs a model name and a base URL: "
                f"'{provider}:MODEL@http://host:port/v1'."
            )
        mod = _import(
            "langchain_openai", "langchain-openai", "openai", f"The model '{provider}:{spec}'"
        )
        # Local servers accept any key; a hosted one reads OPENAI_API_KEY via the client.
        return mod.ChatOpenAI(model=name, base_url=url, api_key="not-needed")  # type: ignore[no-any-return]

    return make


def _local(name: str) -> BaseChatModel:
    try:
        local = importlib.import_module("retain.local")
    except ImportError:
        raise MissingDependencyError(
            f"The model 'local:{name}'", "llama-cpp-python", "local"
        ) from None
    return local.load_local_chat_model(name)  # type: ignore[no-any-return]


_PROVIDERS: dict[str, Callable[[str], BaseChatModel]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "ollama": _ollama,
    "vllm": _compatible("vllm"),
    "llamacpp": _compatible("llamacpp"),
    "openai-compatible": _compatible("openai-compatible"),
    "local": _local,
}

_INFERRED = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("claude", "anthropic"),
)


def chat_model_of(model: Any) -> BaseChatModel | None:
    """The chat model inside ``model`` (unwrapping ``.bind(...)`` bindings), if any."""
    while isinstance(model, RunnableBinding):
        model = model.bound
    return model if isinstance(model, BaseChatModel) else None


def resolve_model(model: Any, *, argument: str = "model") -> BaseChatModel | Runnable[Any, Any]:
    """Resolve a ``model`` argument (see the module docs) into a chat model."""
    if isinstance(model, (BaseChatModel, RunnableBinding)):
        if chat_model_of(model) is None:
            raise ConfigurationError(f"{argument} wraps {model!r}, which is not a chat model.")
        return model
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(
            f"{argument} must be a LangChain chat model or a 'provider:model' string such as "
            f"'openai:gpt-4o-mini'; got {model!r}."
        )
    spec = model.strip()
    provider, sep, name = spec.partition(":")
    if not sep:
        inferred = next((p for prefix, p in _INFERRED if spec.startswith(prefix)), None)
        if inferred is None:
            raise ConfigurationError(
                f"{argument}={spec!r} does not say its provider; write 'provider:model', e.g. "
                f"'openai:{spec}'. Known providers: {', '.join(sorted(_PROVIDERS))}."
            )
        provider, name = inferred, spec
    provider = provider.lower()
    if not name:
        raise ConfigurationError(f"{argument}={spec!r} has no model name after the colon.")
    factory = _PROVIDERS.get(provider)
    if factory is not None:
        try:
            return factory(name)
        except RetainError:
            raise
        except Exception as e:  # the provider's own complaint, e.g. a missing API key
            raise ConfigurationError(
                f"{argument}={spec!r} could not be created: {e} (pass a chat model instance to "
                "configure it yourself)"
            ) from e
    try:
        from langchain.chat_models import init_chat_model  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ConfigurationError(
            f"{argument}={spec!r}: unknown provider {provider!r}. retain knows "
            f"{', '.join(sorted(_PROVIDERS))}; install 'langchain' to use any provider that "
            "init_chat_model supports, or pass a chat model instance."
        ) from None
    try:
        chat: BaseChatModel = init_chat_model(spec)
        return chat
    except ImportError as e:
        raise MissingDependencyError(f"The model {spec!r}", str(e.name or provider)) from None
    except ValueError as e:
        raise ConfigurationError(f"{argument}={spec!r}: {e}") from None
