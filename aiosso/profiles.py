"""Role credentials for a profile of ``~/.aws/config``, as the AWS CLI would produce them.

``await credentials_for_profile("dev")`` resolves the profile (``sso_session``,
``sso_account_id``, ``sso_role_name``, or the legacy ``sso_start_url``/``sso_region``), takes
the session's token from the SSO token cache (refreshing it if due, see
:mod:`aiosso.tokens`), and returns :class:`~aiosso.RoleCredentials`. Credentials are shared
with the AWS CLI through its role-credential cache (``~/.aws/cli/cache``, same key and format):
a cached entry with more than 15 minutes left is used without any request, and a fetched one
is written back (atomically, mode 0600) under a cross-process lock, so concurrent processes
fetch once.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final

from aiosso import _quick
from aiosso._rolecreds import RoleCredentials
from aiosso.awsconfig import SSOProfile, load_config, load_config_async, resolve_sso_profile
from aiosso.exceptions import UnauthorizedException, UnauthorizedSSOTokenError
from aiosso.tokencache import (
    CachedRoleCredentials,
    RoleCredentialCache,
    role_credentials_cache_key,
)

if TYPE_CHECKING:
    from aiosso.tokencache import SSOTokenCache

__all__ = [
    "cached_credentials_for_profile",
    "credentials_for_profile",
    "credentials_for_sso_profile",
]

log = logging.getLogger("aiosso.profiles")

EXPIRY_WINDOW: Final = _quick.EXPIRY_WINDOW  # botocore's CachedCredentialFetcher window


async def credentials_for_profile(
    profile_name: str | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> RoleCredentials:
    """Role credentials for a profile of the AWS config file.

    Args:
        profile_name: the profile; default ``AWS_PROFILE``, then ``AWS_DEFAULT_PROFILE``, then
            ``default``.
        config_file: the config file; default ``AWS_CONFIG_FILE`` or ``~/.aws/config``.
        use_cache: read and write the AWS CLI's role-credential cache (``~/.aws/cli/cache``).

    Returns:
        Credentials with more than 15 minutes left, when the service grants that much.

    Raises:
        ProfileNotFound, InvalidConfigError: the profile is missing or not an SSO profile.
        SSOTokenLoadError: no token for the profile's session: log in.
        UnauthorizedSSOTokenError: the session expired (or was logged out): log in again.
        ClientError, HTTPClientError: the portal's other answers (e.g. ``ForbiddenException``
            when the role is not assigned).
    """
    config = await load_config_async(config_file)
    profile = resolve_sso_profile(config, profile_name)
    return await credentials_for_sso_profile(profile, use_cache=use_cache)


def cached_credentials_for_profile(
    profile_name: str | None = None, *, config_file: str | os.PathLike[str] | None = None
) -> RoleCredentials | None:
    """The profile's credentials from the AWS CLI's cache if usable there, else ``None``.

    Blocking, and light: no event loop, no asyncio, no aiohttp, so that a cache-hit
    ``aiosso credential-process`` answers in tens of milliseconds. ``None`` means "ask
    :func:`credentials_for_profile`", which also reports any error properly.

    Raises:
        ProfileNotFound, InvalidConfigError, ConfigParseError, CacheFileError: as
            :func:`credentials_for_profile` would.
    """
    profile = resolve_sso_profile(load_config(config_file), profile_name)
    cache = RoleCredentialCache()
    return _usable(cache.load_sync(_cache_key(profile)), profile)


def _cache_key(profile: SSOProfile) -> str:
    session = profile.session
    return role_credentials_cache_key(
        account_id=profile.account_id,
        role_name=profile.role_name,
        session_name=session.session_name,
        start_url=session.start_url,
    )


async def credentials_for_sso_profile(
    profile: SSOProfile,
    *,
    use_cache: bool = True,
    token_cache: SSOTokenCache | None = None,
    credential_cache: RoleCredentialCache | None = None,
) -> RoleCredentials:
    """Role credentials for an already resolved profile (see :func:`credentials_for_profile`)."""
    key = _cache_key(profile)
    cache = (credential_cache or RoleCredentialCache()) if use_cache else None
    if cache is None:
        return await _fetch(profile, token_cache)
    cached = _usable(await cache.load(key), profile)
    if cached is not None:
        return cached
    async with cache.locked(key):
        cached = _usable(await cache.load(key), profile)  # another process may have fetched
        if cached is not None:
            return cached
        creds = await _fetch(profile, token_cache)
        await cache.save(
            key,
            CachedRoleCredentials(
                access_key_id=creds.access_key_id,
                secret_access_key=creds.secret_access_key,
                session_token=creds.session_token,
                expiration=creds.expiration,
                account_id=creds.account_id,
            ),
        )
        return creds


def _usable(entry: CachedRoleCredentials | None, profile: SSOProfile) -> RoleCredentials | None:
    if entry is None:
        return None
    remaining = (entry.expiration - datetime.now(timezone.utc)).total_seconds()
    if remaining <= EXPIRY_WINDOW:
        return None
    return RoleCredentials(
        access_key_id=entry.access_key_id,
        secret_access_key=entry.secret_access_key,
        session_token=entry.session_token,
        expiration=entry.expiration,
        account_id=entry.account_id or profile.account_id,
        role_name=profile.role_name,
    )


async def _fetch(profile: SSOProfile, token_cache: SSOTokenCache | None) -> RoleCredentials:
    from aiosso.client import AsyncSSOClient
    from aiosso.tokens import SSOTokenProvider

    session = profile.session
    async with SSOTokenProvider(session, cache=token_cache) as provider:
        token = await provider.get_token()
    async with AsyncSSOClient(session.sso_region) as sso:
        try:
            reply = await sso.get_role_credentials(
                roleName=profile.role_name,
                accountId=profile.account_id,
                accessToken=token.access_token,
            )
        except UnauthorizedException:
            # As botocore: the portal no longer accepts the session (expired, logged out).
            raise UnauthorizedSSOTokenError() from None
    log.debug("Fetched role credentials for profile %s", profile.profile_name)
    return RoleCredentials.from_response(
        reply, account_id=profile.account_id, role_name=profile.role_name
    )
