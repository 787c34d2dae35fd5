"""``retain demo`` run several times with the default embedded model: passes and story time.

Each run is a fresh process (``python -m retain.cli demo --path <tmp>/run-N.db``), as a user
starts it, so its time includes starting Python and loading the models from the local cache
(not installing them); the weights must be installed and assembled already (one
``retain demo`` first). A run passes when it exits 0: every fact the user told is stored
and current, no superseded fact is current, and the final answer is right (the demo's own
checks, :mod:`retain.cli.demo_story`). Printed: one line per run (exit code, seconds, the
demo's check lines), then a Markdown table with the load average before and after each run
(the machine is shared; latencies are only comparable at similar load).

Run:  flock /tmp/retain-heavy.lock env OMP_WAIT_POLICY=PASSIVE \\
      .venv/bin/python benchmarks/demo_runs.py [--runs 3] [--model local:qwen2.5-1.5b]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def run_once(index: int, folder: Path, model: str | None, timeout: float) -> dict[str, Any]:
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    command = [
        sys.executable,
        "-m",
        "retain.cli",
        "demo",
        "--path",
        str(folder / f"run-{index}.db"),
    ]
    if model:
        command += ["--model", model]
    before = _load()
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as e:
        code, output = -1, f"timed out after {timeout:.0f} s\n{e.stdout or ''}"
    seconds = time.perf_counter() - started
    checks = [line for line in output.splitlines() if line.startswith(("check:", "the story"))]
    return {
        "run": index,
        "exit": code,
        "passed": code == 0,
        "seconds": round(seconds, 1),
        "load_before": before,
        "load_after": _load(),
        "checks": checks,
        "output": output,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default=None, help="default: the demo's default model")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--keep-output", type=Path, default=None, help="write each run's output")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="retain-demo-runs-") as tmp:
        for index in range(1, args.runs + 1):
            result = run_once(index, Path(tmp), args.model, args.timeout)
            results.append(result)
            print(
                f"run {index}: exit {result['exit']}, {result['seconds']:.1f} s, load "
                f"{result['load_before']} -> {result['load_after']}",
                flush=True,
            )
            for line in result["checks"]:
                print(f"  {line}", flush=True)
            if args.keep_output:
                args.keep_output.mkdir(parents=True, exist_ok=True)
                (args.keep_output / f"run-{index}.txt").write_text(result["output"])
    passed = sum(r["passed"] for r in results)
    print(f"\n{passed}/{len(results)} runs passed\n")
    print("| run | passed | story s | load avg before | load avg after |")
    print("|---:|---|---:|---|---|")
    for r in results:
        print(
            f"| {r['run']} | {'yes' if r['passed'] else 'no'} | {r['seconds']:.1f} | "
            f"{r['load_before']} | {r['load_after']} |"
        )
    if args.json:
        args.json.write_text(json.dumps([{**r, "output": None} for r in results], indent=2))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
