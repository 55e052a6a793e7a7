"""The two interactive grants of a login, each ending in SSO-OIDC's ``CreateToken`` reply.

* **Authorization code with PKCE** (:func:`pkce_flow`): the user approves in a browser *on this
  machine*; the browser is redirected to a one-shot callback server
  (:class:`~aiosso._callback.CallbackServer`) on ``127.0.0.1``. The ``state`` is checked and
  the code exchanged with its PKCE verifier.
* **Device code** (:func:`device_flow`): the user opens the verification URL on any device and
  checks the code; the service is polled at its interval (5 s more per ``SlowDown``).

Both tell the user what to do through an ``on_prompt`` callback and try to open a browser
without blocking the event loop (:func:`open_in_browser`). Registering the client, the cache
lock and writing the token are :mod:`aiosso.login`'s (and :mod:`aiosso._registration`'s).

Nothing here logs or puts in an exception message a token, secret, code or verifier.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlencode

from aiosso._callback import CALLBACK_PATH, CallbackServer
from aiosso._registration import DEFAULT_SCOPES
from aiosso.awsconfig import SSOSession
from aiosso.exceptions import (
    AccessDeniedException,
    AuthorizationPendingException,
    ExpiredTokenException,
    LoginDeniedError,
    LoginError,
    PendingAuthorizationExpiredError,
    SlowDownException,
)
from aiosso.oidc import AUTHORIZATION_CODE_GRANT, DEVICE_CODE_GRANT
from aiosso.tokencache import ClientRegistration

if TYPE_CHECKING:
    from aiosso.oidc import (
        AsyncSSOOIDCClient,
        CreateTokenResponseTypeDef,
        StartDeviceAuthorizationResponseTypeDef,
    )

__all__ = [
    "Opener",
    "PromptCallback",
    "authorization_url",
    "device_flow",
    "open_in_browser",
    "pkce_flow",
    "pkce_pair",
]

# The login's logger: these flows are part of a login.
log = logging.getLogger("aiosso.login")

_VERIFIER_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

#: The ``on_prompt(message, url)`` callback of a login, which shows the user what to do; the
#: message is complete text (it contains the URL and, for the device flow, the code).
PromptCallback = Callable[[str, "str | None"], None]
#: The ``open_browser(url)`` callback of a login, which opens the URL in a browser and returns
#: whether one opened (``webbrowser.open``).
Opener = Callable[[str], bool]


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


# -- opening a browser --------------------------------------------------------------------


async def open_in_browser(open_browser: Opener | None, url: str) -> bool | None:
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


async def pkce_flow(
    oidc: AsyncSSOOIDCClient,
    registration: ClientRegistration,
    session: SSOSession,
    *,
    open_browser: Opener | None,
    on_prompt: PromptCallback,
    timeout: float,
    registration_reused: bool = False,
) -> CreateTokenResponseTypeDef:
    """Authorization code with PKCE: serve the callback, send the user to ``/authorize``,
    wait up to *timeout* for the code, and exchange it with the verifier.

    *registration_reused*: the registration came from the cache. If the browser never comes
    back, it may have been stale (the service's ``/authorize`` page rejects an unknown client
    and does not redirect): the timeout's message says that the next login registers again
    (:func:`aiosso.login.login` drops it)."""
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
        opened = await open_in_browser(open_browser, url)
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
            stale = (
                " If the browser reported an invalid client, the cached client registration "
                "was stale: it has been dropped, and the next login registers a new one."
                if registration_reused
                else ""
            )
            raise PendingAuthorizationExpiredError(
                error_msg=f"The login was not completed in the browser within {timeout:g} s. "
                f"Run the login again.{stale}"
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


async def device_flow(
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
    """Device code: start the authorization, then poll ``CreateToken`` at the service's
    interval, prompting the user once the first poll is not yet approved, until approved,
    denied, expired or past *timeout*."""
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
    opened = await open_in_browser(open_browser, url) if url else False
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
