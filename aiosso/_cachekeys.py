"""The light core of :mod:`aiosso.tokencache`: cache keys, timestamps, and the AWS CLI's
role-credential entry, as plain values.

No attrs, no logging, no asyncio at import time: a cache-hit ``aiosso credential-process``
finds and reads its entry with this module alone (see :mod:`aiosso._quick`), and
:mod:`aiosso.tokencache` builds its value objects on the same functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def default_token_cache_dir() -> Path:
    """``~/.aws/sso/cache``, resolved now (not at import, so a changed ``HOME`` counts)."""
    return Path(os.path.expanduser(os.path.join("~", ".aws", "sso", "cache")))


def default_credential_cache_dir() -> Path:
    """``~/.aws/cli/cache``: where the AWS CLI v2 caches role credentials."""
    return Path(os.path.expanduser(os.path.join("~", ".aws", "cli", "cache")))


def token_cache_key(*, start_url: str, session_name: str | None = None) -> str:
    """The token file's name without ``.json``: sha1 of the session name, else the start URL."""
    source = session_name if session_name is not None else start_url
    return hashlib.sha1(source.encode("utf-8")).hexdigest()


def registration_cache_key(
    *, start_url: str, region: str, scopes: Sequence[str] | None, session_name: str | None
) -> str:
    """The AWS CLI's client-registration cache key (its login flows' ``RegisterClient``).

    sha1 of ``json.dumps({"tool": "botocore", "startUrl", "region", "scopes",
    "session_name"}, sort_keys=True)`` with json's default separators; ``scopes`` is a list
    or ``null``, as the CLI passes it.
    """
    args = {
        "tool": "botocore",
        "startUrl": start_url,
        "region": region,
        "scopes": None if scopes is None else list(scopes),
        "session_name": session_name,
    }
    return hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest()


def role_credentials_cache_key(
    *,
    account_id: str,
    role_name: str,
    session_name: str | None = None,
    start_url: str | None = None,
) -> str:
    """botocore's ``SSOCredentialFetcher`` cache key (the ``~/.aws/cli/cache`` file name).

    Keyed by the session name, else (legacy profiles) the start URL.

    Raises:
        ValueError: neither *session_name* nor *start_url* is given.
    """
    args: dict[str, str] = {"roleName": role_name, "accountId": account_id}
    if session_name:
        args["sessionName"] = session_name
    elif start_url:
        args["startUrl"] = start_url
    else:
        raise ValueError("role_credentials_cache_key needs session_name or start_url")
    text = json.dumps(args, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
    return digest.replace(":", "_").replace(os.sep, "_").replace("/", "_")


_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:(?P<utc>[Zz]|UTC|GMT)|(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2}))"
)


def parse_timestamp(value: str) -> datetime:
    """Parse a cache timestamp into an aware UTC ``datetime``.

    Accepted: ``2030-01-01T00:00:00Z`` (what the CLI writes), ``+00:00`` or any ``±HH:MM``
    offset, the ``UTC`` / ``GMT`` suffix of older writers, and fractional seconds (truncated
    to microseconds). A timestamp without a zone is refused: its meaning is a guess.

    Raises:
        ValueError: *value* is not such a timestamp, or not a valid date and time.
    """
    match = _TIMESTAMP_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a timestamp with a time zone: {value!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    micros = int((fraction + "000000")[:6])
    offset = timedelta(0)
    if match.group("sign"):
        offset = timedelta(hours=int(match.group("oh")), minutes=int(match.group("om")))
        if match.group("sign") == "-":
            offset = -offset
    parsed = datetime(year, month, day, hour, minute, second, micros, tzinfo=timezone(offset))
    return parsed.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """``%Y-%m-%dT%H:%M:%SZ`` in UTC, as the AWS CLI writes (sub-seconds dropped).

    Raises:
        ValueError: *value* is naive.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def role_credentials_fields(
    data: Mapping[str, Any],
) -> tuple[str, str, str, datetime, str | None]:
    """``(access key id, secret key, session token, expiration, account id or None)`` of an
    ``~/.aws/cli/cache`` entry, checked as the AWS CLI writes it:
    ``{"ProviderType": "sso", "Credentials": {"AccessKeyId", "SecretAccessKey",
    "SessionToken", "Expiration", "AccountId"}}``.

    Raises:
        ValueError: not an SSO credential entry, or a field is missing, empty or mistyped
            (the message names the field, never a value).
    """
    if data.get("ProviderType") != "sso":
        raise ValueError("not an SSO credential cache entry (ProviderType is not 'sso')")
    creds = data.get("Credentials")
    if not isinstance(creds, Mapping):
        raise ValueError("Credentials is missing or not an object")
    for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"):
        if not isinstance(creds.get(name), str) or not creds[name]:
            raise ValueError(f"Credentials.{name} is missing or not a string")
    account_id = creds.get("AccountId")
    if account_id is not None and not isinstance(account_id, str):
        raise ValueError("Credentials.AccountId is not a string")
    try:
        expiration = parse_timestamp(creds["Expiration"])
    except ValueError:
        raise ValueError("Credentials.Expiration is not a timestamp") from None
    return (
        creds["AccessKeyId"],
        creds["SecretAccessKey"],
        creds["SessionToken"],
        expiration,
        account_id,
    )
