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
        description="Runs retain's main job end to end. Uses the model named by RETAIN_MODEL "
        "(for example openai:gpt-4o-mini with OPENAI_API_KEY set).",
    )
    demo.add_argument("--model", help="a 'provider:model' string; overrides RETAIN_MODEL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from retain.cli.demo import run_demo

            return run_demo(model=args.model)
    except RetainError as e:
        print(f"retain: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("retain: interrupted", file=sys.stderr)
        return 130
    return 2
