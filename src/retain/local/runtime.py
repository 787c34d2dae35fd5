"""Import and construct the llama.cpp runtime (``llama-cpp-python``) with clear errors."""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path
from typing import Any

from retain.errors import MissingDependencyError
from retain.local.errors import LocalRuntimeError, install_command

__all__ = ["default_threads", "import_llama_cpp", "open_llama"]


def default_threads() -> int:
    """Threads for one model: the usable cores, at most 4.

    More threads than free cores make llama.cpp slower, not faster, on a shared machine;
    with ``OMP_WAIT_POLICY=PASSIVE`` idle threads sleep instead of spinning.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def import_llama_cpp(what: str, extra: str = "local") -> Any:
    """The ``llama_cpp`` module; ``what`` names the model in error messages, ``extra`` the
    retain extra that installs it (``local``, or ``local-small`` for the 0.5B model).

    Sets ``OMP_WAIT_POLICY=PASSIVE`` first (unless already set): spinning OpenMP threads
    collapse llama.cpp's speed when the cores are shared.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        return import_module("llama_cpp")
    except ModuleNotFoundError as e:
        if e.name == "llama_cpp":
            raise MissingDependencyError(
                what, "llama-cpp-python", extra, command=install_command(extra)
            ) from None
        raise LocalRuntimeError(what, e) from e
    except (ImportError, OSError, RuntimeError) as e:  # a broken build or shared library
        raise LocalRuntimeError(what, e) from e


def open_llama(path: Path, *, what: str, n_ctx: int, n_threads: int, extra: str = "local") -> Any:
    """A ``llama_cpp.Llama`` for the GGUF file at ``path``."""
    llama_cpp = import_llama_cpp(what, extra)
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        verbose=False,
    )
