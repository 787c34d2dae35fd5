"""What retain's Runnables share: ``invoke``/``ainvoke`` as one traced chain run around a
class's ``_invoke``/``_ainvoke`` (:class:`ChainRunnable`), and the ``create_*`` factory
functions, which take their class's arguments (:func:`takes_arguments_of`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig

__all__ = ["ChainRunnable", "takes_arguments_of"]

In = TypeVar("In")
Out = TypeVar("Out")
P = ParamSpec("P")
R = TypeVar("R")


class ChainRunnable(Runnable[In, Out]):
    """A Runnable whose ``invoke``/``ainvoke`` run ``_invoke``/``_ainvoke`` as one chain
    run (traced, with the config's callbacks); see the subclass for what it takes."""

    def _invoke(self, input: Any, config: RunnableConfig) -> Out:
        raise NotImplementedError

    async def _ainvoke(self, input: Any, config: RunnableConfig) -> Out:
        raise NotImplementedError

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Out:
        """Run on ``input`` (see the class docstring)."""
        func: Any = self._invoke
        return self._call_with_config(func, input, config, run_type="chain")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Out:
        """Async :meth:`invoke`."""
        func: Any = self._ainvoke
        return await self._acall_with_config(func, input, config, run_type="chain")


def takes_arguments_of(cls: Callable[P, Any]) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Give a factory that passes its arguments on to ``cls`` the parameters of ``cls``:
    for type checkers and in ``inspect.signature`` (so ``help()`` shows them), without
    writing them twice.

    Example:
        >>> import inspect
        >>> class Greeter:
        ...     def __init__(self, name: str, *, punctuation: str = "!") -> None:
        ...         self.text = f"Hello, {name}{punctuation}"
        >>> @takes_arguments_of(Greeter)
        ... def create_greeter(*args: Any, **kwargs: Any) -> Greeter:
        ...     return Greeter(*args, **kwargs)
        >>> list(inspect.signature(create_greeter).parameters)
        ['name', 'punctuation']
        >>> create_greeter("Ada").text
        'Hello, Ada!'
    """

    def typed(factory: Callable[..., R]) -> Callable[P, R]:
        returns = inspect.signature(factory).return_annotation
        factory.__signature__ = inspect.signature(cls).replace(  # type: ignore[attr-defined]
            return_annotation=returns
        )
        return factory

    return typed
