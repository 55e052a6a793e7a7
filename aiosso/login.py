"""Logging in to IAM Identity Center, and out, as the AWS CLI v2 does, sharing its caches.

``await login(session)`` obtains an SSO access token for an sso-session (or a legacy profile's
start URL) and writes it to the shared token cache (``~/.aws/sso/cache``), where ``aws``
commands, botocore and aiosso's :class:`~aiosso.tokens.SSOTokenProvider` find it.

Two flows, both the AWS CLI's (reference §8.1):

* **Authorization code with PKCE** (the default for an sso-session): the user approves in a
  browser *on this machine*; the browser is redirected to a one-shot callback server this
  function runs on ``127.0.0.1`` (loopback only, an ephemeral port; the AWS CLI listens on all
  interfaces, which is not needed for a loopback redirect). The ``state`` is checked and the
  code exchanged with its PKCE verifier.
* **Device code** (``use_device_code=True``, and always for a legacy profile): for machines
  without a browser (SSH, containers, WSL). The user opens the verification URL on any device
  and checks the code; the service is polled at its interval (5 s more per ``SlowDown``).

Client registrations are cached beside the tokens under the AWS CLI's key and reused by the
same rules (more than 15 minutes left; a PKCE registration only for PKCE, a device one only
for the device flow), so ``aws sso login`` and ``aiosso login`` share them. A cached
registration the service no longer knows (``InvalidClientException`` or
``InvalidClientMetadataException`` on ``StartDeviceAuthorization`` or ``CreateToken``) is
dropped and the client registered again, once; a PKCE login on a cached registration that
does not complete (timeout, cancellation) drops it too, since a stale one shows only in the
browser.

**One login at a time.** The whole login runs under the session's cross-process cache lock,
taken *before* any browser is opened. A second ``login`` for the same session (another task,
another process, a parallel ``make -j``) waits, then finds the fresh token the first one wrote
and returns it without opening another browser tab (``force=True`` logs in anyway).

``await logout(...)`` ends the portal session (``Logout``), removes the cached token and the
cached role credentials (``~/.aws/cli/cache``), as ``aws sso logout`` does.

Nothing here logs or puts in an exception message a token, secret, code or verifier.

Layout: the two flows (and :func:`pkce_pair`, :func:`authorization_url`) are in
:mod:`aiosso._login_flows`, the client registration and its reuse in :mod:`aiosso._registration`;
this module runs them under the lock, writes the token, and logs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
import webbrowser
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

import attrs

from aiosso._login_flows import Opener as Opener
from aiosso._login_flows import PromptCallback as PromptCallback
from aiosso._login_flows import authorization_url, pkce_pair
from aiosso._login_flows import device_flow as _device_flow
from aiosso._login_flows import pkce_flow as _pkce_flow
from aiosso._registration import DEFAULT_SCOPES as DEFAULT_SCOPES
from aiosso._registration import EXPIRY_WINDOW
from aiosso._registration import REGISTERED_REDIRECT_URI as REGISTERED_REDIRECT_URI
from aiosso._registration import client_registration as _registration
from aiosso._registration import forget_registration as _forget_registration
from aiosso.awsconfig import AWSConfig, SSOSession, parse_config
from aiosso.exceptions import (
    AioSSOError,
    AuthorizationCodeLoadError,
    CacheLockTimeoutError,
    ClientError,
    InvalidClientException,
    InvalidClientMetadataException,
    LoginDeniedError,
    LoginError,
    PendingAuthorizationExpiredError,
)
from aiosso.tokencache import (
    ClientRegistration,
    CorruptCacheFileError,
    RoleCredentialCache,
    SSOToken,
    SSOTokenCache,
    role_credentials_cache_key,
)

if TYPE_CHECKING:
    from aiosso.oidc import AsyncSSOOIDCClient, CreateTokenResponseTypeDef

__all__ = [
    "AuthorizationCodeLoadError",
    "LoginDeniedError",
    "LoginError",
    "LoginResult",
    "LogoutResult",
    "PendingAuthorizationExpiredError",
    "authorization_url",
    "login",
    "logout",
    "pkce_pair",
]

log = logging.getLogger("aiosso.login")


# -- results ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LoginResult:
    """What :func:`login` did.

    Attributes:
        token: the session's token, as written to the cache.
        reused: True when a fresh token (more than 15 minutes left) was already cached, so no
            login took place (no browser, no request).
        flow: ``"pkce"``, ``"device"``, or ``"cached"`` when reused.
    """

    token: SSOToken
    reused: bool
    flow: Literal["pkce", "device", "cached"]


@attrs.frozen(kw_only=True)
class LogoutResult:
    """What :func:`logout` removed, and portal failures other than a rejected token.

    Attributes:
        sessions: the sessions (display names or cache keys) whose token was removed.
        credentials_removed: ``~/.aws/cli/cache`` entries deleted.
        warnings: one line per ``Logout`` call that could not be made (network, service).
    """

    sessions: tuple[str, ...] = ()
    credentials_removed: int = 0
    warnings: tuple[str, ...] = ()


# -- login --------------------------------------------------------------------------------


def _stderr_prompt(message: str, url: str | None) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


async def login(
    session: SSOSession,
    *,
    use_device_code: bool = False,
    open_browser: Opener | None = webbrowser.open,
    on_prompt: PromptCallback = _stderr_prompt,
    on_wait: Callable[[], None] | None = None,
    timeout: float = 600.0,
    force: bool = False,
    cache: SSOTokenCache | None = None,
    oidc_client: AsyncSSOOIDCClient | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> LoginResult:
    """Log in to the session's start URL and write the token to the shared cache.

    Args:
        session: the sso-session (or legacy profile's) settings, e.g. from
            :func:`~aiosso.awsconfig.resolve_profile_session`.
        use_device_code: use the device-code flow (always used for legacy sessions).
        open_browser: opens a URL in a browser, returning whether it did; called in a worker
            thread (a console browser may block). ``None`` never opens one: the URL is only
            shown through ``on_prompt``.
        on_prompt: shows the user what to do: ``(message, url)``. The message is complete,
            human-readable text (it contains the URL and, for the device flow, the code).
            The default writes the message to stderr.
        on_wait: called once if another login for this session holds the lock (the default
            does nothing).
        timeout: seconds to wait for the user's approval (the device code's own expiry
            applies too).
        force: log in even if a fresh token is cached.
        cache: the token cache (default ``~/.aws/sso/cache``).
        oidc_client: the SSO-OIDC client to use (default: one for the session's region,
            honouring ``AWS_ENDPOINT_URL_SSO_OIDC``, closed afterwards).
        sleep, clock: the device flow's pause and monotonic clock (for tests).

    Returns:
        A :class:`LoginResult`.

    Raises:
        LoginDeniedError: the request was denied.
        PendingAuthorizationExpiredError: not approved before the timeout or expiry.
        AuthorizationCodeLoadError: the browser callback was wrong (``state`` mismatch, an
            error, no code).
        ClientError, HTTPClientError: SSO-OIDC's other answers or the network.
        CacheFileError: the token cache cannot be used.
    """
    cache = SSOTokenCache() if cache is None else cache
    device = use_device_code or session.session_name is None
    async with _locked(cache, session, on_wait):
        if not force:
            cached = await _fresh_token(cache, session)
            if cached is not None:
                return LoginResult(token=cached, reused=True, flow="cached")
        owns = oidc_client is None
        if oidc_client is None:
            from aiosso.oidc import AsyncSSOOIDCClient

            oidc_client = AsyncSSOOIDCClient(session.sso_region)
        try:
            reply, registration, started = await _log_in(
                oidc_client,
                cache,
                session,
                device=device,
                open_browser=open_browser,
                on_prompt=on_prompt,
                timeout=timeout,
                sleep=sleep,
                clock=clock,
            )
        finally:
            if owns:
                await oidc_client.close()
        token = _token_from(reply, session, registration, started)
        await cache.save(session, token)
    log.info("Logged in to %s", session.display_name)
    return LoginResult(token=token, reused=False, flow="device" if device else "pkce")


async def _log_in(
    oidc: AsyncSSOOIDCClient,
    cache: SSOTokenCache,
    session: SSOSession,
    *,
    device: bool,
    open_browser: Opener | None,
    on_prompt: PromptCallback,
    timeout: float,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
) -> tuple[CreateTokenResponseTypeDef, ClientRegistration, datetime]:
    """Register (or reuse the registration) and run the flow; ``(reply, registration, when
    the flow started)``.

    A registration the service rejects (``InvalidClientException`` or
    ``InvalidClientMetadataException`` on ``StartDeviceAuthorization`` or ``CreateToken``) is
    dropped from the cache and the client registered again, once. A PKCE login with a cached
    registration that does not complete (timeout, cancellation) drops it too: a stale one shows
    only in the browser, whose ``/authorize`` page rejects it and never comes back here.
    """
    for last_try in (False, True):
        registration, reused = await _registration(oidc, cache, session, pkce=not device)
        started = datetime.now(timezone.utc)
        try:
            if device:
                reply = await _device_flow(
                    oidc,
                    registration,
                    session,
                    open_browser=open_browser,
                    on_prompt=on_prompt,
                    timeout=timeout,
                    sleep=sleep,
                    clock=clock,
                )
            else:
                reply = await _pkce_flow(
                    oidc,
                    registration,
                    session,
                    open_browser=open_browser,
                    on_prompt=on_prompt,
                    timeout=timeout,
                    registration_reused=reused,
                )
            return reply, registration, started
        except (InvalidClientException, InvalidClientMetadataException) as exc:
            await _forget_registration(cache, session, registration.client_id)
            if last_try:
                raise
            log.info(
                "The service rejected the client registration of %s (%s); registering again",
                session.display_name,
                exc.response.get("Error", {}).get("Code"),
            )
        except PendingAuthorizationExpiredError:
            if not device and reused:
                await _forget_registration(cache, session, registration.client_id)
            raise
        except asyncio.CancelledError:
            if not device and reused:
                await _forget_registration(cache, session, registration.client_id)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.asynccontextmanager
async def _locked(
    cache: SSOTokenCache, session: SSOSession, on_wait: Callable[[], None] | None
) -> AsyncIterator[None]:
    entered = False
    try:
        async with cache.locked(session, timeout=0.5):
            entered = True
            yield
            return
    except CacheLockTimeoutError:
        if entered:
            raise
    if on_wait is not None:
        on_wait()
    async with cache.locked(session):
        yield


async def _fresh_token(cache: SSOTokenCache, session: SSOSession) -> SSOToken | None:
    try:
        token = await cache.load(session)
    except AioSSOError:
        return None
    if token.start_url is not None and token.start_url != session.start_url:
        return None  # the session now points elsewhere
    return None if token.expires_within(EXPIRY_WINDOW) else token


def _token_from(
    reply: CreateTokenResponseTypeDef,
    session: SSOSession,
    registration: ClientRegistration,
    started: datetime,
) -> SSOToken:
    access = reply.get("accessToken")
    expires_in = reply.get("expiresIn")
    if not access or not isinstance(expires_in, int):
        raise LoginError(error_msg="CreateToken answered without a usable token")
    return SSOToken(
        access_token=access,
        expires_at=started.replace(microsecond=0) + timedelta(seconds=expires_in),
        start_url=session.start_url,
        region=session.sso_region,
        client_id=registration.client_id,
        client_secret=registration.client_secret,
        registration_expires_at=registration.expires_at,
        refresh_token=reply.get("refreshToken") or None,
    )


# -- logout -------------------------------------------------------------------------------


async def logout(
    session: SSOSession | None = None,
    *,
    config: AWSConfig | None = None,
    cache: SSOTokenCache | None = None,
    credential_cache: RoleCredentialCache | None = None,
) -> LogoutResult:
    """Log out of one session, or of every cached session when *session* is ``None``.

    For each token: ``Logout`` on the portal in the token's region (a ``ClientError``, e.g.
    an already expired session, is ignored, as the AWS CLI does; other failures become
    :attr:`LogoutResult.warnings`), then the token file is deleted. Client registrations are
    kept (as the CLI keeps them).

    Role credentials: for all sessions, every ``~/.aws/cli/cache`` entry with ``ProviderType
    sso`` is deleted (``aws sso logout``); for one session, the entries of the profiles of
    *config* that use it (``sso_session``, or a legacy profile's start URL).

    Raises:
        CacheFileError: a cache directory or file cannot be used.
    """
    cache = SSOTokenCache() if cache is None else cache
    credential_cache = RoleCredentialCache() if credential_cache is None else credential_cache
    warnings: list[str] = []
    removed: list[str] = []
    if session is not None:
        async with cache.locked(session):
            try:
                token: SSOToken | None = await cache.load(session)
            except AioSSOError:
                token = None
            if token is not None:
                await _portal_logout(token, session.sso_region, warnings)
            if await cache.delete(session):
                removed.append(session.display_name)
        keys = _credential_keys(session, config or parse_config(""))
        count = 0
        for key in keys:
            count += await credential_cache.files.delete(key)
        return LogoutResult(
            sessions=tuple(removed), credentials_removed=count, warnings=tuple(warnings)
        )
    for key in await asyncio.to_thread(_json_keys, cache.directory):
        async with cache.files.locked(key):
            try:
                data = await cache.files.load(key)
            except CorruptCacheFileError:
                continue
            if not data or "accessToken" not in data:
                continue  # client registrations and other files stay
            try:
                token = SSOToken.from_json(data)
            except AioSSOError:
                token = None
            region = data.get("region")
            if token is not None and isinstance(region, str):
                await _portal_logout(token, region, warnings)
            if await cache.files.delete(key):
                removed.append(str(data.get("startUrl") or key))
    count = 0
    for key in await asyncio.to_thread(_json_keys, credential_cache.files.directory):
        try:
            data = await credential_cache.files.load(key)
        except CorruptCacheFileError:
            continue
        if data and data.get("ProviderType") == "sso":
            count += await credential_cache.files.delete(key)
    return LogoutResult(
        sessions=tuple(removed), credentials_removed=count, warnings=tuple(warnings)
    )


def _json_keys(directory: object) -> list[str]:
    from pathlib import Path

    folder = Path(str(directory))
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if not p.stem.startswith("."))


async def _portal_logout(token: SSOToken, region: str, warnings: list[str]) -> None:
    if token.seconds_remaining() <= 0:
        return  # the portal would only answer UnauthorizedException
    from aiosso.client import AsyncSSOClient

    try:
        async with AsyncSSOClient(token.region or region) as sso:
            await sso.logout(accessToken=token.access_token)
    except ClientError:
        pass  # e.g. the session already ended: as the AWS CLI
    except AioSSOError as exc:
        warnings.append(f"could not end the portal session of {token.start_url or region}: {exc}")


def _credential_keys(session: SSOSession, config: AWSConfig) -> list[str]:
    keys: set[str] = set()
    for section in config.profiles.values():
        account = section.get("sso_account_id")
        role = section.get("sso_role_name")
        if not isinstance(account, str) or not isinstance(role, str):
            continue
        if session.session_name is not None:
            if section.get("sso_session") != session.session_name:
                continue
        elif section.get("sso_session") or section.get("sso_start_url") != session.start_url:
            continue
        keys.add(
            role_credentials_cache_key(
                account_id=account,
                role_name=role,
                session_name=session.session_name,
                start_url=session.start_url,
            )
        )
    return sorted(keys)
