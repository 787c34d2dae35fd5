"""The ``retain`` command: version, the demo's guidance without a model, and the story."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from retain import __version__
from retain.cli import main
from retain.cli.demo import QUESTION, run_demo
from retain.testing import FakeCall, FakeChatModel, insert, update


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RETAIN_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "retain.cli", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
        cwd=Path(__file__).parent,
    )


def test_version() -> None:
    assert main.__module__ == "retain.cli"
    out = _cli("--version")
    assert out.returncode == 0
    assert __version__ in out.stdout


def test_demo_without_a_model_says_what_to_set() -> None:
    out = _cli("demo")
    assert out.returncode == 2
    assert "RETAIN_MODEL" in out.stdout
    assert "OPENAI_API_KEY" in out.stdout


def test_demo_with_a_model_but_no_key_is_a_clear_error() -> None:
    out = _cli("demo", env={"RETAIN_MODEL": "openai:gpt-4o-mini"})
    assert out.returncode == 1
    assert "retain: error:" in out.stderr
    assert "OPENAI_API_KEY" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_unknown_provider_is_a_clear_error() -> None:
    out = _cli("demo", "--model", "nosuchprovider:model-x")
    assert out.returncode == 1
    assert "retain: error:" in out.stderr
    assert "Traceback" not in out.stderr


def _scripted(call: FakeCall) -> object:
    """Chat turns get text; extraction calls get memory operations for the latest session."""
    if not call.tool_names and call.response_schema is None:
        if QUESTION in call.prompt:
            return "You live in Utrecht and you are learning Japanese."
        return "Nice to hear that!"
    known = call.memories()
    if "UserProfile" in call.tool_names or any(m["kind"] == "UserProfile" for m in known):
        if not known:
            return [insert({"name": "Maya Okafor", "preferred_name": "May"}, kind="UserProfile")]
        return [update(known[0]["id"], set={"home_city": "Utrecht"})]
    if "Utrecht" in call.prompt:
        rotterdam = next(m for m in known if "Rotterdam" in str(m["content"]))
        return [update(rotterdam["id"], "User lives in Utrecht (moved from Rotterdam)")]
    if "Japanese" in call.prompt:
        return [insert("User is learning Japanese")]
    if "Rotterdam" in call.prompt:
        return [insert("User is Maya Okafor, called May, lives in Rotterdam")]
    return [insert("Priya leads the user's team")]


def test_demo_story_with_a_model(capsys: pytest.CaptureFixture[str]) -> None:
    model = FakeChatModel(_scripted, tool_calling=True)
    assert run_demo(model=model) == 0
    out = capsys.readouterr().out
    assert "session 4" in out
    assert "User lives in Utrecht (moved from Rotterdam)" in out
    assert "User is learning Japanese" in out
    assert "Utrecht" in out.split("a new session")[1]
    assert "preferred_name='May'" in out
