"""The ``aiosso`` command.

Sub-commands:

* ``aiosso demo``: the main job on the built-in emulator (enumerate, fetch credentials,
  summarise).
* ``aiosso emulator``: serve the portal emulator in the foreground (``python -m
  aiosso.testing``).

Exit codes: 0 success, 1 failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aiosso._version import VERSION

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The top-level argument parser."""
    parser = argparse.ArgumentParser(
        prog="aiosso",
        description="An asyncio client for the AWS IAM Identity Center (SSO) portal API.",
    )
    parser.add_argument("--version", action="version", version=f"aiosso {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="enumerate a throttling emulated organisation and fetch credentials",
        description="Start the built-in portal emulator with a sizeable, throttling "
        "organisation, enumerate every account and role, fetch credentials for a sample "
        "through the single-flight cache, and print a summary.",
    )
    from aiosso import _demo

    _demo.add_arguments(demo)

    commands.add_parser(
        "emulator",
        help="serve the portal emulator until interrupted",
        add_help=False,
        description="Serve the local portal emulator (see 'aiosso emulator --help').",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["emulator"]:
        from aiosso.testing._cli import main as emulator_main

        return emulator_main(args_list[1:], prog="aiosso emulator")
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command == "demo":
        from aiosso import _demo

        return _demo.main(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
