"""The everyday ``aiosso`` commands: ``accounts``, ``roles``, ``credentials``, ``config
generate``.

Each takes the token of one SSO session (``--profile`` or ``--sso-session``, through
:class:`~aiosso.tokens.SSOTokenProvider`, so a token due for refresh is refreshed and written
back) and talks to the portal. Listings are sorted (account name, account id, role name) so
the output is stable; ``--output`` is ``table`` (default), ``json`` (a list of objects with
botocore's member names) or ``csv`` (with a header). Only ``credentials`` prints secrets: it
exists to; like ``export``, it goes through the AWS CLI's role-credential cache. An
``--account`` is checked (12 digits) before anything is sent.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from aiosso._commands import UsageError, exit_code_for, format_credentials
from aiosso._filecache import make_private_dirs
from aiosso._progress import ProgressBar
from aiosso.awsconfig import (
    AWSConfig,
    SSOSession,
    config_file_path,
    load_config_async,
    parse_config,
    resolve_profile_session,
    resolve_sso_session,
)
from aiosso.exceptions import (
    InvalidConfigError,
    ProfileNotFound,
    UnauthorizedException,
    UnauthorizedSSOTokenError,
)

if TYPE_CHECKING:
    from aiosso._fanout import AccountFailure, FanOutProgress
    from aiosso.client import AsyncSSOClient

__all__ = [
    "account_id",
    "accounts_command",
    "add_output_option",
    "add_session_options",
    "config_generate_command",
    "credentials_command",
    "render",
    "resolve_session",
    "roles_command",
]

ACCOUNT_COLUMNS: Final = (
    ("accountId", "ACCOUNT ID"),
    ("accountName", "NAME"),
    ("emailAddress", "EMAIL"),
)
ROLE_COLUMNS: Final = (
    ("accountId", "ACCOUNT ID"),
    ("accountName", "ACCOUNT NAME"),
    ("roleName", "ROLE"),
)
DEFAULT_TEMPLATE: Final = "{account_name}-{role_name}"
TEMPLATE_FIELDS: Final = ("account_name", "account_id", "role_name", "session_name")


# -- options ------------------------------------------------------------------------------


def add_session_options(parser: argparse.ArgumentParser) -> None:
    """``--profile`` / ``--sso-session`` (mutually exclusive)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--profile",
        help="use the SSO session of this profile (default: AWS_PROFILE, then 'default', "
        "then the only sso-session of the config file)",
    )
    group.add_argument("--sso-session", help="use this [sso-session NAME] of the config file")


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """``--output table|json|csv``."""
    parser.add_argument(
        "--output",
        choices=("table", "json", "csv"),
        default="table",
        help="output format (default table; json is a list of objects; csv has a header)",
    )


_ACCOUNT_ID: Final = re.compile(r"[0-9]{12}")


def account_id(value: str) -> str:
    """An ``--account`` value, checked before anything is sent: 12 digits (the dashes the
    console shows, ``1234-5678-9012``, are dropped)."""
    digits = value.strip().replace("-", "")
    if not _ACCOUNT_ID.fullmatch(digits):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an AWS account id (12 digits, e.g. 123456789012)"
        )
    return digits


def session_target(args: argparse.Namespace) -> str:
    """The options that name the session again, for advice messages."""
    from aiosso._commands import login_target

    profile = getattr(args, "profile", None)
    profiles = set(getattr(args, "profiles", None) or ())  # serve's repeatable --profile
    if profile is None and len(profiles) == 1:
        profile = profiles.pop()
    return login_target(profile, getattr(args, "sso_session", None))


