"""The ``aiosso`` command.

Sub-commands:

* ``aiosso demo``: the main job on the built-in emulator (enumerate, fetch credentials,
  summarise).
* ``aiosso emulator``: serve the portal emulator in the foreground (``python -m
  aiosso.testing``).
* ``aiosso credential-process --profile X``: the ``Version: 1`` JSON a profile's
  ``credential_process`` expects, for any AWS SDK or the AWS CLI.
* ``aiosso export --profile X --format env|json|credential-process``: the same credentials
  for a shell or a tool.

Exit codes: 0 success, 1 unexpected failure, 2 usage or configuration error, 3 log in again
(no token, expired or revoked session), 4 the service or the network failed.
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

    process = commands.add_parser(
        "credential-process",
        help="print a profile's credentials for credential_process",
        description="Print the JSON a profile's credential_process must print (Version 1), "
        "from the SSO session of the profile. Use it in ~/.aws/config as: "
        "credential_process = aiosso credential-process --profile NAME",
    )
    _profile_options(process)
    process.set_defaults(format="credential-process")

    export = commands.add_parser(
        "export",
        help="print a profile's credentials as env, json or credential-process",
        description="Print the role credentials of an SSO profile.",
    )
    _profile_options(export)
    export.add_argument(
        "--format",
        choices=("env", "env-no-export", "json", "credential-process"),
        default="env",
        help="output format (default env: export lines for a POSIX shell)",
    )

    commands.add_parser(
        "emulator",
        help="serve the portal emulator until interrupted",
        add_help=False,
        description="Serve the local portal emulator (see 'aiosso emulator --help').",
    )
    return parser


def _profile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", help="the AWS config profile (default: AWS_PROFILE, then 'default')"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="do not read or write the AWS CLI's role-credential cache (~/.aws/cli/cache)",
    )


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
    if args.command in ("credential-process", "export"):
        from aiosso import _commands

        return _commands.run(
            lambda: _commands.export_credentials(args, sys.stdout), profile=args.profile
        )
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
