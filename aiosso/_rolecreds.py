"""Role credentials as a value object: :class:`RoleCredentials`.

The parsed ``roleCredentials`` of ``GetRoleCredentials``: frozen, with the secret key and
session token kept out of ``repr()``, ``str()`` and the repr of ``attrs.asdict()``; it
converts to the formats other tools read (``credential_process`` JSON, environment
variables). Light on purpose (no asyncio): a cache-hit ``aiosso credential-process`` uses it.
Re-exported by :mod:`aiosso.credentials`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

import attrs

from aiosso._credformat import credential_process_document, env_variables, iso
from aiosso.exceptions import ResponseParserError

__all__ = ["RoleCredentials"]

_OPERATION: Final = "GetRoleCredentials"
_REDACTED: Final = "<redacted>"


class _Secret(str):
    """A ``str`` whose ``repr()`` is redacted, so containers holding it log safely.

    ``str()``, formatting, comparison, hashing and ``json.dumps`` see the real value.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return _REDACTED


def _secret(value: str) -> str:
    return _Secret(value)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("expiration must be a timezone-aware datetime")
    return value.astimezone(timezone.utc)


_iso = iso  # the name the cache's warnings use


@attrs.frozen(kw_only=True, repr=False)
class RoleCredentials:
    """Short-term AWS credentials for one role in one account.

    The secret fields are hidden from ``repr()``/``str()`` and show as ``<redacted>`` in the
    repr of containers (e.g. ``attrs.asdict(creds)``); reading the attribute gives the value.

    Attributes:
        access_key_id: the access key id (``ASIA...``); not a secret.
        secret_access_key: the secret access key.
        session_token: the session token.
        expiration: when the credentials stop working, as an aware UTC ``datetime``
            (an aware value in another zone is converted; a naive one is refused).
        account_id: the account the credentials are for.
        role_name: the role (permission set) they assume.

    Raises:
        ValueError: ``expiration`` is a naive datetime.
    """

    access_key_id: str
    secret_access_key: str = attrs.field(converter=_secret, repr=False)
    session_token: str = attrs.field(converter=_secret, repr=False)
    expiration: datetime = attrs.field(converter=_utc)
    account_id: str
    role_name: str

    def __repr__(self) -> str:
        return (
            f"RoleCredentials(access_key_id={self.access_key_id!r}, "
            f"account_id={self.account_id!r}, role_name={self.role_name!r}, "
            f"expiration={_iso(self.expiration)!r})"
        )

    @classmethod
    def from_response(
        cls, response: Mapping[str, Any], *, account_id: str, role_name: str
    ) -> RoleCredentials:
        """Parse a ``get_role_credentials`` result.

        Args:
            response: the dict returned by ``get_role_credentials`` (the full reply, with
                ``roleCredentials``).
            account_id: the account that was asked for.
            role_name: the role that was asked for.

        Returns:
            The credentials, ``expiration`` converted from epoch milliseconds.

        Raises:
            ResponseParserError: ``roleCredentials`` is missing, or a member is missing or of
                the wrong type. The message names the member, never its value.
        """
        reply: object = response  # checked at run time too: callers may pass anything
        raw = reply.get("roleCredentials") if isinstance(reply, Mapping) else None
        if not isinstance(raw, Mapping):
            raise ResponseParserError(
                operation_name=_OPERATION, reason="the reply has no roleCredentials object"
            )
        strings = []
        for member in ("accessKeyId", "secretAccessKey", "sessionToken"):
            value = raw.get(member)
            if not isinstance(value, str) or not value:
                raise ResponseParserError(
                    operation_name=_OPERATION,
                    reason=f"roleCredentials.{member} is missing or not a non-empty string",
                )
            strings.append(value)
        millis = raw.get("expiration")
        if not isinstance(millis, int) or isinstance(millis, bool):
            raise ResponseParserError(
                operation_name=_OPERATION,
                reason="roleCredentials.expiration is missing or not epoch milliseconds",
            )
        try:
            expiration = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ResponseParserError(
                operation_name=_OPERATION,
                reason="roleCredentials.expiration is out of range",
            ) from None
        access_key_id, secret_access_key, session_token = strings
        return cls(
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            expiration=expiration,
            account_id=account_id,
            role_name=role_name,
        )

    def to_credential_process(self) -> dict[str, Any]:
        """The JSON object a ``credential_process`` command prints (``json.dumps`` it).

        Returns:
            ``{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration",
            "AccountId"}``, with ``Expiration`` in ISO 8601 as ``aws configure
            export-credentials`` writes it (``2030-03-17T17:46:40+00:00``).
        """
        return credential_process_document(
            self.access_key_id,
            self.secret_access_key,
            self.session_token,
            self.expiration,
            self.account_id,
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables the AWS SDKs and CLI read.

        Returns:
            ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` and
            ``AWS_CREDENTIAL_EXPIRATION`` (ISO 8601), as plain strings.
        """
        return env_variables(
            self.access_key_id, self.secret_access_key, self.session_token, self.expiration
        )

    def expires_in(self, now: float | None = None) -> float:
        """Seconds until expiration (negative once expired).

        Args:
            now: the current time in epoch seconds; default ``time.time()``.
        """
        return self.expiration.timestamp() - (time.time() if now is None else now)

    def is_expired(self, margin: float = 0.0, now: float | None = None) -> bool:
        """Whether the credentials expire within ``margin`` seconds of ``now``.

        Args:
            margin: seconds of validity required; ``0`` means "already expired".
            now: the current time in epoch seconds; default ``time.time()``.
        """
        return self.expires_in(now) <= margin
