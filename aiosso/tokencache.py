"""The AWS CLI v2 SSO token cache (``~/.aws/sso/cache``), shared safely between processes.

Files are the CLI's, in both directions: ``<sha1>.json`` named by the sso-session name (or,
for legacy profiles, the start URL), holding ``startUrl``, ``region``, ``accessToken``,
``expiresAt``, ``clientId``, ``clientSecret``, ``registrationExpiresAt`` and
``refreshToken``. A token written by ``aws sso login`` is read here, and one written here is
read by botocore's ``SSOTokenProvider``.

What this adds to the CLI's own cache:

* **Atomic writes.** A file is only ever replaced whole: a temporary file in the same
  directory is written, flushed and fsynced, then renamed over the old one. A crash or an
  error mid-write leaves the previous content (even a corrupt one) and no temporary file.
* **A cross-process lock per key.** ``async with cache.locked(session):`` holds an exclusive
  ``flock`` on a sibling ``<sha1>.lock`` file (``msvcrt.locking`` on Windows), so processes
  that all find an expiring token refresh it once, and tasks in one process first queue on
  an ``asyncio.Lock``. Waiting polls a non-blocking lock with ``asyncio.sleep``, so it
  never blocks the event loop and is cancellable at once. Lock files are empty, 0600, and
  never deleted (deleting a lock file another process waits on would split the lock).
  The lock is advisory: the AWS CLI does not take it, so a concurrent ``aws sso login``
  still only ever sees whole files.
* **Permissions.** Files are created 0600, and the folders aiosso creates 0700 (``~/.aws``
  and ``~/.aws/sso`` too when missing), even under umask 000; a world-writable cache directory
  is refused (anyone could plant a token), a group-writable one is used with a warning in the
  log; a cache file readable by others is still read, with a warning in the log. Lock files
  are opened without following symbolic links.
* **No blocking I/O on the event loop.** The async methods do file work in a worker thread;
  the ``*_sync`` twins are for command-line code.
* **Clear errors.** A missing, incomplete, truncated or non-JSON token file raises
  :class:`SSOTokenLoadError` naming the file or the session, never a ``JSONDecodeError``.

Also here, for the login and credential code built on top: the client-registration files of
the CLI's login flows (same directory) and the ``~/.aws/cli/cache`` role-credential files.
The file machinery itself (:class:`JSONFileCache`) lives in ``aiosso._filecache``.

Secrets (access, refresh and session tokens, client and secret keys) never appear in
reprs, log records or exception messages.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from aiosso._cachekeys import (
    default_credential_cache_dir,
    default_token_cache_dir,
    format_timestamp,
    parse_timestamp,
    registration_cache_key,
    role_credentials_cache_key,
    role_credentials_fields,
    token_cache_key,
)
from aiosso._filecache import (
    CacheFileError,
    CacheLockTimeoutError,
    CorruptCacheFileError,
    JSONFileCache,
    to_thread,
)
from aiosso.awsconfig import SSOSession
from aiosso.exceptions import (
    SSOTokenLoadError,
)

__all__ = [
    "CacheFileError",
    "CacheLockTimeoutError",
    "CachedRoleCredentials",
    "ClientRegistration",
    "CorruptCacheFileError",
    "JSONFileCache",
    "RoleCredentialCache",
    "SSOToken",
    "SSOTokenCache",
    "SSOTokenLoadError",
    "default_credential_cache_dir",
    "default_token_cache_dir",
    "format_timestamp",
    "parse_timestamp",
    "registration_cache_key",
    "role_credentials_cache_key",
    "token_cache_key",
]

logger = logging.getLogger(__name__)


# -- keys and timestamps ------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(_inst: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime")


def _keys_only(extra: Mapping[str, Any]) -> str:
    return repr(sorted(extra))


# -- the token value ----------------------------------------------------------------------

# JSON key -> (attribute, is a timestamp)
_TOKEN_FIELDS: dict[str, tuple[str, bool]] = {
    "startUrl": ("start_url", False),
    "region": ("region", False),
    "accessToken": ("access_token", False),
    "expiresAt": ("expires_at", True),
    "clientId": ("client_id", False),
    "clientSecret": ("client_secret", False),
    "registrationExpiresAt": ("registration_expires_at", True),
    "refreshToken": ("refresh_token", False),
}


def _no_known_keys(
    _inst: object, _attribute: attrs.Attribute[Any], value: Mapping[str, Any]
) -> None:
    clash = sorted(set(value) & set(_TOKEN_FIELDS))
    if clash:
        raise ValueError(f"extra must not hold token fields: {clash}")


@attrs.frozen(kw_only=True)
class SSOToken:
    """One cached SSO access token, with the client registration cached beside it.

    Args:
        access_token: the bearer token (hidden from repr).
        expires_at: when it expires (aware ``datetime``).
        start_url: ``startUrl``.
        region: ``region``, the SSO region.
        client_id: ``clientId`` of the OIDC client registration.
        client_secret: ``clientSecret`` (hidden from repr).
        registration_expires_at: ``registrationExpiresAt``.
        refresh_token: ``refreshToken`` (hidden from repr).
        extra: other fields of the file (the CLI's ``receivedAt``, other tools' fields),
            written back unchanged by :meth:`to_json`; their values are hidden from repr.
    """

    access_token: str = attrs.field(repr=False)
    expires_at: datetime = attrs.field(validator=_aware)
    start_url: str | None = None
    region: str | None = None
    client_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)
    registration_expires_at: datetime | None = attrs.field(default=None, validator=_aware)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    extra: Mapping[str, Any] = attrs.field(
        factory=dict, repr=_keys_only, hash=False, validator=_no_known_keys
    )

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, source: str = "the cache") -> SSOToken:
        """Build from the cache file's JSON object.

        Args:
            data: the decoded file.
            source: who the token is for, in messages (botocore uses the start URL).

        Raises:
            SSOTokenLoadError: ``Token for <source> is invalid`` when ``accessToken`` or
                ``expiresAt`` is absent, with a reason appended when a field has the wrong
                type or a timestamp cannot be read.
        """
        if "accessToken" not in data or "expiresAt" not in data:
            raise SSOTokenLoadError(error_msg=f"Token for {source} is invalid")
        values: dict[str, Any] = {}
        for key, (attribute, is_time) in _TOKEN_FIELDS.items():
            raw = data.get(key)
            if raw is None:
                continue
            if not isinstance(raw, str):
                raise SSOTokenLoadError(
                    error_msg=f"Token for {source} is invalid: {key} is not a string"
                )
            if is_time:
                try:
                    values[attribute] = parse_timestamp(raw)
                except ValueError:
                    raise SSOTokenLoadError(
                        error_msg=f"Token for {source} is invalid: {key} {raw!r} is not "
                        "a timestamp with a time zone"
                    ) from None
            else:
                values[attribute] = raw
        if not values.get("access_token") or "expires_at" not in values:
            raise SSOTokenLoadError(error_msg=f"Token for {source} is invalid")
        extra = {key: value for key, value in data.items() if key not in _TOKEN_FIELDS}
        return cls(**values, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """The cache file's JSON object: the CLI's field order, timestamps as ``...Z``.

        Unset optional fields are left out; :attr:`extra` fields follow.
        """
        out: dict[str, Any] = {}
        for key, (attribute, is_time) in _TOKEN_FIELDS.items():
            value = getattr(self, attribute)
            if value is not None:
                out[key] = format_timestamp(value) if is_time else value
        out.update(self.extra)
        return out

    def seconds_remaining(self, now: datetime | None = None) -> float:
        """Seconds until :attr:`expires_at` (negative once expired)."""
        return (self.expires_at - (now or _utc_now())).total_seconds()

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """Whether fewer than *seconds* remain (botocore refreshes within 900)."""
        return self.seconds_remaining(now) < seconds

    def can_refresh(self, now: datetime | None = None) -> bool:
        """Whether a ``refresh_token`` grant is possible: the refresh token, the client id and
        secret are present and the registration has not expired (botocore's preconditions)."""
        if not (self.refresh_token and self.client_id and self.client_secret):
            return False
        if self.registration_expires_at is None:
            return False
        return self.registration_expires_at > (now or _utc_now())


# -- the SSO token cache ------------------------------------------------------------------


class SSOTokenCache:
    """The AWS CLI v2 SSO token cache, by session.

    A typical refresh is a read-modify-write under the lock, so that concurrent tasks and
    processes refresh once::

        cache = SSOTokenCache()
        async with cache.locked(session):
            token = await cache.load(session)
            if token.expires_within(900) and token.can_refresh():
                token = await refresh(token)      # the OIDC call
                await cache.save(session, token)

    A lone :meth:`save` needs no lock: readers see the old file or the new one, never a mix.

    Args:
        directory: the cache directory; ``None`` means ``~/.aws/sso/cache`` (resolved now).
        poll_interval: see :class:`JSONFileCache`.
    """

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, *, poll_interval: float = 0.05
    ) -> None:
        self.files = JSONFileCache(
            default_token_cache_dir() if directory is None else directory,
            poll_interval=poll_interval,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.files.directory)!r})"

    @property
    def directory(self) -> Path:
        """The cache directory."""
        return self.files.directory

    @staticmethod
    def key(session: SSOSession) -> str:
        """The session's cache key (see :func:`token_cache_key`)."""
        return token_cache_key(start_url=session.start_url, session_name=session.session_name)

    def path(self, session: SSOSession) -> Path:
        """The session's token file."""
        return self.files.path(self.key(session))

    def locked(
        self, session: SSOSession, *, timeout: float | None = None
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """The session's cross-process lock (see :meth:`JSONFileCache.locked`)."""
        return self.files.locked(self.key(session), timeout=timeout)

    def locked_sync(
        self, session: SSOSession, *, timeout: float | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """The blocking twin of :meth:`locked`."""
        return self.files.locked_sync(self.key(session), timeout=timeout)

    def load_sync(self, session: SSOSession) -> SSOToken:
        """The session's cached token (blocking).

        Raises:
            SSOTokenLoadError: ``Token for <name> does not exist`` (session name, else start
                URL); ``Token for <start URL> is invalid`` (fields missing or unreadable);
                a corrupt file, named.
            CacheFileError: the file cannot be read or the directory is unsafe.
        """
        key = self.key(session)
        try:
            data = self.files.read(key)
        except CorruptCacheFileError as e:
            raise SSOTokenLoadError(
                error_msg=f"{e}. Log in again (aws sso login) to replace it.",
                path=e.kwargs.get("path"),
            ) from e
        if data is None:
            raise SSOTokenLoadError(
                error_msg=f"Token for {session.display_name} does not exist",
                path=str(self.files.path(key)),
            )
        return SSOToken.from_json(data, source=session.start_url)

    def save_sync(self, session: SSOSession, token: SSOToken) -> None:
        """Write *token* as the session's cache file, atomically, mode 0600 (blocking).

        Raises:
            CacheFileError: the directory is unsafe or the write failed (old file intact).
        """
        self.files.write(self.key(session), token.to_json())

    def delete_sync(self, session: SSOSession) -> bool:
        """Delete the session's token file (blocking); ``False`` if there was none."""
        return self.files.remove(self.key(session))

    async def load(self, session: SSOSession) -> SSOToken:
        """:meth:`load_sync` in a worker thread."""
        return await to_thread(self.load_sync, session)

    async def save(self, session: SSOSession, token: SSOToken) -> None:
        """:meth:`save_sync` in a worker thread."""
        await to_thread(self.save_sync, session, token)

    async def delete(self, session: SSOSession) -> bool:
        """:meth:`delete_sync` in a worker thread."""
        return await to_thread(self.delete_sync, session)

    def load_registration_sync(self, key: str) -> ClientRegistration | None:
        """The client registration cached under *key* (see :func:`registration_cache_key`),
        or ``None`` when absent, corrupt or malformed: a miss means registering again, as the
        AWS CLI does (blocking).

        Raises:
            CacheFileError: the directory is unsafe or the file cannot be read.
        """
        try:
            data = self.files.read(key)
            return None if data is None else ClientRegistration.from_json(data)
        except (CorruptCacheFileError, ValueError) as e:
            logger.debug("Ignoring client registration %s: %s", key, e)
            return None

    def save_registration_sync(self, key: str, registration: ClientRegistration) -> None:
        """Write *registration* under *key*, atomically, mode 0600 (blocking)."""
        self.files.write(key, registration.to_json())

    async def load_registration(self, key: str) -> ClientRegistration | None:
        """:meth:`load_registration_sync` in a worker thread."""
        return await to_thread(self.load_registration_sync, key)

    async def save_registration(self, key: str, registration: ClientRegistration) -> None:
        """:meth:`save_registration_sync` in a worker thread."""
        await to_thread(self.save_registration_sync, key, registration)


# -- client registrations (same directory) ------------------------------------------------

_REGISTRATION_FIELDS = ("clientId", "clientSecret", "expiresAt", "scopes", "grantTypes")


@attrs.frozen(kw_only=True)
class ClientRegistration:
    """An SSO-OIDC client registration as the AWS CLI caches it for its login flows.

    The file (``<registration_cache_key>.json`` beside the tokens) is ``{"clientId",
    "clientSecret", "expiresAt", "scopes"?, "grantTypes"?}``; other fields (the CLI's
    ``receivedAt``) are kept in :attr:`extra`.

    Attributes:
        client_id: ``clientId``.
        client_secret: ``clientSecret`` (never in the ``repr``).
        expires_at: ``expiresAt``, when the registration expires (timezone-aware).
        scopes: ``scopes``, if the file has them.
        grant_types: ``grantTypes``, if the file has them.
        extra: the file's other fields, kept as they are.
    """

    client_id: str
    client_secret: str = attrs.field(repr=False)
    expires_at: datetime = attrs.field(validator=_aware)
    scopes: tuple[str, ...] | None = None
    grant_types: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=_keys_only, hash=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClientRegistration:
        """Read a registration file's object.

        Raises:
            ValueError: a field is missing or mistyped (named, never its value).
        """
        for name in ("clientId", "clientSecret", "expiresAt"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"{name} is missing or not a string")
        lists: dict[str, tuple[str, ...] | None] = {}
        for name in ("scopes", "grantTypes"):
            value = data.get(name)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise ValueError(f"{name} is not a list of strings")
            lists[name] = None if value is None else tuple(value)
        try:
            expires_at = parse_timestamp(data["expiresAt"])
        except ValueError:
            raise ValueError("expiresAt is not a timestamp") from None
        return cls(
            client_id=data["clientId"],
            client_secret=data["clientSecret"],
            expires_at=expires_at,
            scopes=lists["scopes"],
            grant_types=lists["grantTypes"],
            extra={k: v for k, v in data.items() if k not in _REGISTRATION_FIELDS},
        )

    def to_json(self) -> dict[str, Any]:
        """The file's object, as the AWS CLI writes it (unset lists left out)."""
        out: dict[str, Any] = {
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "expiresAt": format_timestamp(self.expires_at),
        }
        if self.scopes is not None:
            out["scopes"] = list(self.scopes)
        if self.grant_types is not None:
            out["grantTypes"] = list(self.grant_types)
        out.update({k: v for k, v in self.extra.items() if k not in _REGISTRATION_FIELDS})
        return out


# -- the role-credential cache (~/.aws/cli/cache) -----------------------------------------


@attrs.frozen(kw_only=True)
class CachedRoleCredentials:
    """Role credentials as the AWS CLI v2 caches them for SSO profiles.

    The file is ``{"ProviderType": "sso", "Credentials": {"AccessKeyId", "SecretAccessKey",
    "SessionToken", "Expiration": "2030-03-17T17:46:40Z", "AccountId"}}``.

    Attributes:
        access_key_id: ``AccessKeyId``.
        secret_access_key: ``SecretAccessKey`` (never in the ``repr``).
        session_token: ``SessionToken`` (never in the ``repr``).
        expiration: ``Expiration`` (timezone-aware).
        account_id: ``AccountId``, if the entry has it.
    """

    access_key_id: str
    secret_access_key: str = attrs.field(repr=False)
    session_token: str = attrs.field(repr=False)
    expiration: datetime = attrs.field(validator=_aware)
    account_id: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CachedRoleCredentials:
        """Read a cache file's object.

        Raises:
            ValueError: not an SSO credential entry, or a field is missing or mistyped (the
                message names the field, never a value).
        """
        access_key_id, secret_access_key, session_token, expiration, account_id = (
            role_credentials_fields(data)
        )
        return cls(
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            expiration=expiration,
            account_id=account_id,
        )

    def to_json(self) -> dict[str, Any]:
        """The cache file's object, as the AWS CLI writes it."""
        creds: dict[str, Any] = {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": format_timestamp(self.expiration),
        }
        if self.account_id is not None:
            creds["AccountId"] = self.account_id
        return {"ProviderType": "sso", "Credentials": creds}


class RoleCredentialCache:
    """``~/.aws/cli/cache`` entries for SSO role credentials, keyed by
    :func:`role_credentials_cache_key`.

    An entry that is absent, corrupt or not an SSO entry reads as a miss (``None``, logged
    at debug): the credentials can always be fetched again, and the next save replaces it.

    Args:
        directory: the cache directory; ``None`` means ``~/.aws/cli/cache`` (resolved now).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.files = JSONFileCache(
            default_credential_cache_dir() if directory is None else directory
        )

    def load_sync(self, key: str) -> CachedRoleCredentials | None:
        """The cached credentials of *key*, or ``None`` (blocking).

        Raises:
            CacheFileError: the directory is unsafe or the file cannot be read.
        """
        try:
            data = self.files.read(key)
        except CorruptCacheFileError as e:
            logger.debug("Ignoring a corrupt credential cache entry: %s", e)
            return None
        if data is None:
            return None
        try:
            return CachedRoleCredentials.from_json(data)
        except ValueError as e:
            logger.debug("Ignoring credential cache entry %s: %s", key, e)
            return None

    def save_sync(self, key: str, credentials: CachedRoleCredentials) -> None:
        """Write *credentials* under *key*, atomically, mode 0600 (blocking)."""
        self.files.write(key, credentials.to_json())

    async def load(self, key: str) -> CachedRoleCredentials | None:
        """:meth:`load_sync` in a worker thread."""
        return await to_thread(self.load_sync, key)

    async def save(self, key: str, credentials: CachedRoleCredentials) -> None:
        """:meth:`save_sync` in a worker thread."""
        await to_thread(self.save_sync, key, credentials)

    def locked(
        self, key: str, *, timeout: float | None = None
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """The entry's cross-process lock (see :meth:`JSONFileCache.locked`)."""
        return self.files.locked(key, timeout=timeout)
