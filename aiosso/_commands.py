"""Implementations of the ``aiosso`` sub-commands that use the user's AWS setup.

Each returns an exit code; :func:`run` maps aiosso's errors to exit codes and one-line
messages on stderr that say what to do next, and never print a secret.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Final, TextIO

from aiosso._credformat import render
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

if TYPE_CHECKING:
    from aiosso._rolecreds import RoleCredentials

__all__ = [
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_SERVICE",
    "EXIT_USAGE",
    "UsageError",
    "export_credentials",
    "login_target",
    "run",
]

EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_SERVICE: Final = 4


class UsageError(AioSSOError):
    """A command-line usage error found after parsing (exit code 2)."""

    fmt = "{error_msg}"


def _is_login_error(exc: BaseException) -> bool:
    # Looked up lazily: credential-process must not pay for importing the login flows, and a
    # LoginError can only exist once aiosso.login is imported.
    login = sys.modules.get("aiosso.login")
    return login is not None and isinstance(exc, login.LoginError)


def exit_code_for(exc: BaseException) -> int:
    """The exit code of an error: usage 2, log in again 3, service or network 4, else 1.

    A failed login (denied, expired, a bad browser callback) is 3 too: log in again.
    """
    if isinstance(exc, (InvalidConfigError, ProfileNotFound, ParamValidationError, UsageError)):
        return EXIT_USAGE
    if _is_login_error(exc):
        return EXIT_AUTH
    if isinstance(
        exc,
        (SSOTokenLoadError, UnauthorizedSSOTokenError, TokenRetrievalError, UnauthorizedException),
    ):
        return EXIT_AUTH
    if isinstance(exc, (ClientError, HTTPClientError)):
        return EXIT_SERVICE
    return EXIT_ERROR


def login_target(profile: str | None = None, sso_session: str | None = None) -> str:
    """The ``--profile X`` / ``--sso-session X`` options that name a session in advice."""
    if sso_session:
        return f" --sso-session {shlex.quote(sso_session)}"
    return f" --profile {shlex.quote(profile)}" if profile else ""


def _advice(exc: BaseException, profile: str | None, target: str | None = None) -> str:
    code = exit_code_for(exc)
    target = login_target(profile) if target is None else target
    if _is_login_error(exc):
        return (
            f"Try again: aiosso login{target} "
            "(on a machine without a browser, add --use-device-code)."
        )
    if code == EXIT_AUTH:
        return f"Log in again: aiosso login{target} (or aws sso login{target})."
    if code == EXIT_USAGE and isinstance(exc, (InvalidConfigError, ProfileNotFound)):
        return "Check the profile in your AWS config file (AWS_CONFIG_FILE or ~/.aws/config)."
    if isinstance(exc, CacheFileError):
        return "Check the permissions of the cache folder named above."
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        if code in ("ForbiddenException", "ResourceNotFoundException"):
            return (
                "Check the account id and role name: aiosso roles lists the roles you hold "
                "(a role assigned minutes ago may need a new login)."
            )
        if code == "TooManyRequestsException":
            return "The service is throttling requests: try again in a minute."
        if code in ("InvalidClientException", "InvalidClientMetadataException"):
            return (
                "SSO-OIDC rejected the client registration, a new one too: check the session's "
                f"sso_region and sso_start_url (and {_OIDC_VARIABLE}, if set)."
            )
    if isinstance(exc, HTTPClientError):
        return _network_advice(exc)
    return ""


_OIDC_VARIABLE: Final = "AWS_ENDPOINT_URL_SSO_OIDC"
_PORTAL_VARIABLE: Final = "AWS_ENDPOINT_URL_SSO"
_SERVICES: Final = {
    # service: (its endpoint, its own variable, the other service's variable and name)
    "oidc": (
        "SSO-OIDC endpoint (logging in, refreshing tokens)",
        _OIDC_VARIABLE,
        (_PORTAL_VARIABLE, "SSO portal"),
    ),
    "portal": (
        "SSO portal endpoint (accounts, roles, credentials)",
        _PORTAL_VARIABLE,
        (_OIDC_VARIABLE, "SSO-OIDC service"),
    ),
}


def failed_service(exc: HTTPClientError) -> str | None:
    """``"oidc"`` or ``"portal"``: the service whose endpoint *exc* could not reach, from the
    operation path ending the URL it names (``/token``, ``/assignment/accounts``...); ``None``
    when it names none."""
    from urllib.parse import urlsplit

    from aiosso._operations import OIDC_OPERATIONS, OPERATIONS

    url = exc.kwargs.get("endpoint_url")
    if not isinstance(url, str):
        return None
    path = urlsplit(url).path
    for service, operations in (("oidc", OIDC_OPERATIONS), ("portal", OPERATIONS)):
        if any(path.endswith(op.path) for op in operations.values()):
            return service
    return None


def _network_advice(exc: HTTPClientError) -> str:
    """What to check when an endpoint could not be reached: the variable that set *that*
    service's endpoint (its own, else ``AWS_ENDPOINT_URL``), or that none did."""
    import os

    service = failed_service(exc)
    if service is None:
        return (
            f"Check the network connection (and {_PORTAL_VARIABLE}, {_OIDC_VARIABLE} or "
            "AWS_ENDPOINT_URL, if set)."
        )
    what, own, others = _SERVICES[service]
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return (
            f"Check the network connection to the {what}; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS "
            f"is true, so {own} and AWS_ENDPOINT_URL are not used."
        )
    if os.environ.get(own):
        return f"Check the network connection and {own}, which sets the {what}."
    if os.environ.get("AWS_ENDPOINT_URL"):
        return (
            f"Check the network connection and AWS_ENDPOINT_URL, which sets the {what} "
            f"({own} would set it for this service alone)."
        )
    other, other_name = others
    also = f" ({other} is, but applies to the {other_name} only)" if os.environ.get(other) else ""
    return (
        f"Check the network connection to the {what}: AWS's own for the session's region, "
        f"since {own} is not set{also}. Set {own} to use another endpoint."
    )


def run(
    work: Callable[[], Coroutine[None, None, int]],
    *,
    profile: str | None = None,
    target: str | None = None,
    err: TextIO | None = None,
) -> int:
    """Run a command's coroutine; errors become a message on stderr and an exit code.

    *target* (e.g. ``" --sso-session dev"``, see :func:`login_target`) names the session in
    the advice; by default it is ``--profile`` *profile*.
    """
    import asyncio

    err = sys.stderr if err is None else err
    try:
        return asyncio.run(work())
    except KeyboardInterrupt:
        err.write("aiosso: interrupted\n")
        return 130
    except AioSSOError as exc:
        # aiosso's messages never contain tokens or secret keys.
        advice = _advice(exc, profile, target)
        err.write(f"aiosso: error: {exc}\n" + (f"{advice}\n" if advice else ""))
        return exit_code_for(exc)


def format_credentials(creds: RoleCredentials, fmt: str) -> str:
    """Credentials as ``env`` (export lines), ``json`` or ``credential-process`` text."""
    return render(creds.to_credential_process(), creds.to_env(), fmt)


async def export_credentials(args: argparse.Namespace, out: TextIO) -> int:
    """``aiosso credential-process`` / ``aiosso export``: credentials of a profile."""
    from aiosso.profiles import credentials_for_profile

    creds = await credentials_for_profile(args.profile, use_cache=not args.no_cache)
    out.write(format_credentials(creds, args.format))
    out.flush()
    return 0
