"""Role credentials as other tools read them: ``credential_process`` JSON, environment
variables, and the command line's output formats.

Plain functions over plain values (no attrs, no asyncio): :class:`~aiosso.RoleCredentials`
converts through them, and so does a cache-hit ``aiosso credential-process``
(:mod:`aiosso._quick`), which never builds one.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def iso(value: datetime) -> str:
    """ISO 8601, whole seconds rounded down (conservative), as ``aws configure
    export-credentials`` writes an expiration."""
    return value.replace(microsecond=0).isoformat()


def credential_process_document(
    access_key_id: str,
    secret_access_key: str,
    session_token: str,
    expiration: datetime,
    account_id: str,
) -> dict[str, Any]:
    """The JSON object a ``credential_process`` command prints (``Version`` 1)."""
    return {
        "Version": 1,
        "AccessKeyId": access_key_id,
        "SecretAccessKey": str(secret_access_key),
        "SessionToken": str(session_token),
        "Expiration": iso(expiration),
        "AccountId": account_id,
    }


def env_variables(
    access_key_id: str, secret_access_key: str, session_token: str, expiration: datetime
) -> dict[str, str]:
    """The environment variables the AWS SDKs and CLI read, as plain strings."""
    return {
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": str(secret_access_key),
        "AWS_SESSION_TOKEN": str(session_token),
        "AWS_CREDENTIAL_EXPIRATION": iso(expiration),
    }


def render(document: dict[str, Any], env: dict[str, str], fmt: str) -> str:
    """The command line's text for *fmt*: ``env`` (export lines for a POSIX shell),
    ``env-no-export``, ``json`` (the document without ``Version``) or ``credential-process``
    (the document)."""
    if fmt == "env":
        return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
    if fmt == "env-no-export":
        return "".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items())
    if fmt == "json":
        document = {key: value for key, value in document.items() if key != "Version"}
    return json.dumps(document, indent=2) + "\n"
