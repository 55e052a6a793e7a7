"""``aiosso exec`` and ``aiosso serve``: role credentials that never expire mid-run.

Both resolve profiles of the AWS config, keep one :class:`~aiosso.CredentialCache` per SSO
session (taking each fetch's token from the session's :class:`~aiosso.SSOTokenProvider`, so
they outlive any one token), and serve them from a :class:`~aiosso.broker.CredentialServer`:

* ``exec`` runs one command with the endpoint in its environment (or, with ``--env``, plain
  credential variables as ``export`` prints them), forwards SIGINT, SIGTERM and SIGHUP to it,
  and exits with its code; the endpoint stops when the command ends.
* ``serve`` serves until interrupted and prints the variables to export.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import shlex
import signal
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from aiosso._commands import UsageError
from aiosso.awsconfig import SSOProfile, load_config_async, resolve_sso_profile
from aiosso.broker import CredentialServer, CredentialSource, listening_refusal
from aiosso.exceptions import AioSSOError

if TYPE_CHECKING:
    from aiosso.credentials import CredentialCache
    from aiosso.fleet import RedisStore

__all__ = ["add_exec_arguments", "add_serve_arguments", "exec_command", "serve_command"]

#: Variables that would shadow the endpoint in the SDKs' credential chain, or point it
#: elsewhere: static keys, a profile, web identity, and the container variables themselves.
SHADOWING: tuple[str, ...] = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Served credentials keep more than the SDKs' 15-minute advisory window: a client asks again
# only when it must, and always gets credentials it will not refresh at once.
_SERVE_MARGIN = 20 * 60.0


def add_exec_arguments(parser: argparse.ArgumentParser) -> None:
    """``aiosso exec``'s options."""
    parser.add_argument("--profile", required=True, help="the SSO profile whose role to serve")
    parser.add_argument(
        "--env",
        action="store_true",
        help="give the command plain credential variables (they expire with the credentials) "
        "instead of the refreshing endpoint",
    )
    parser.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="CMD", help="the command and its arguments"
    )


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``aiosso serve``'s options."""
    parser.add_argument(
        "--profile",
        action="append",
        required=True,
        dest="profiles",
        help="an SSO profile to serve at /credentials/NAME (repeatable)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow an address that is not loopback (needs --tls-cert and --tls-key)",
    )
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve https")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument(
        "--token-file",
        help="write the authorization token to this file (mode 0600) and print "
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE instead of the token",
    )
    parser.add_argument(
        "--cache",
        metavar="REDIS_URL",
        help="share the credentials with other brokers through Redis or Valkey "
        "(redis://..., needs the 'redis' extra)",
    )


# A default profile with any of these gets credentials of its own, before the endpoint.
_CREDENTIAL_KEYS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "credential_process",
    "role_arn",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
)


def shadowing_default(profiles: Mapping[str, Mapping[str, object]]) -> bool:
    """Whether the ``default`` profile (config and credentials files merged) holds credentials
    of its own, which the SDKs' chain takes before the container endpoint."""
    default = profiles.get("default", {})
    return any(key in default for key in _CREDENTIAL_KEYS)


@contextlib.asynccontextmanager
async def _sources(
    names: Sequence[str], *, store: RedisStore | None = None
) -> AsyncIterator[tuple[dict[str, CredentialSource], dict[str, SSOProfile], bool]]:
    """Each profile's credential source, its resolved profile, and whether the default
    profile shadows an endpoint (:func:`shadowing_default`): one client per SSO region and one
    cache per SSO session, every fetch taking the session's current token."""
    from aiosso.client import AsyncSSOClient
    from aiosso.credentials import CredentialCache
    from aiosso.tokens import SSOTokenProvider

    config = await load_config_async()
    profiles = {name: resolve_sso_profile(config, name) for name in names}
    shadowed = shadowing_default(config.profiles)
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, AsyncSSOClient] = {}
        caches: dict[object, CredentialCache] = {}
        sources: dict[str, CredentialSource] = {}
        for name, profile in profiles.items():
            session = profile.session
            client = clients.get(session.sso_region)
            if client is None:
                client = clients[session.sso_region] = await stack.enter_async_context(
                    AsyncSSOClient(session.sso_region)
                )
            cache = caches.get(session)
            if cache is None:
                provider = await stack.enter_async_context(SSOTokenProvider(session))
                cache = caches[session] = await stack.enter_async_context(
                    CredentialCache(
                        client,
                        token_source=provider,
                        store=store,
                        refresh_margin=_SERVE_MARGIN,
                    )
                )
            sources[name] = functools.partial(cache.get, profile.account_id, profile.role_name)
        yield sources, profiles, shadowed


def child_environment(
    base: Mapping[str, str], additions: Mapping[str, str], region: str | None
) -> dict[str, str]:
    """The command's environment: *base* without the variables that would shadow what it is
    given (:data:`SHADOWING`), plus *additions*, plus the profile's region if it has one."""
    env = {key: value for key, value in base.items() if key not in SHADOWING}
    if region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    env.update(additions)
    return env


