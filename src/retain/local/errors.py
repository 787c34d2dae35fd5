"""Errors of the embedded model loader. Each message names the fix."""

from __future__ import annotations

from retain.errors import ConfigurationError, MissingDependencyError

__all__ = ["LocalRuntimeError", "ModelWeightsError", "install_command"]

REBUILD = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir '
    "llama-cpp-python==0.3.36"
)
"""The command that rebuilds the llama.cpp runtime portably."""


def install_command(extra: str) -> str:
    """How to install the runtime portably, then retain's ``extra`` (docs/models.md).

    Example:
        >>> from retain.local.errors import install_command
        >>> command = install_command("local-small")
        >>> command.startswith('CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir ')
        True
        >>> command.endswith(" && pip install 'retain[local-small]'")
        True
    """
    return (
        'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir llama-cpp-python==0.3.36'
        f" && pip install 'retain[{extra}]'"
    )


class ModelWeightsError(ConfigurationError):
    """The assembled weights file does not have the published sha256 (or size).

    The message names the packages to reinstall.
    """


class LocalRuntimeError(MissingDependencyError):
    """``llama-cpp-python`` is installed but cannot be imported or run (a broken build).

    The message has the command that rebuilds it portably.
    """

    def __init__(self, what: str, cause: BaseException) -> None:
        self.package = "llama-cpp-python"
        self.extra = "local"
        ImportError.__init__(  # skip MissingDependencyError's "is not installed" message
            self,
            f"{what} needs the llama.cpp runtime, but importing llama_cpp failed "
            f"({type(cause).__name__}: {cause}). Rebuild it with: {REBUILD}",
        )
