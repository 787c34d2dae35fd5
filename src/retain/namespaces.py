"""``NamespaceTemplate``: namespaces with ``{variables}`` filled from the run's config.

A namespace is a tuple of labels, such as ``("memories", "{user_id}")``. Each ``{var}``
label is replaced by ``config["configurable"]["var"]`` when the template is called, with
the config passed explicitly or taken from the LangGraph context (inside a graph, an
``@entrypoint`` or a tool call).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig

from retain.errors import ConfigurationError, InvalidInputError
from retain.graph_context import current_config

__all__ = ["NamespaceTemplate", "validate_label"]

_VAR = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def validate_label(label: Any, *, where: str) -> str:
    """Check one namespace label: a non-empty string without dots (LangGraph's rule)."""
    if not isinstance(label, str):
        raise InvalidInputError(f"{where} must be a string; got {type(label).__name__} {label!r}.")
    if not label:
        raise InvalidInputError(f"{where} is empty; namespace labels must be non-empty strings.")
    if "." in label:
        raise InvalidInputError(
            f"{where} is {label!r}; namespace labels cannot contain '.' (LangGraph stores "
            "use dots as separators). Replace the dots, for example with "
            f"{label.replace('.', '_')!r}."
        )
    return label


class NamespaceTemplate:
    """A namespace whose ``{var}`` labels are filled from ``config["configurable"]``.

    Example:
        >>> from retain import NamespaceTemplate
        >>> NamespaceTemplate("user_123")()
        ('user_123',)
        >>> ns = NamespaceTemplate(("org", "{user_id}"))
        >>> ns({"configurable": {"user_id": "alice"}})
        ('org', 'alice')
        >>> ns.variables
        ('user_id',)
        >>> ns({"configurable": {}})
        Traceback (most recent call last):
        ...
        retain.errors.ConfigurationError: The namespace ('org', '{user_id}') needs 'user_id': ...
    """

    __slots__ = ("template", "vars")

    def __init__(self, template: str | Sequence[str] | NamespaceTemplate) -> None:
        if isinstance(template, NamespaceTemplate):
            self.template: tuple[str, ...] = template.template
            self.vars: dict[int, str] = dict(template.vars)
            return
        labels = (template,) if isinstance(template, str) else tuple(template)
        if not labels:
            raise InvalidInputError("A namespace needs at least one label; got ().")
        self.vars = {}
        for i, label in enumerate(labels):
            validate_label(label, where=f"Namespace label {i}")
            match = _VAR.match(label)
            if match:
                self.vars[i] = match.group(1)
            elif "{" in label or "}" in label:
                raise InvalidInputError(
                    f"Namespace label {label!r} mixes text and braces; a template variable "
                    "must be a whole label such as '{user_id}'."
                )
        self.template = labels

    @property
    def variables(self) -> tuple[str, ...]:
        """The names of the template's variables, in order."""
        return tuple(self.vars.values())

    @property
    def static_prefix(self) -> tuple[str, ...]:
        """The labels before the first variable."""
        first = min(self.vars, default=len(self.template))
        return self.template[:first]

    def __call__(self, config: RunnableConfig | Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """Fill the template from ``config`` (default: the LangGraph context's config)."""
        if not self.vars:
            return self.template
        if config is None:
            config = current_config() or {}
        configurable = config.get("configurable") or {}
        out = list(self.template)
        for i, var in self.vars.items():
            if var not in configurable or configurable[var] is None:
                raise ConfigurationError(
                    f"The namespace {self.template} needs {var!r}: set "
                    f'config["configurable"]["{var}"] (for example config={{"configurable": '
                    f'{{"{var}": "..."}}}}). The config\'s configurable keys are: '
                    f"{sorted(k for k in configurable if not k.startswith('__'))}."
                )
            value = configurable[var]
            out[i] = validate_label(
                value if isinstance(value, str) else str(value),
                where=f'config["configurable"]["{var}"] (used in namespace {self.template})',
            )
        return tuple(out)

    def __repr__(self) -> str:
        return f"NamespaceTemplate({self.template!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NamespaceTemplate) and other.template == self.template

    def __hash__(self) -> int:
        return hash(self.template)
