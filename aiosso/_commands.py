"""Implementations of the ``aiosso`` sub-commands that use the user's AWS setup.

Each returns an exit code; :func:`run` maps aiosso's errors to exit codes and one-line
messages on stderr that say what to do next, and never print a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from collections.abc import Callable, Coroutine
from typing import Final, TextIO

from aiosso.credentials import RoleCredentials
from aiosso.exceptions import (
    AioSSOError,
    CacheFileError,
    ClientError,
    HTTPClientError,
    InvalidConfigError,
    ParamValidationError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedException,
    UnauthorizedSSOTokenError,
)

__all__ = ["EXIT_AUTH", "EXIT_ERROR", "EXIT_SERVICE", "EXIT_USAGE", "export_credentials", "run"]

EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_SERVICE: Final = 4


def exit_code_for(exc: BaseException) -> int:
    """The exit code of an error: usage 2, log in again 3, service or network 4, else 1."""
    if isinstance(exc, (InvalidConfigError, ProfileNotFound, ParamValidationError)):
        return EXIT_USAGE
    if isinstance(
        exc,
        (SSOTokenLoadError, UnauthorizedSSOTokenError, TokenRetrievalError, UnauthorizedException),
    ):
        return EXIT_AUTH
    if isinstance(exc, (ClientError, HTTPClientError)):
        return EXIT_SERVICE
    return EXIT_ERROR


def _advice(exc: BaseException, profile: str | None) -> str:
    code = exit_code_for(exc)
    target = f" --profile {shlex.quote(profile)}" if profile else ""
    if code == EXIT_AUTH:
        return f"Log in again: aiosso login{target} (or aws sso login{target})."
    if code == EXIT_USAGE and isinstance(exc, (InvalidConfigError, ProfileNotFound)):
        return "Check the profile in your AWS config file (AWS_CONFIG_FILE or ~/.aws/config)."
    if isinstance(exc, CacheFileError):
        return "Check the permissions of the cache folder named above."
    return ""


def run(
    work: Callable[[], Coroutine[None, None, int]],
    *,
    profile: str | None = None,
    err: TextIO | None = None,
) -> int:
    """Run a command's coroutine; errors become a message on stderr and an exit code."""
    err = sys.stderr if err is None else err
    try:
        return asyncio.run(work())
    except KeyboardInterrupt:
        err.write("aiosso: interrupted\n")
        return 130
    except AioSSOError as exc:
        # aiosso's messages never contain tokens or secret keys.
        advice = _advice(exc, profile)
        err.write(f"aiosso: error: {exc}\n" + (f"{advice}\n" if advice else ""))
        return exit_code_for(exc)


def format_credentials(creds: RoleCredentials, fmt: str) -> str:
    """Credentials as ``env`` (export lines), ``json`` or ``credential-process`` text."""
    if fmt == "env":
        return "".join(
            f"export {name}={shlex.quote(value)}\n" for name, value in creds.to_env().items()
        )
    if fmt == "env-no-export":
        return "".join(f"{name}={shlex.quote(value)}\n" for name, value in creds.to_env().items())
    document = creds.to_credential_process()
    if fmt == "json":
        document = {key: value for key, value in document.items() if key != "Version"}
    return json.dumps(document, indent=2) + "\n"


async def export_credentials(args: argparse.Namespace, out: TextIO) -> int:
    """``aiosso credential-process`` / ``aiosso export``: credentials of a profile."""
    from aiosso.profiles import credentials_for_profile

    creds = await credentials_for_profile(args.profile, use_cache=not args.no_cache)
    out.write(format_credentials(creds, args.format))
    out.flush()
    return 0
