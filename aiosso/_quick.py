"""The quick path of ``aiosso credential-process`` and ``aiosso export``: a cache hit.

Every AWS SDK runs its profile's ``credential_process`` each time it needs credentials, and
tools such as terraform run it many times. When the AWS CLI's cache (``~/.aws/cli/cache``)
holds usable credentials for the profile, this answers with the stdlib and aiosso's light
cores only: the profile resolved by :mod:`aiosso._configfiles`, the entry found and checked
by :mod:`aiosso._cachekeys` and read by :class:`~aiosso._filecache.JSONFileCache`, the output
written by :mod:`aiosso._credformat`, the same functions the full path uses. No attrs, no
asyncio, no aiohttp, no logging: tens of milliseconds.

Anything else (a miss, an entry about to expire, an unusual or broken setup) answers
``None``, and the full path takes over and reports what is wrong.
"""

from __future__ import annotations

from datetime import datetime, timezone

from aiosso._cachekeys import (
    default_credential_cache_dir,
    role_credentials_cache_key,
    role_credentials_fields,
)
from aiosso._configfiles import read_files, resolve_sso
from aiosso._credformat import credential_process_document, env_variables, render
from aiosso._filecache import JSONFileCache
from aiosso.exceptions import AioSSOError

#: Cached credentials with less than this many seconds left are fetched again, as botocore's
#: ``CachedCredentialFetcher`` does (15 minutes).
EXPIRY_WINDOW = 15 * 60.0


def cached_output(profile_name: str | None, fmt: str) -> str | None:
    """The command's output for *profile_name* from the AWS CLI's cache, or ``None``.

    Args:
        profile_name: the profile; ``None`` means ``AWS_PROFILE``, then
            ``AWS_DEFAULT_PROFILE``, then ``default``.
        fmt: ``credential-process``, ``json``, ``env`` or ``env-no-export``.
    """
    try:
        profiles, sessions, _, _ = read_files()
        profile = resolve_sso(profiles, sessions, profile_name)
        key = role_credentials_cache_key(
            account_id=profile["account_id"],
            role_name=profile["role_name"],
            session_name=profile["session_name"],
            start_url=profile["start_url"],
        )
        data = JSONFileCache(default_credential_cache_dir()).read(key)
        if data is None:
            return None
        access_key_id, secret, token, expiration, account_id = role_credentials_fields(data)
    except (AioSSOError, ValueError, OSError):
        return None
    if (expiration - datetime.now(timezone.utc)).total_seconds() <= EXPIRY_WINDOW:
        return None
    document = credential_process_document(
        access_key_id, secret, token, expiration, account_id or profile["account_id"]
    )
    return render(document, env_variables(access_key_id, secret, token, expiration), fmt)
