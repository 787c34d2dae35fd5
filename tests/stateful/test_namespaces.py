"""NamespaceTemplate: filling from an explicit config or the LangGraph context, and bad labels."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.func import entrypoint

from retain import ConfigurationError, InvalidInputError, NamespaceTemplate


def test_static_and_templated() -> None:
    assert NamespaceTemplate("memories")() == ("memories",)
    ns = NamespaceTemplate(("memories", "{org_id}", "{user_id}"))
    assert ns.variables == ("org_id", "user_id")
    assert ns.static_prefix == ("memories",)
    config = {"configurable": {"org_id": "acme", "user_id": "alice"}}
    assert ns(config) == ("memories", "acme", "alice")
    assert NamespaceTemplate(ns) == ns


def test_non_string_values_become_labels() -> None:
    assert NamespaceTemplate(("u", "{user_id}"))({"configurable": {"user_id": 42}}) == ("u", "42")


def test_filled_from_the_langgraph_context() -> None:
    ns = NamespaceTemplate(("org", "{user_id}"))

    @entrypoint()
    def agent(_: Any) -> tuple[str, ...]:
        return ns()

    assert agent.invoke({}, {"configurable": {"user_id": "alice"}}) == ("org", "alice")


def test_missing_variable_names_the_variable_and_the_config_key() -> None:
    ns = NamespaceTemplate(("memories", "{user_id}"))
    with pytest.raises(ConfigurationError) as err:
        ns({"configurable": {"thread_id": "t1"}})
    message = str(err.value)
    assert "'user_id'" in message
    assert 'config["configurable"]["user_id"]' in message
    assert "thread_id" in message  # what the config does have
    with pytest.raises(ConfigurationError):
        ns()  # outside any LangGraph context and without a config


@pytest.mark.parametrize(
    "template",
    [(), ("memories", ""), ("memories", "a.b"), ("mem{user_id}",), ("memories", 3)],
)
def test_bad_templates_are_rejected(template: Any) -> None:
    with pytest.raises(InvalidInputError):
        NamespaceTemplate(template)


@pytest.mark.parametrize("value", ["", "alice.smith@example.com"])
def test_bad_values_are_rejected(value: str) -> None:
    ns = NamespaceTemplate(("memories", "{user_id}"))
    with pytest.raises(InvalidInputError) as err:
        ns({"configurable": {"user_id": value}})
    assert "user_id" in str(err.value)
