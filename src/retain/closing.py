"""``with thing:`` for retain's objects that hold resources: leaving the block calls
``close()``."""

from __future__ import annotations

from typing import Any

from typing_extensions import Self

__all__ = ["Closing"]


class Closing:
    """A mixin: ``with obj:`` returns ``obj`` and calls ``obj.close()`` on leaving."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
