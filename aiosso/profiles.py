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
from typing import Final

from aiosso.awsconfig import SSOProfile, load_config_async, resolve_sso_profile
from aiosso.client import AsyncSSOClient
from aiosso.credentials import RoleCredentials
from aiosso.exceptions import UnauthorizedException, UnauthorizedSSOTokenError
from aiosso.tokencache import (
    CachedRoleCredentials,
    RoleCredentialCache,
    SSOTokenCache,
    role_credentials_cache_key,
)
from aiosso.tokens import SSOTokenProvider

__all__ = ["credentials_for_profile", "credentials_for_sso_profile"]

log = logging.getLogger("aiosso.profiles")

EXPIRY_WINDOW: Final = 15 * 60.0  # botocore's CachedCredentialFetcher window


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


async def credentials_for_sso_profile(
    profile: SSOProfile,
    *,
    use_cache: bool = True,
    token_cache: SSOTokenCache | None = None,
    credential_cache: RoleCredentialCache | None = None,
) -> RoleCredentials:
    """Role credentials for an already resolved profile (see :func:`credentials_for_profile`)."""
    session = profile.session
    key = role_credentials_cache_key(
        account_id=profile.account_id,
        role_name=profile.role_name,
        session_name=session.session_name,
        start_url=session.start_url,
    )
    cache = (credential_cache or RoleCredentialCache()) if use_cache else None
    if cache is None:
        return await _fetch(profile, token_cache)
    cached = await _usable(cache, key, profile)
    if cached is not None:
        return cached
    async with cache.locked(key):
        cached = await _usable(cache, key, profile)  # another process may have fetched
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


async def _usable(
    cache: RoleCredentialCache, key: str, profile: SSOProfile
) -> RoleCredentials | None:
    entry = await cache.load(key)
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
