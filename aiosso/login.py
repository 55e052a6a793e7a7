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
for the device flow), so ``aws sso login`` and ``aiosso login`` share them.

**One login at a time.** The whole login runs under the session's cross-process cache lock,
taken *before* any browser is opened. A second ``login`` for the same session (another task,
another process, a parallel ``make -j``) waits, then finds the fresh token the first one wrote
and returns it without opening another browser tab (``force=True`` logs in anyway).

``await logout(...)`` ends the portal session (``Logout``), removes the cached token and the
cached role credentials (``~/.aws/cli/cache``), as ``aws sso logout`` does.

Nothing here logs or puts in an exception message a token, secret, code or verifier.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import secrets
import sys
import time
import uuid
import webbrowser
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import quote, urlencode

import attrs

from aiosso._callback import CALLBACK_PATH, CallbackServer
from aiosso.awsconfig import AWSConfig, SSOSession, parse_config
from aiosso.exceptions import (
    AccessDeniedException,
    AioSSOError,
    AuthorizationCodeLoadError,
    AuthorizationPendingException,
    CacheLockTimeoutError,
    ClientError,
    ExpiredTokenException,
    LoginDeniedError,
    LoginError,
    PendingAuthorizationExpiredError,
    SlowDownException,
)
from aiosso.oidc import AUTHORIZATION_CODE_GRANT, DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT
from aiosso.tokencache import (
    ClientRegistration,
    CorruptCacheFileError,
    RoleCredentialCache,
    SSOToken,
    SSOTokenCache,
    registration_cache_key,
    role_credentials_cache_key,
)

if TYPE_CHECKING:
    from aiosso.oidc import (
        AsyncSSOOIDCClient,
        CreateTokenResponseTypeDef,
        StartDeviceAuthorizationResponseTypeDef,
    )

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

#: A cached token or registration is reused only with more than this left (the CLI's window).
EXPIRY_WINDOW: Final = 15 * 60.0
DEFAULT_SCOPES: Final = ("sso:account:access",)
REGISTERED_REDIRECT_URI: Final = f"http://127.0.0.1{CALLBACK_PATH}"
_VERIFIER_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

PromptCallback = Callable[[str, "str | None"], None]
Opener = Callable[[str], bool]


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


