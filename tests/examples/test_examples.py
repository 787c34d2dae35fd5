"""The examples in examples/ run with fake models."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from langgraph.store.memory import InMemoryStore

from retain.clock import ManualClock
from retain.testing import FakeChatModel, done, update

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing resolve names through it
    spec.loader.exec_module(module)
    return module


def sqlite_saver_installed() -> bool:
    return importlib.util.find_spec("langgraph.checkpoint.sqlite") is not None


def test_notebook_flow_debounces_and_injects_the_profile(tmp_path: Path) -> None:
    notebook = load("profile_notebook")
    clock = ManualClock()
    extractor = FakeChatModel(
        [[update("default", set={"name": "Alice Chen", "preferred_name": "Ali"})], [done()]]
    )
    model = FakeChatModel(["Hello!"], cycle=True)
    graph, machine, saver = notebook.build(model, extractor, tmp_path, clock=clock)
    assert saver == ("SqliteSaver" if sqlite_saver_installed() else "MemorySaver")
    notebook.chat(graph, "Hi! I'm Alice Chen.", "alice", "t1")
    notebook.chat(graph, "But please call me Ali.", "alice", "t1")
    assert "Hi! I'm Alice Chen." in model.calls[1].text  # the checkpointer kept thread t1
    clock.advance(60)
    machine.flush()
    assert len(extractor.calls) == 1  # two messages within the delay: one update
    assert "please call me Ali" in extractor.calls[0].text
    notebook.chat(graph, "What's my name?", "alice", "t2")
    assert "<user_profile>\nName: Alice Chen\nPreferred Name: Ali" in model.calls[-1].system
    assert "Alice Chen." not in model.calls[-1].prompt  # t2 is a new thread
    assert (tmp_path / "memories.db").exists()
    machine.shutdown()


def test_support_agent_custom_profile() -> None:
    support = load("support_agent")
    extractor = FakeChatModel(
        [
            [update("default", set={"company": "Acme", "plan": "pro", "expertise": "expert"})],
            [done()],
        ]
    )
    model = FakeChatModel(["ok"], cycle=True)
    agent, machine = support.build(model, extractor, InMemoryStore())
    support.ask(agent, "Acme here, pro plan, I know Kubernetes well", "sam", "s1")
    machine.flush()
    support.ask(agent, "Hi again", "sam", "s2")
    system = model.calls[-1].system
    assert system.startswith(support.INSTRUCTIONS)
    assert "Company: Acme\nPlan: pro\nExpertise: expert" in system
    profile = machine.profiles.get(user_id="sam")
    assert isinstance(profile, support.SupportProfile)
    machine.flush()
    assert len(extractor.calls) == 2  # one update per turn
    machine.shutdown()


@pytest.mark.parametrize("name", ["profile_notebook", "support_agent"])
def test_examples_run_as_scripts(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    load(name).main()
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert ("Preferred Name: Ali" if name == "profile_notebook" else "Company: Acme") in out.out