async def resolve_session(
    args: argparse.Namespace, config_file: str | os.PathLike[str] | None = None
) -> tuple[SSOSession, AWSConfig]:
    """The session the options select, and the config it comes from.

    Without ``--profile`` / ``--sso-session``: the profile of ``AWS_PROFILE`` (or ``default``);
    if there is none and the config file has exactly one sso-session (and no profile was
    asked for by the environment), that session.

    Raises:
        ProfileNotFound, InvalidConfigError: the named profile or session is unusable.
        UsageError: nothing selects a session.
    """
    config = await load_config_async(config_file)
    sso_session = getattr(args, "sso_session", None)
    profile = getattr(args, "profile", None)
    if sso_session:
        return resolve_sso_session(config, sso_session), config
    if profile:
        return resolve_profile_session(config, profile), config
    try:
        return resolve_profile_session(config, None), config
    except (ProfileNotFound, InvalidConfigError) as exc:
        from_env = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        if from_env:
            raise
        sessions = sorted(config.sso_sessions)
        if len(sessions) == 1:
            return resolve_sso_session(config, sessions[0]), config
        listed = f" (sso-sessions in {config.path}: {', '.join(sessions)})" if sessions else ""
        raise UsageError(
            error_msg=f"No SSO session selected: {exc}. Name one with --profile NAME or "
            f"--sso-session NAME{listed}."
        ) from None


@contextlib.asynccontextmanager
async def _portal(session: SSOSession) -> AsyncIterator[tuple[AsyncSSOClient, str]]:
    """A portal client and the session's access token; a rejected token means log in."""
    from aiosso.client import AsyncSSOClient
    from aiosso.tokens import SSOTokenProvider

    async with SSOTokenProvider(session) as provider:
        token = await provider.get_token()
    async with AsyncSSOClient(session.sso_region) as sso:
        try:
            yield sso, token.access_token
        except UnauthorizedException:
            raise UnauthorizedSSOTokenError() from None


# -- output -------------------------------------------------------------------------------