# -- PKCE helpers -------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, code_challenge)``: 64 characters of ``[A-Za-z0-9-._~]`` from
    :mod:`secrets`, and ``base64url(sha256(verifier))`` without padding (S256)."""
    verifier = "".join(secrets.choice(_VERIFIER_ALPHABET) for _ in range(64))
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return verifier, challenge


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str],
    code_challenge: str,
) -> str:
    """The ``/authorize`` URL the browser opens, parameters in the AWS CLI's order.

    ``scopes`` (not ``scope``) is space-joined; ``code_challenge`` is appended unencoded
    (it is base64url already).
    """
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge_method": "S256",
        "scopes": " ".join(scopes),
    }
    query = urlencode(params, quote_via=quote, safe="")
    return f"{endpoint.rstrip('/')}/authorize?{query}&code_challenge={code_challenge}"


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
            registration = await _registration(oidc_client, cache, session, pkce=not device)
            started = datetime.now(timezone.utc)
            if device:
                reply = await _device_flow(
                    oidc_client,
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
                    oidc_client,
                    registration,
                    session,
                    open_browser=open_browser,
                    on_prompt=on_prompt,
                    timeout=timeout,
                )
        finally:
            if owns:
                await oidc_client.close()
        token = _token_from(reply, session, registration, started)
        await cache.save(session, token)
    log.info("Logged in to %s", session.display_name)
    return LoginResult(token=token, reused=False, flow="device" if device else "pkce")


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


async def _registration(
    oidc: AsyncSSOOIDCClient, cache: SSOTokenCache, session: SSOSession, *, pkce: bool
) -> ClientRegistration:
    configured = list(session.registration_scopes) or None
    key = registration_cache_key(
        start_url=session.start_url,
        region=session.sso_region,
        scopes=configured,
        session_name=session.session_name,
    )
    cached = await cache.load_registration(key)
    now = datetime.now(timezone.utc)
    if (
        cached is not None
        and (cached.expires_at - now).total_seconds() > EXPIRY_WINDOW
        and (AUTHORIZATION_CODE_GRANT in (cached.grant_types or ())) == pkce
    ):
        log.debug("Reusing the cached client registration for %s", session.display_name)
        return cached
    name = session.session_name if session.session_name is not None else str(int(time.time()))
    client_name = f"botocore-client-{name}"
    scopes: list[str] | None
    grant_types: list[str] | None
    if pkce:
        scopes = pkce_scopes = configured or list(DEFAULT_SCOPES)
        grant_types = pkce_grants = [AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT]
        reply = await oidc.register_client(
            clientName=client_name,
            clientType="public",
            grantTypes=pkce_grants,
            redirectUris=[REGISTERED_REDIRECT_URI],
            issuerUrl=session.start_url,
            scopes=pkce_scopes,
        )
    else:
        scopes, grant_types = configured, None
        if scopes:
            reply = await oidc.register_client(
                clientName=client_name, clientType="public", scopes=scopes
            )
        else:
            reply = await oidc.register_client(clientName=client_name, clientType="public")
    client_id = reply.get("clientId")
    client_secret = reply.get("clientSecret")
    expires = reply.get("clientSecretExpiresAt")
    if not client_id or not client_secret or not isinstance(expires, int):
        raise LoginError(error_msg="RegisterClient answered without a usable client")
    registration = ClientRegistration(
        client_id=client_id,
        client_secret=client_secret,
        expires_at=datetime.fromtimestamp(expires, timezone.utc),
        scopes=None if scopes is None else tuple(scopes),
        grant_types=None if grant_types is None else tuple(grant_types),
    )
    await cache.save_registration(key, registration)
    return registration


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


async def _open(open_browser: Opener | None, url: str) -> bool | None:
    """Open *url* in a worker thread; ``None`` when still opening after a second."""
    if open_browser is None:
        return False

    def attempt() -> bool:
        try:
            return bool(open_browser(url))
        except Exception as exc:  # a broken browser setup must not end the login
            log.debug("Opening a browser failed: %s", type(exc).__name__)
            return False

    task = asyncio.ensure_future(asyncio.to_thread(attempt))
    done, _ = await asyncio.wait({task}, timeout=1.0)
    return task.result() if done else None


# -- authorization code with PKCE ---------------------------------------------------------


async def _pkce_flow(
    oidc: AsyncSSOOIDCClient,
    registration: ClientRegistration,
    session: SSOSession,
    *,
    open_browser: Opener | None,
    on_prompt: PromptCallback,
    timeout: float,
) -> CreateTokenResponseTypeDef:
    verifier, challenge = pkce_pair()
    state = str(uuid.uuid4())
    server = CallbackServer(state)
    await server.start()
    try:
        redirect_uri = f"http://127.0.0.1:{server.port}{CALLBACK_PATH}"
        url = authorization_url(
            oidc.meta.endpoint_url,
            client_id=registration.client_id,
            redirect_uri=redirect_uri,
            state=state,
            scopes=registration.scopes or DEFAULT_SCOPES,
            code_challenge=challenge,
        )
        opened = await _open(open_browser, url)
        if opened is False:
            why = (
                "Open this URL in a browser on this machine"
                if open_browser is None
                else "No browser could be opened. Open this URL in a browser on this machine"
            )
            message = (
                f"{why} to log in to {session.start_url}:\n\n{url}\n\n"
                "The browser must run on this machine (it returns to 127.0.0.1). "
                "Elsewhere (SSH, a container), log in with --use-device-code instead."
            )
        else:
            message = (
                f"Opened your browser to log in to {session.start_url}. If it did not open, "
                f"open this URL in a browser on this machine:\n\n{url}\n"
            )
        on_prompt(message, url)
        try:
            code = await asyncio.wait_for(asyncio.shield(server.result), timeout)
        except asyncio.TimeoutError:
            raise PendingAuthorizationExpiredError(
                error_msg=f"The login was not completed in the browser within {timeout:g} s. "
                "Run the login again."
            ) from None
    finally:
        await server.close()
        if not server.result.done():
            server.result.cancel()
    try:
        return await oidc.create_token(
            grantType=AUTHORIZATION_CODE_GRANT,
            clientId=registration.client_id,
            clientSecret=registration.client_secret,
            code=code,
            redirectUri=redirect_uri,
            codeVerifier=verifier,
        )
    except ExpiredTokenException:
        raise PendingAuthorizationExpiredError(
            error_msg="The authorization code expired before it could be used. Run the login again."
        ) from None
    except AccessDeniedException:
        raise LoginDeniedError(error_msg="The authorization request was denied.") from None


# -- device code --------------------------------------------------------------------------


async def _device_flow(
    oidc: AsyncSSOOIDCClient,
    registration: ClientRegistration,
    session: SSOSession,
    *,
    open_browser: Opener | None,
    on_prompt: PromptCallback,
    timeout: float,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
) -> CreateTokenResponseTypeDef:
    start = await oidc.start_device_authorization(
        clientId=registration.client_id,
        clientSecret=registration.client_secret,
        startUrl=session.start_url,
    )
    device_code = start.get("deviceCode")
    if not device_code:
        raise LoginError(error_msg="StartDeviceAuthorization answered without a device code")
    raw_interval = start.get("interval")
    interval = float(5 if raw_interval is None else max(raw_interval, 0))
    expires_in = float(start.get("expiresIn") or 600)
    begun = clock()
    expires_at = begun + expires_in
    deadline = min(expires_at, begun + timeout)
    prompted = False
    while True:
        try:
            return await oidc.create_token(
                grantType=DEVICE_CODE_GRANT,
                clientId=registration.client_id,
                clientSecret=registration.client_secret,
                deviceCode=device_code,
            )
        except SlowDownException:
            interval += 5
        except AuthorizationPendingException:
            pass
        except ExpiredTokenException:
            raise _device_expired() from None
        except AccessDeniedException:
            raise LoginDeniedError(
                error_msg="The device authorization was denied. Run the login again and "
                "approve it in the browser."
            ) from None
        if not prompted:
            prompted = True
            await _device_prompt(start, session, open_browser, on_prompt)
        now = clock()
        if now + interval > deadline:
            if deadline >= expires_at:
                raise _device_expired()
            raise PendingAuthorizationExpiredError(
                error_msg=f"The device authorization was not approved within {timeout:g} s. "
                "Run the login again."
            )
        await sleep(interval)


def _device_expired() -> PendingAuthorizationExpiredError:
    return PendingAuthorizationExpiredError(
        error_msg="The device authorization expired before it was approved. "
        "Start again: run the login again."
    )


async def _device_prompt(
    reply: StartDeviceAuthorizationResponseTypeDef,
    session: SSOSession,
    open_browser: Opener | None,
    on_prompt: PromptCallback,
) -> None:
    complete = reply.get("verificationUriComplete")
    plain = reply.get("verificationUri") or complete
    code = reply.get("userCode", "")
    url = complete or plain or ""
    opened = await _open(open_browser, url) if url else False
    lead = "To"
    if opened is not False:
        lead = "Opened your browser to log in. If it did not open, or to"
    message = (
        f"{lead} log in to {session.start_url} from any device, open:\n\n{url}\n\n"
        f"and check that it shows the code: {code}\n"
    )
    if plain and plain != url:
        message += f"(Or open {plain} and enter the code.)\n"
    on_prompt(message, url)


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
