"""The ``aiosso`` command.

Sub-commands:

* ``aiosso login [--profile X | --sso-session NAME] [--use-device-code] [--no-browser]
  [--force]``: log in (PKCE in a browser on this machine, or a device code for any device)
  and write the token to the AWS CLI's cache; concurrent logins for a session wait for one.
* ``aiosso logout [--profile X | --sso-session NAME | --all]``: end the portal session and
  remove the cached token and role credentials.
* ``aiosso accounts`` / ``aiosso roles [--account ID]`` (``--output table|json|csv``): what
  the session's user can access (a progress bar on stderr when it is a terminal).
* ``aiosso credentials --account ID --role NAME [--format env|json|credential-process]
  [--no-cache]``: through the AWS CLI's role-credential cache, as ``export``.
* ``aiosso config generate [--template T] [--region R] [--write] [--force]``: a profile for
  every account/role, printed or added to the config file (existing profiles kept).
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
from collections.abc import Callable, Coroutine, Sequence

from aiosso._version import VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

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

    for name in _CREDENTIAL_COMMANDS:
        _add_credentials_command(commands.add_parser, name)

    _add_everyday_commands(commands)

    commands.add_parser(
        "emulator",
        help="serve the portal emulator until interrupted",
        add_help=False,
        description="Serve the local portal emulator (see 'aiosso emulator --help').",
    )
    return parser


def _add_everyday_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aiosso._cli_accounts import (
        DEFAULT_TEMPLATE,
        TEMPLATE_FIELDS,
        account_id,
        add_output_option,
        add_session_options,
    )

    login = commands.add_parser(
        "login",
        help="log in to an SSO session and cache the token (shared with the AWS CLI)",
        description="Log in to IAM Identity Center and write the token to ~/.aws/sso/cache, "
        "where aws, botocore and aiosso find it. By default (sso-session) the login page "
        "opens in a browser on this machine; --use-device-code shows a URL and code to "
        "approve on any device (SSH, containers, WSL). A second login for the same session "
        "waits for the first and then reuses its token.",
    )
    add_session_options(login)
    login.add_argument(
        "--use-device-code",
        action="store_true",
        help="use the device-code flow (approve on any device); always used for legacy "
        "profiles without sso_session",
    )
    login.add_argument(
        "--no-browser", action="store_true", help="do not open a browser; print the URL only"
    )
    login.add_argument(
        "--force",
        action="store_true",
        help="log in even if a token with more than 15 minutes left is cached",
    )
    login.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds to wait for the approval (default 600)",
    )

    from aiosso._cli_broker import add_exec_arguments, add_serve_arguments

    add_exec_arguments(
        commands.add_parser(
            "exec",
            help="run a command with a profile's credentials, refreshed for as long as it runs",
            description="Run CMD with a local credential endpoint for the profile "
            "(AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN), from "
            "which every AWS SDK fetches the role's credentials and fresh ones before they "
            "expire, however long CMD runs. With --env, plain variables instead (they expire "
            "with the credentials, as `aiosso export` gives them). Signals go to CMD; the exit "
            "code is CMD's. Usage: aiosso exec --profile NAME [--env] [--] CMD [ARGS...]",
        )
    )
    add_serve_arguments(
        commands.add_parser(
            "serve",
            help="serve profiles' credentials to local processes and containers",
            description="Serve the credentials of each --profile at /credentials/NAME on "
            "127.0.0.1, in the format the AWS SDKs' container provider reads, until "
            "interrupted; print the variables to export.",
        )
    )

    logout = commands.add_parser(
        "logout",
        help="end an SSO session and remove its cached token and role credentials",
        description="Call the portal's Logout, remove the cached SSO token and the cached role "
        "credentials (~/.aws/cli/cache). --all does this for every cached token and removes "
        "every SSO role-credential entry, as aws sso logout does.",
    )
    target = logout.add_mutually_exclusive_group()
    target.add_argument("--profile", help="the profile whose SSO session ends")
    target.add_argument("--sso-session", help="the [sso-session NAME] that ends")
    target.add_argument("--all", action="store_true", help="every cached SSO session")

    accounts = commands.add_parser(
        "accounts",
        help="list the accounts you can access",
        description="List the AWS accounts the session's user can access, sorted by name.",
    )
    add_session_options(accounts)
    add_output_option(accounts)

    roles = commands.add_parser(
        "roles",
        help="list the roles you hold in every account (or one)",
        description="List every (account, role) the session's user holds, sorted by account "
        "then role. All accounts are listed concurrently, with a progress bar on stderr when "
        "it is a terminal.",
    )
    add_session_options(roles)
    add_output_option(roles)
    roles.add_argument("--account", type=account_id, help="only this 12-digit account id")

    credentials = commands.add_parser(
        "credentials",
        help="print a role's credentials",
        description="Print short-term credentials of a role in an account (this command "
        "prints secrets: it exists to). Like export and credential-process, and like the AWS "
        "CLI, it shares them through ~/.aws/cli/cache under the AWS CLI's key (the session "
        "name, else the start URL, with the account and the role): cached credentials with "
        "more than 15 minutes left are printed without a request, fetched ones are written "
        "there. --no-cache fetches new ones and leaves the cache alone.",
    )
    add_session_options(credentials)
    credentials.add_argument(
        "--account", required=True, type=account_id, help="the 12-digit account id"
    )
    credentials.add_argument("--role", required=True, help="the role (permission set) name")
    credentials.add_argument(
        "--format",
        choices=("env", "env-no-export", "json", "credential-process"),
        default="env",
        help="output format (default env: export lines for a POSIX shell)",
    )
    credentials.add_argument(
        "--no-cache",
        action="store_true",
        help="fetch new credentials; do not read or write the AWS CLI's role-credential "
        "cache (~/.aws/cli/cache)",
    )

    config = commands.add_parser(
        "config", help="generate ~/.aws/config profiles", description="AWS config file tools."
    )
    config_commands = config.add_subparsers(dest="config_command", metavar="COMMAND")
    generate = config_commands.add_parser(
        "generate",
        help="a profile for every account/role you hold",
        description="Print (default) or add (--write) a [profile NAME] section for every "
        "account/role the session's user holds. Existing profiles are never changed "
        "without --force; the rest of the file is kept byte for byte, and the file is "
        "replaced atomically.",
    )
    add_session_options(generate)
    fields = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
    generate.add_argument(
        "--template",
        default=DEFAULT_TEMPLATE,
        help=f"profile name template (default {DEFAULT_TEMPLATE!r}; fields {fields}); "
        "characters other than A-Za-z0-9._- become '-'",
    )
    generate.add_argument("--region", help="the region= of the generated profiles")
    generate.add_argument("--write", action="store_true", help="add them to the config file")
    generate.add_argument("--force", action="store_true", help="replace existing profiles")
    generate.add_argument(
        "--config-file", help="the config file (default AWS_CONFIG_FILE or ~/.aws/config)"
    )


_CREDENTIAL_COMMANDS = ("credential-process", "export")


def _add_credentials_command(
    add: Callable[..., argparse.ArgumentParser], name: str
) -> argparse.ArgumentParser:
    """Define ``credential-process`` or ``export`` with ``add(name, **kwargs)``: a sub-parser
    of the full parser, or a parser of its own (the quick path of :func:`main`)."""
    if name == "credential-process":
        parser = add(
            name,
            help="print a profile's credentials for credential_process",
            description="Print the JSON a profile's credential_process must print "
            "(Version 1), from the SSO session of the profile. Use it in ~/.aws/config as: "
            "credential_process = aiosso credential-process --profile NAME",
        )
        _profile_options(parser)
        parser.set_defaults(format="credential-process")
        return parser
    parser = add(
        name,
        help="print a profile's credentials as env, json or credential-process",
        description="Print the role credentials of an SSO profile.",
    )
    _profile_options(parser)
    parser.add_argument(
        "--format",
        choices=("env", "env-no-export", "json", "credential-process"),
        default="env",
        help="output format (default env: export lines for a POSIX shell)",
    )
    return parser


def _standalone(name: str, **kwargs: object) -> argparse.ArgumentParser:
    kwargs.pop("help", None)
    return argparse.ArgumentParser(prog=f"aiosso {name}", **kwargs)  # type: ignore[arg-type]


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
    if args_list[:1] and args_list[0] in _CREDENTIAL_COMMANDS:
        # What every AWS SDK runs, again and again: parsed on its own, without the full
        # parser's imports, and answered from the AWS CLI's cache without an event loop.
        command = args_list[0]
        args = _add_credentials_command(_standalone, command).parse_args(args_list[1:])
        args.command = command
        if not args.no_cache and _answer_from_cache(args):
            return 0
        from aiosso import _commands

        return _commands.run(
            lambda: _commands.export_credentials(args, sys.stdout), profile=args.profile
        )
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command == "demo":
        from aiosso import _demo

        return _demo.main(args)
    everyday = _everyday_command(args)
    if everyday is not None:
        from aiosso import _commands
        from aiosso._cli_accounts import session_target

        out, err = sys.stdout, sys.stderr
        return _commands.run(lambda: everyday(args, out, err), target=session_target(args))
    if args.command == "config":
        sys.stderr.write("usage: aiosso config generate [options] (see aiosso config --help)\n")
        return 2
    parser.print_help(sys.stderr)
    return 2


def _answer_from_cache(args: argparse.Namespace) -> bool:
    """Print the profile's credentials if the AWS CLI's cache holds usable ones.

    The common case of ``credential_process``, run by every AWS SDK again and again: no event
    loop, no aiohttp, no attrs (see :mod:`aiosso._quick`). Anything else (a miss, an error)
    goes the full way, which reports it.
    """
    from aiosso._quick import cached_output

    output = cached_output(args.profile, args.format)
    if output is None:
        return False
    sys.stdout.write(output)
    sys.stdout.flush()
    return True


def _everyday_command(
    args: argparse.Namespace,
) -> Callable[[argparse.Namespace, TextIO, TextIO], Coroutine[None, None, int]] | None:
    from aiosso import _cli_accounts, _cli_broker, _cli_login

    if args.command == "config":
        return _cli_accounts.config_generate_command if args.config_command else None
    return {
        "login": _cli_login.login_command,
        "logout": _cli_login.logout_command,
        "accounts": _cli_accounts.accounts_command,
        "roles": _cli_accounts.roles_command,
        "credentials": _cli_accounts.credentials_command,
        "exec": _cli_broker.exec_command,
        "serve": _cli_broker.serve_command,
    }.get(args.command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
