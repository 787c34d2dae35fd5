"""The documentation's examples run: docstring examples and Markdown code blocks.

* Every ``>>>`` example in a docstring of a ``retain`` module runs as a doctest.
* Every fenced ```` ```python ```` block in ``README.md`` and ``docs/*.md`` runs, top to
  bottom, the blocks of one file sharing a namespace like a notebook. Blocks that need a
  hosted model or a key are fenced ```` ```python no-run ````; they must still compile.

Network access is blocked (retain's pytest plugin), so an example that quietly reaches
for a real model fails here. Background work an example starts (a ``ReflectionExecutor``,
a ``LearningMachine``) is finished as the example's script would finish it at exit, and
any failure it logs fails the example's test: a traceback printed by a background thread
is a broken example even when the script exits 0.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import logging
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import retain

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@contextlib.contextmanager
def _background_work_must_succeed(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Finish the background runners started inside (as interpreter exit does) and fail
    on any error retain logged meanwhile, from any thread."""
    from retain.background.runner import live_runners

    before = live_runners()
    with caplog.at_level(logging.ERROR, logger="retain"):
        try:
            yield
        finally:
            for runner in live_runners() - before:
                runner.shutdown(wait=True)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, "background work failed: " + "; ".join(
        f"{r.name}: {r.getMessage()}" for r in failures
    )


def _modules() -> list[str]:
    names = ["retain"]
    for info in pkgutil.walk_packages(retain.__path__, "retain."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


def _doctest_modules() -> list[str]:
    found = []
    for name in _modules():
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional extra that is not installed: nothing to run
            continue
        if any(t.examples for t in doctest.DocTestFinder().find(module)):
            found.append(name)
    return found


@pytest.mark.parametrize("module_name", _doctest_modules())
def test_docstring_examples(module_name: str, caplog: pytest.LogCaptureFixture) -> None:
    module = importlib.import_module(module_name)
    with _background_work_must_succeed(caplog):
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module_name}"


def test_some_docstring_examples_exist() -> None:
    assert len(_doctest_modules()) >= 3


def _blocks(path: Path) -> list[tuple[str, str, int]]:
    text = path.read_text()
    return [
        (m.group(1).strip(), m.group(2), text.count("\n", 0, m.start()) + 2)
        for m in FENCE.finditer(text)
    ]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_examples(
    path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocks = _blocks(path)
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    with _background_work_must_succeed(caplog):
        for info, code, line in blocks:
            compiled = compile(code, f"{path.name}:{line}", "exec", dont_inherit=True)
            if info == "no-run":
                continue
            assert info == "", f"{path.name}:{line}: unknown fence info {info!r}"
            exec(compiled, namespace)


def test_quickstart_exists_and_has_runnable_examples() -> None:
    quickstart = ROOT / "docs" / "quickstart.md"
    runnable = [b for b in _blocks(quickstart) if b[0] == ""]
    assert len(runnable) >= 4
