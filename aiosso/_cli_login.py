"""``aiosso login`` and ``aiosso logout``."""

from __future__ import annotations

import argparse
from typing import TextIO

from aiosso._cli_accounts import resolve_session

__all__ = ["login_command", "logout_command"]


async def login_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Log in to the selected session (PKCE by default, device code on request or for legacy
    profiles); a fresh cached token is kept unless ``--force``."""
    import webbrowser

    from aiosso.login import login

    session, _ = await resolve_session(args)

    def prompt(message: str, url: str | None) -> None:
        err.write(message.rstrip("\n") + "\n")
        err.flush()

    def waiting() -> None:
        err.write(
            f"Another login for {session.display_name} is in progress; waiting for it to "
            "finish...\n"
        )
        err.flush()

    result = await login(
        session,
        use_device_code=args.use_device_code,
        open_browser=None if args.no_browser else webbrowser.open,
        on_prompt=prompt,
        on_wait=waiting,
        force=args.force,
        timeout=args.timeout,
    )
    until = result.token.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if result.reused:
        out.write(
            f"Already logged in to Start URL: {session.start_url} (token valid until {until}). "
            "Use --force to log in again.\n"
        )
    else:
        out.write(f"Successfully logged into Start URL: {session.start_url}\n")
    out.flush()
    return 0


async def logout_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """End one session (``--profile`` / ``--sso-session``) or all (``--all``): portal Logout,
    cached token(s), cached role credentials."""
    from aiosso.login import logout

    if args.all:
        result = await logout()
    else:
        session, config = await resolve_session(args)
        result = await logout(session, config=config)
    for warning in result.warnings:
        err.write(f"aiosso: warning: {warning}\n")
    if result.sessions:
        names = ", ".join(result.sessions)
        out.write(
            f"Logged out of {names}; removed {result.credentials_removed} cached role "
            "credential(s).\n"
        )
    else:
        out.write(
            f"No cached SSO token to remove; removed {result.credentials_removed} cached "
            "role credential(s).\n"
        )
    return 0
