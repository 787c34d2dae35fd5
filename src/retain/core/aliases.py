"""Short ids for the model: memories are shown as ``m1``, ``m2``, ... never as raw keys.

A small model copies a 36-character UUID badly; a short id it copies well. The extraction
core shows every memory under its alias (memory list, profile rules, JSON-schema id enums,
tool results, repair messages) and maps the ids the model answers with (alias or real id)
back before validating them. Aliases are handed out in order, skip any name that is some
memory's real id, and can be carried from one pass to the next so a memory keeps its alias
across consolidation steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["Aliases"]


class Aliases:
    """A two-way map between real memory ids and the short ids the model sees.

    Example:
        >>> aliases = Aliases(["3f0c2a9e-5b1d", "m1"])
        >>> aliases.show("3f0c2a9e-5b1d"), aliases.show("m1")
        ('m2', 'm3')
        >>> aliases.real("m2"), aliases.real("m1"), aliases.real("nope")
        ('3f0c2a9e-5b1d', 'm1', 'nope')
    """

    def __init__(self, ids: Iterable[str] = (), *, known: Mapping[str, str] | None = None) -> None:
        self._short: dict[str, str] = {}
        self._real: dict[str, str] = {}
        self._taken: set[str] = set()
        self._next = 1
        ids = list(ids)
        self._taken.update(ids)
        for real, short in (known or {}).items():
            if short not in self._taken and short not in self._real:
                self._short[real] = short
                self._real[short] = real
        self._taken.update(self._real)
        for real in ids:
            self.show(real)

    def show(self, real: str) -> str:
        """The short id of ``real``, giving it the next free one if it has none yet."""
        short = self._short.get(real)
        if short is None:
            self._taken.add(real)
            while f"m{self._next}" in self._taken:
                self._next += 1
            short = f"m{self._next}"
            self._next += 1
            self._taken.add(short)
            self._short[real] = short
            self._real[short] = real
        return short

    def real(self, shown: str) -> str:
        """The real id the model meant: an alias maps back, anything else is kept as is."""
        return self._real.get(shown, shown)

    def mapping(self) -> dict[str, str]:
        """``{real id: alias}``, to carry the aliases into a later pass."""
        return dict(self._short)