async def _run_child(command: Sequence[str], env: Mapping[str, str], err: TextIO) -> int:
    """Run *command*, forwarding signals to it; its exit code (128 + N if killed by N)."""
    try:
        process = await asyncio.create_subprocess_exec(*command, env=dict(env))
    except FileNotFoundError:
        err.write(f"aiosso exec: {command[0]}: command not found\n")
        return 127
    except PermissionError:
        err.write(f"aiosso exec: {command[0]}: permission denied\n")
        return 126
    loop = asyncio.get_running_loop()
    forwarded = []
    for sig in _FORWARDED:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, _forward, process, sig)
            forwarded.append(sig)
    try:
        code = await process.wait()
    finally:
        for sig in forwarded:
            loop.remove_signal_handler(sig)
        if process.returncode is None:  # we were cancelled: do not leave it behind
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return 128 - code if code < 0 else code


def _forward(process: asyncio.subprocess.Process, sig: int) -> None:
    if sig == signal.SIGINT and _terminal_delivers(process.pid):
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)


def _terminal_delivers(pid: int) -> bool:
    """Whether a SIGINT we got most likely came from our terminal and reached *pid* too.

    Ctrl-C signals the terminal's whole foreground process group, the child included; a
    second, forwarded SIGINT would mean "stop now" to many tools (terraform among them). So
    while we lead the foreground of our terminal and the child shares our group, SIGINT is not
    forwarded; ``kill -INT`` from elsewhere at such a time reaches only us (as with ``sudo``).
    """
    try:
        if os.getpgid(pid) != os.getpgrp():
            return False
        tty = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(tty) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(tty)


async def exec_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``aiosso exec --profile NAME [--env] [--] CMD ARGS...``."""
    command = list(args.argv)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError(error_msg="exec: give the command to run after the options")
    async with _sources([args.profile]) as (sources, profiles, shadowed):
        source = sources[args.profile]
        region = profiles[args.profile].region
        credentials = await source()  # fail now (log in?) rather than in the command
        if shadowed and not args.env:
            err.write(
                "aiosso exec: WARNING: the [default] profile has credentials of its own; AWS "
                "SDKs use them before the endpoint\n"
            )
        if args.env:
            env = child_environment(os.environ, credentials.to_env(), region)
            return await _run_child(command, env, err)
        async with CredentialServer(sources, login_hint=_hint) as server:
            additions = {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url(args.profile),
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": server.token,
            }
            env = child_environment(os.environ, additions, region)
            return await _run_child(command, env, err)


def _hint(profile: str) -> str:
    return f"aiosso login --profile {shlex.quote(profile)}"


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError(error_msg="serve: --tls-cert and --tls-key go together")
    if not args.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            error_msg=f"serve: cannot load the TLS certificate or key: {exc}"
        ) from None
    return context


def _write_token(path: str, token: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(token)


async def serve_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``aiosso serve --profile A [--profile B ...]``: serve until interrupted."""
    names = list(dict.fromkeys(args.profiles))
    context = _tls(args)
    refused = listening_refusal(args.host, allow_remote=args.allow_remote, tls=context is not None)
    if refused == "remote":
        raise UsageError(
            error_msg=f"serve: refusing to listen on {args.host}: only loopback without "
            "--allow-remote"
        )
    if refused == "plain-http":
        raise UsageError(
            error_msg=f"serve: refusing plain http on {args.host}: off loopback, give TLS "
            "material with --tls-cert and --tls-key"
        )
    if args.allow_remote:
        err.write(
            f"aiosso serve: WARNING: listening on {args.host}, beyond this machine; anyone "
            "there with the token gets these credentials\n"
        )
    store = None
    if args.cache:
        from aiosso.fleet import RedisStore

        store = RedisStore.from_url(args.cache, namespace="aiosso-serve")
    try:
        async with _sources(names, store=store) as (sources, _, _shadowed):
            for name in names:  # fail now (log in?) rather than at the first request
                try:
                    await sources[name]()
                except AioSSOError:
                    if len(names) > 1:
                        err.write(f"aiosso serve: profile {name}:\n")
                    raise
            server = CredentialServer(
                sources,
                host=args.host,
                port=args.port,
                ssl_context=context,
                allow_remote=args.allow_remote,
                login_hint=_hint,
            )
            async with server:
                _announce(server, names, args.token_file, out)
                await _until_signalled()
    finally:
        if store is not None:
            await store.close()
    return 0


def _announce(
    server: CredentialServer, names: Sequence[str], token_file: str | None, out: TextIO
) -> None:
    if token_file:
        try:
            _write_token(token_file, server.token)
        except OSError as exc:
            raise UsageError(
                error_msg=f"serve: cannot write the token file {token_file}: {exc.strerror or exc}"
            ) from None
        token_line = f"export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={shlex.quote(token_file)}"
    else:
        token_line = f"export AWS_CONTAINER_AUTHORIZATION_TOKEN={shlex.quote(server.token)}"
    lines = ["# aiosso serve: stop with Ctrl-C. The token, then a URI per profile:", token_line]
    for index, name in enumerate(names):
        uri = f"export AWS_CONTAINER_CREDENTIALS_FULL_URI={shlex.quote(server.url(name))}"
        # The first profile's line is live; another's replaces it where that one is wanted.
        # Comments stand on their own lines, so each export line is plain NAME=value.
        if index == 0:
            lines += [f"# profile {name}", uri]
        else:
            lines += [f"# profile {name}, in place of the line above:", f"# {uri}"]
    out.write("\n".join(lines) + "\n")
    out.flush()


async def _until_signalled() -> None:
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def stopping() -> None:
        if not stop.done():
            stop.set_result(None)

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stopping)
            installed.append(sig)
    try:
        await stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
