from __future__ import annotations

import sys

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI

from retain import ConfigurationError, MissingDependencyError, create_memory_manager
from retain.llm.resolve import resolve_model
from retain.llm.structured import detect_style
from retain.testing import FakeChatModel


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


def test_provider_strings() -> None:
    openai = resolve_model("openai:gpt-4o-mini")
    assert isinstance(openai, ChatOpenAI)
    assert openai.model_name == "gpt-4o-mini"
    anthropic = resolve_model("anthropic:claude-3-5-sonnet-latest")
    assert isinstance(anthropic, ChatAnthropic)
    assert isinstance(resolve_model("gpt-4o"), ChatOpenAI)  # provider inferred, as LangChain does
    assert detect_style(openai) == "tool_calling"
    assert detect_style(anthropic) == "tool_calling"


@pytest.mark.parametrize(
    ("spec", "url", "model"),
    [
        (
            "vllm:Qwen/Qwen2.5-7B-Instruct@http://gpu:8000/v1",
            "http://gpu:8000/v1",
            "Qwen/Qwen2.5-7B-Instruct",
        ),
        ("vllm:Qwen/Qwen2.5-7B-Instruct", "http://localhost:8000/v1", "Qwen/Qwen2.5-7B-Instruct"),
        ("llamacpp:qwen", "http://localhost:8080/v1", "qwen"),
        ("openai-compatible:m@http://10.0.0.2:9000/v1", "http://10.0.0.2:9000/v1", "m"),
    ],
)
def test_openai_compatible_servers_by_base_url(spec: str, url: str, model: str) -> None:
    chat = resolve_model(spec)
    assert isinstance(chat, ChatOpenAI)
    assert (chat.openai_api_base, chat.model_name) == (url, model)
    assert detect_style(chat) == "json_schema"


def test_openai_compatible_needs_a_url() -> None:
    with pytest.raises(ConfigurationError, match="MODEL@http"):
        resolve_model("openai-compatible:m")


def test_missing_provider_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_ollama", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'retain\[ollama\]'"):
        create_memory_manager("ollama:llama3.1")
    monkeypatch.setitem(sys.modules, "langchain_openai", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'retain\[openai\]'"):
        create_memory_manager("vllm:m@http://localhost:8000/v1")


def test_missing_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigurationError, match="could not be created") as info:
        resolve_model("openai:gpt-4o-mini")
    assert "OPENAI_API_KEY" in str(info.value)


@pytest.mark.parametrize("spec", ["mistral-large", "nope:model", "openai:", "", None, 3])
def test_bad_model_arguments(spec: object) -> None:
    with pytest.raises(ConfigurationError):
        resolve_model(spec)


def test_chat_model_instances_and_bindings_pass_through() -> None:
    fake = FakeChatModel(["hi"])
    assert resolve_model(fake) is fake
    bound = fake.bind(stop=["x"])
    assert resolve_model(bound) is bound
    assert detect_style(bound) == "tool_calling"
    assert detect_style(FakeChatModel(tool_calling=False)) == "json_schema"


def test_a_bound_model_works_in_both_styles() -> None:
    from retain.testing import insert

    for style in ("tool_calling", "json_schema"):
        fake = FakeChatModel([[insert("User likes tea")]])
        manager = create_memory_manager(fake.bind(temperature=0), structured_output=style)  # type: ignore[arg-type]
        assert manager.invoke([("user", "tea")])[0].content.content == "User likes tea"
        assert fake.calls[0].kwargs == {"temperature": 0}
