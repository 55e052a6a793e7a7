"""The SSO-OIDC client registration a login uses, reused from the cache as the AWS CLI does.

A login needs a registered public client (``RegisterClient``). Registrations are cached beside
the tokens under the AWS CLI's key (:func:`~aiosso.tokencache.registration_cache_key`) and
reused by the same rules: more than 15 minutes left, and a PKCE registration (one with the
``authorization_code`` grant) only for PKCE, a device one only for the device flow. So
``aws sso login`` and ``aiosso login`` share them.

A cached registration can be stale while its expiry date is still ahead: the service forgot
it (a new emulator, a recreated Identity Center instance). The service then answers
``InvalidClientException`` (or ``InvalidClientMetadataException``), and
:func:`forget_registration` drops the file, so that the next :func:`client_registration`
registers again rather than failing for good.

Nothing here logs or puts in an exception message a client secret.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final

from aiosso._callback import CALLBACK_PATH
from aiosso._filecache import to_thread
from aiosso.awsconfig import SSOSession
from aiosso.exceptions import LoginError
from aiosso.oidc import AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT
from aiosso.tokencache import ClientRegistration, SSOTokenCache, registration_cache_key

if TYPE_CHECKING:
    from aiosso.oidc import AsyncSSOOIDCClient

__all__ = [
    "DEFAULT_SCOPES",
    "EXPIRY_WINDOW",
    "REGISTERED_REDIRECT_URI",
    "client_registration",
    "forget_registration",
]

# The login's logger: registration is part of a login.
log = logging.getLogger("aiosso.login")

#: A cached token or registration is reused only with more than this left (the CLI's window).
EXPIRY_WINDOW: Final = 15 * 60.0
DEFAULT_SCOPES: Final = ("sso:account:access",)
REGISTERED_REDIRECT_URI: Final = f"http://127.0.0.1{CALLBACK_PATH}"


def _key(session: SSOSession) -> str:
    return registration_cache_key(
        start_url=session.start_url,
        region=session.sso_region,
        scopes=list(session.registration_scopes) or None,
        session_name=session.session_name,
    )


async def client_registration(
    oidc: AsyncSSOOIDCClient, cache: SSOTokenCache, session: SSOSession, *, pkce: bool
) -> tuple[ClientRegistration, bool]:
    """The session's cached registration when still usable for this flow, else a new one
    (``RegisterClient``), written to the cache; and whether it came from the cache."""
    configured = list(session.registration_scopes) or None
    key = _key(session)
    cached = await cache.load_registration(key)
    now = datetime.now(timezone.utc)
    if (
        cached is not None
        and (cached.expires_at - now).total_seconds() > EXPIRY_WINDOW
        and (AUTHORIZATION_CODE_GRANT in (cached.grant_types or ())) == pkce
    ):
        log.debug("Reusing the cached client registration for %s", session.display_name)
        return cached, True
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
    return registration, False


async def forget_registration(cache: SSOTokenCache, session: SSOSession, client_id: str) -> bool:
    """Drop the session's cached registration if it is still the client *client_id* (one
    another login just wrote stays); ``True`` if a file was removed."""
    return await to_thread(_forget, cache, _key(session), client_id)


def _forget(cache: SSOTokenCache, key: str, client_id: str) -> bool:
    cached = cache.load_registration_sync(key)
    if cached is None or cached.client_id != client_id:
        return False
    return cache.files.remove(key)
