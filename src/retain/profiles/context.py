"""Context injection: the ``<user_profile>`` and ``<user_memory>`` blocks of a system prompt.

The size rule (``max_chars``, default 2000, at least 200): the text returned is never longer
than ``max_chars``.

1. The profile comes first and may use the whole budget. Its lines are ``Label: value`` for
   the fields that have a value, in schema order. If they do not all fit, the first line
   that does not fit is cut (ending in ``…``) and the rest are left out; the block then
   ends with ``(profile truncated: N more field(s) not shown)``.
2. Memories use what is left, most relevant first. A memory that does not fit is never
   cut: it and every less relevant one are left out, and the block ends with
   ``(N less relevant memories not shown)``. When the profile leaves no room for even
   that note, the memory block is left out whole.

Nothing is left out silently: the prompt says so (but for a memory block with no room at
all), and :class:`UserContext` counts every field and memory left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retain.errors import ConfigurationError

__all__ = ["DEFAULT_MAX_CHARS", "UserContext", "render_user_context"]

DEFAULT_MAX_CHARS = 2000
MIN_MAX_CHARS = 200
_ELLIPSIS = "…"


@dataclass(frozen=True)
class UserContext:
    """The blocks for one prompt and what the size rule left out."""

    text: str
    fields_shown: int = 0
    fields_omitted: int = 0
    truncated_field: str | None = None
    memories_shown: int = 0
    memories_omitted: int = 0


def _fit(
    tag: str, lines: Sequence[str], budget: int, note: str, *, cut: bool
) -> tuple[str, int, bool]:
    """The block for ``lines`` within ``budget`` chars: (text, lines kept, last one cut)."""
    if not lines:
        return "", 0, False
    head, tail = f"<{tag}>\n", f"\n</{tag}>"
    whole = head + "\n".join(lines) + tail
    if len(whole) <= budget:
        return whole, len(lines), False
    reserve = len("\n" + note.format(n=len(lines)))
    room = budget - len(head) - len(tail) - reserve
    if room <= 0:
        return "", 0, False
    kept: list[str] = []
    used = 0
    was_cut = False
    for line in lines:
        extra = len(line) + (1 if kept else 0)
        if used + extra <= room:
            kept.append(line)
            used += extra
            continue
        space = room - used - (1 if kept else 0) - len(_ELLIPSIS)
        if cut and space >= 8:
            kept.append(line[:space] + _ELLIPSIS)
            was_cut = True
        break
    omitted = len(lines) - len(kept)
    body = [*kept, note.format(n=omitted)] if omitted or was_cut else kept
    return head + "\n".join(body) + tail, len(kept), was_cut


def render_user_context(
    profile: Sequence[tuple[str, str]],
    memories: Sequence[str],
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> UserContext:
    """The ``<user_profile>`` / ``<user_memory>`` text for a system prompt (see the rule above).

    Example:
        >>> from retain.profiles import render_user_context
        >>> print(render_user_context([("Preferred Name", "Ali")], ["Likes tea"]).text)
        <user_profile>
        Preferred Name: Ali
        </user_profile>
        <user_memory>
        - Likes tea
        </user_memory>
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < MIN_MAX_CHARS:
        raise ConfigurationError(
            f"max_chars must be an integer >= {MIN_MAX_CHARS}; got {max_chars!r}."
        )
    lines = [f"{label}: {value}" for label, value in profile]
    profile_text, shown, cut = _fit(
        "user_profile",
        lines,
        max_chars,
        "(profile truncated: {n} more field(s) not shown)",
        cut=True,
    )
    left = max_chars - len(profile_text) - (1 if profile_text else 0)
    memory_lines = [f"- {' '.join(m.split())}" for m in memories]
    memory_text, kept, _ = _fit(
        "user_memory", memory_lines, left, "({n} less relevant memories not shown)", cut=False
    )
    text = "\n".join(t for t in (profile_text, memory_text) if t)
    return UserContext(
        text=text,
        fields_shown=shown,
        fields_omitted=len(lines) - shown,
        truncated_field=profile[shown - 1][0] if cut else None,
        memories_shown=kept,
        memories_omitted=len(memory_lines) - kept,
    )
