from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from retain import InvalidInputError
from retain.core.messages import normalize_messages, render_transcript


def test_openai_dicts_and_langchain_messages_render_the_same() -> None:
    dicts = [
        {"role": "system", "content": "Be nice"},
        {"role": "user", "content": "I like tea"},
        {"role": "assistant", "content": "Noted"},
    ]
    lc = [SystemMessage("Be nice"), HumanMessage("I like tea"), AIMessage("Noted")]
    assert render_transcript(normalize_messages(dicts)) == render_transcript(lc)
    assert render_transcript(lc) == "system: Be nice\nuser: I like tea\nassistant: Noted"


def test_tool_calls_and_content_blocks() -> None:
    messages = normalize_messages(
        [
            ("user", [{"type": "text", "text": "see "}, {"type": "image_url", "image_url": "x"}]),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "1",
                        "type": "function",
                        "function": {"name": "search", "arguments": '{"q": "tea"}'},
                    }
                ],
            },
            {"role": "tool", "content": "found", "tool_call_id": "1"},
        ]
    )
    assert isinstance(messages[2], ToolMessage)
    text = render_transcript(messages)
    assert "user: see [image_url]" in text
    assert 'assistant called search({"q": "tea"})' in text
    assert "tool: found" in text


@pytest.mark.parametrize(
    "bad", [42, [42], [{"content": "no role"}], [{"role": "x", "content": ""}]]
)
def test_bad_messages(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        normalize_messages(bad)