def render(rows: Sequence[Mapping[str, str]], columns: Sequence[tuple[str, str]], fmt: str) -> str:
    """*rows* as an aligned ``table``, ``json`` (a list of objects) or ``csv`` text."""
    keys = [key for key, _ in columns]
    if fmt == "json":
        return json.dumps([{k: row.get(k, "") for k in keys} for row in rows], indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(keys)
        writer.writerows([row.get(k, "") for k in keys] for row in rows)
        return buffer.getvalue()
    table = [[title for _, title in columns]]
    table += [[_cell(row.get(k, "")) for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in table
    )


def _cell(value: str) -> str:
    return "".join(c if c.isprintable() else " " for c in value)


def _account_sort_key(row: Mapping[str, str]) -> tuple[str, str, str]:
    return (
        row.get("accountName", "").casefold(),
        row.get("accountId", ""),
        row.get("roleName", ""),
    )


# -- commands -----------------------------------------------------------------------------


async def accounts_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``aiosso accounts``: the accounts the session's user may access."""
    session, _ = await resolve_session(args)
    async with _portal(session) as (sso, token):
        rows = [
            {
                "accountId": a.get("accountId", ""),
                "accountName": a.get("accountName", ""),
                "emailAddress": a.get("emailAddress", ""),
            }
            async for a in sso.iter_accounts(accessToken=token)
        ]
    rows.sort(key=_account_sort_key)
    out.write(render(rows, ACCOUNT_COLUMNS, args.output))
    return 0


async def _role_rows(
    sso: AsyncSSOClient, token: str, account: str | None, err: TextIO
) -> tuple[list[dict[str, str]], list[AccountFailure]]:
    """Every (account, role) the user holds, or one account's roles, with a progress bar on
    a terminal."""
    failures: list[AccountFailure] = []
    rows: list[dict[str, str]] = []
    if account is not None:
        names = {
            a["accountId"]: a.get("accountName", "")
            async for a in sso.iter_accounts(accessToken=token)
        }
        if account not in names:
            raise UsageError(
                error_msg=f"Account {account} is not one this session can access "
                "(aiosso accounts lists them)."
            )
        paginator = sso.get_paginator("list_account_roles")
        async for page in paginator.paginate(accessToken=token, accountId=account):
            for role in page.get("roleList", []):
                rows.append(
                    {
                        "accountId": account,
                        "accountName": names[account],
                        "roleName": role.get("roleName", ""),
                    }
                )
        return rows, failures
    bar = ProgressBar("Listing roles", stream=err)

    def on_progress(p: FanOutProgress) -> None:
        # Until every account is listed, the accounts seen so far are only a lower bound.
        bar.update(
            p.accounts_done,
            p.accounts_seen,
            f"accounts  {p.roles} roles",
            at_least=not p.listing_done,
        )

    try:
        async for acct, role in sso.iter_account_roles(
            accessToken=token, failures=failures, progress=on_progress
        ):
            rows.append(
                {
                    "accountId": acct.get("accountId", ""),
                    "accountName": acct.get("accountName", ""),
                    "roleName": role.get("roleName", ""),
                }
            )
        done = len({row["accountId"] for row in rows}) + len(failures)
        bar.update(done, done, f"accounts  {len(rows)} roles", force=True)
    finally:
        bar.close()
    return rows, failures


async def roles_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``aiosso roles [--account ID]``: the roles the session's user holds."""
    session, _ = await resolve_session(args)
    async with _portal(session) as (sso, token):
        rows, failures = await _role_rows(sso, token, args.account, err)
    rows.sort(key=_account_sort_key)
    out.write(render(rows, ROLE_COLUMNS, args.output))
    return _report_failures(failures, err)


def _report_failures(failures: Sequence[AccountFailure], err: TextIO) -> int:
    if not failures:
        return 0
    for failure in failures:
        err.write(
            f"aiosso: warning: the roles of account {failure.account.get('accountId')} could "
            f"not be listed: {failure.error}\n"
        )
    err.write(f"aiosso: error: {len(failures)} account(s) missing from the output above.\n")
    return max(exit_code_for(f.error) for f in failures)


async def credentials_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``aiosso credentials --account ID --role NAME``: a role's credentials (printed: this
    command exists to print them), through the AWS CLI's role-credential cache as ``export``
    and ``credential-process`` (same key: the session, the account and the role) unless
    ``--no-cache``."""
    from aiosso.awsconfig import SSOProfile
    from aiosso.profiles import credentials_for_sso_profile

    session, _ = await resolve_session(args)
    profile = SSOProfile(
        profile_name=args.profile or session.display_name,
        session=session,
        account_id=args.account,
        role_name=args.role,
    )
    creds = await credentials_for_sso_profile(profile, use_cache=not args.no_cache)
    out.write(format_credentials(creds, args.format))
    out.flush()
    return 0


# -- config generate ----------------------------------------------------------------------

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")
_HEADER: Final = re.compile(r"\[(?P<header>.+)\]")


def sanitise_profile_name(name: str) -> str:
    """A profile name safe in ``[profile NAME]`` and on a command line: runs of characters
    other than ``A-Za-z0-9._-`` become ``-``; leading and trailing ``-``/``.`` are dropped."""
    return _UNSAFE.sub("-", name).strip("-.")


def _profile_names(
    pairs: Sequence[Mapping[str, str]], template: str, session: SSOSession
) -> list[str]:
    names: list[str] = []
    for pair in pairs:
        fields = {
            "account_name": pair["accountName"],
            "account_id": pair["accountId"],
            "role_name": pair["roleName"],
            "session_name": session.session_name or "",
        }
        try:
            raw = template.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            allowed = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
            raise UsageError(
                error_msg=f"--template {template!r} is not usable ({type(exc).__name__}: "
                f"{exc}); use the fields {allowed}"
            ) from None
        names.append(sanitise_profile_name(raw) or f"{pair['accountId']}-{pair['roleName']}")
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    unique: list[str] = []
    taken: set[str] = set()
    for name, pair in zip(names, pairs, strict=True):
        if counts[name] > 1:  # e.g. two accounts with the same name: add the account id
            name = sanitise_profile_name(f"{name}-{pair['accountId']}")
        base, n = name, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        unique.append(name)
    return unique


def _profile_block(
    name: str, pair: Mapping[str, str], session: SSOSession, region: str | None, nl: str
) -> str:
    lines = [f"[profile {name}]"]
    if session.session_name is not None:
        lines.append(f"sso_session = {session.session_name}")
    else:
        lines += [f"sso_start_url = {session.start_url}", f"sso_region = {session.sso_region}"]
    lines += [f"sso_account_id = {pair['accountId']}", f"sso_role_name = {pair['roleName']}"]
    if region:
        lines.append(f"region = {region}")
    return nl.join(lines) + nl


def _profile_of_header(header: str) -> str | None:
    from aiosso.awsconfig import parse_config

    if header == "default":
        return "default"
    if not header.startswith("profile"):
        return None
    profiles = parse_config(f"[{header}]\n").profiles
    return next(iter(profiles), None)


def _sections(text: str) -> list[tuple[str | None, int, int]]:
    """``(profile name or None, start, end)`` character spans of the file's sections; the end
    excludes trailing blank and comment lines (they belong to what follows)."""
    lines = text.splitlines(keepends=True)
    starts: list[tuple[int, str | None]] = []
    offsets: list[int] = []
    position = 0
    for line in lines:
        offsets.append(position)
        if line[:1] not in (" ", "\t"):
            match = _HEADER.match(line.strip())
            if match:
                starts.append((len(offsets) - 1, _profile_of_header(match["header"].strip())))
        position += len(line)
    offsets.append(position)
    spans: list[tuple[str | None, int, int]] = []
    for index, (first, name) in enumerate(starts):
        last = starts[index + 1][0] if index + 1 < len(starts) else len(lines)
        while last - 1 > first and lines[last - 1].strip()[:1] in ("", "#", ";"):
            last -= 1
        spans.append((name, offsets[first], offsets[last]))
    return spans


def _write_atomically(path: Path, data: bytes) -> None:
    make_private_dirs(path.parent)  # 0700 whatever the umask, as the caches
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def generate_config_text(
    text: str,
    pairs: Sequence[Mapping[str, str]],
    *,
    session: SSOSession,
    existing: set[str],
    template: str,
    region: str | None,
    force: bool,
    replaceable: set[str] | None = None,
) -> tuple[str, list[str], list[str], list[str], str]:
    """The new config text: ``(text, added, replaced, skipped, printed blocks)``.

    New profiles are appended; existing ones are skipped, or with *force* replaced in place
    when they are in *text* (*replaceable*, default all of *existing*: a profile defined
    only in the shared credentials file is always skipped). Everything else in *text* is kept
    character for character.
    """
    replaceable = existing if replaceable is None else replaceable
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    nl = "\r\n" if "\r\n" in body else "\n"
    names = _profile_names(pairs, template, session)
    added: list[str] = []
    replaced: list[str] = []
    skipped: list[str] = []
    blocks: dict[str, str] = {}
    for name, pair in zip(names, pairs, strict=True):
        block = _profile_block(name, pair, session, region, nl)
        if name in existing:
            if not force or name not in replaceable:
                skipped.append(name)
                continue
            replaced.append(name)
        else:
            added.append(name)
        blocks[name] = block
    if replaced:
        pieces: list[str] = []
        position = 0
        for section, start, end in _sections(body):
            if section is not None and section in replaced:
                pieces += [body[position:start], blocks[section]]
                position = end
        pieces.append(body[position:])
        body = "".join(pieces)
    if added:
        if body and not body.endswith(("\n", "\r")):
            body += nl
        if body.strip():
            body += nl
        body += nl.join(blocks[name] for name in added)
    printed = "\n".join(blocks[name].replace("\r\n", "\n") for name in added + replaced)
    return bom + body, added, replaced, skipped, printed


async def config_generate_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``aiosso config generate``: a profile for every account/role the user holds."""
    import asyncio

    path = Path(args.config_file) if args.config_file else config_file_path()
    session, config = await resolve_session(args, path)
    async with _portal(session) as (sso, token):
        rows, failures = await _role_rows(sso, token, None, err)
    rows.sort(key=_account_sort_key)
    status = _report_failures(failures, err)
    try:
        raw = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raw = b""
    text = raw.decode("utf-8")
    new_text, added, replaced, skipped, printed = generate_config_text(
        text,
        rows,
        session=session,
        existing=set(config.profiles),  # the credentials file's profiles included
        template=args.template,
        region=args.region,
        force=args.force,
        replaceable=set(parse_config(text).profiles),
    )
    if skipped:
        err.write(
            f"Skipped {len(skipped)} existing profile(s) (--force replaces them): "
            f"{', '.join(skipped)}\n"
        )
    if not args.write:
        out.write(printed)
        if added or replaced:
            err.write(f"Add these to {path}, or run again with --write.\n")
        return status
    if added or replaced:
        await asyncio.to_thread(_write_atomically, path, new_text.encode("utf-8"))
    err.write(
        f"Wrote {len(added)} new and {len(replaced)} replaced profile(s) to {path}.\n"
        if added or replaced
        else f"No profiles to write to {path}.\n"
    )
    return status
