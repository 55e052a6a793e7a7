"""What the broker tests share (``test_broker_server.py``, ``test_broker_cli.py``): a small
organisation, an AWS config naming it, SSO tokens in the test HOME's cache, and checks on log
records and connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from aiosso.awsconfig import SSOSession
from aiosso.testing import Account, PortalEmulator
from aiosso.tokencache import SSOToken, SSOTokenCache

__all__ = [
    "CONFIG",
    "DEV",
    "OPS",
    "ORG",
    "SESSION",
    "START_URL",
    "assert_no_secrets",
    "assert_not_listening",
    "running_emulator",
    "seed_token",
    "whole_second_after",
    "write_config",
]

START_URL = "https://d-9999999999.awsapps.com/start"
SESSION = SSOSession(session_name="corp", start_url=START_URL, sso_region="us-east-1")
DEV = Account("111111111111", "Development", "dev@example.com", ("Developer",))
OPS = Account("222222222222", "Operations", "ops@example.com", ("Operator", "ReadOnly"))
ORG = [DEV, OPS]
CONFIG = (
    "[sso-session corp]\n"
    f"sso_start_url = {START_URL}\nsso_region = us-east-1\n\n"
    "[profile dev]\nsso_session = corp\n"
    f"sso_account_id = {DEV.account_id}\nsso_role_name = Developer\nregion = eu-west-1\n\n"
    "[profile ops]\nsso_session = corp\n"
    f"sso_account_id = {OPS.account_id}\nsso_role_name = Operator\n"
)


def write_config(text: str = CONFIG) -> None:
    """Write the test HOME's AWS config file (``AWS_CONFIG_FILE``, set by conftest.py)."""
    path = Path(os.environ["AWS_CONFIG_FILE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@contextlib.asynccontextmanager
async def running_emulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PortalEmulator]:
    """An emulator of :data:`ORG`, the SSO and SSO-OIDC endpoint variables naming it (so
    subprocesses use it too), and :data:`CONFIG` written."""
    async with PortalEmulator(organisation=ORG) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", emulator.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", emulator.url)
        write_config()
        yield emulator


def seed_token(
    emu: PortalEmulator,
    *,
    lifetime: float = 3600.0,
    cached_expiry: float | None = None,
    refreshable: bool = True,
) -> tuple[SSOToken, str]:
    """A new login of ``corp`` written to the cache: its token lives *lifetime* seconds at the
    emulator, and the cache file says it expires at *cached_expiry* (epoch seconds; default:
    *lifetime* from now). Returns the cached token and its refresh token (which the file holds
    only if *refreshable*).

    The file holds whole seconds, as the AWS CLI writes it: give a whole-second
    *cached_expiry* (:func:`whole_second_after`) where fractions matter."""
    registration = emu.register_client()
    pair = emu.issue_token_pair(registration.client_id, expires_in=lifetime)
    expiry = time.time() + lifetime if cached_expiry is None else cached_expiry
    token = SSOToken(
        access_token=pair.access_token,
        expires_at=datetime.fromtimestamp(expiry, timezone.utc),
        start_url=START_URL,
        region="us-east-1",
        client_id=registration.client_id,
        client_secret=registration.client_secret,
        registration_expires_at=datetime.fromtimestamp(registration.expires_at, timezone.utc),
        refresh_token=pair.refresh_token if refreshable else None,
    )
    SSOTokenCache().save_sync(SESSION, token)
    return token, pair.refresh_token


def whole_second_after(delay: float) -> float:
    """The first whole second (epoch) at least *delay* seconds from now."""
    return float(math.ceil(time.time() + delay))


def assert_no_secrets(records: Iterable[logging.LogRecord], secrets: Iterable[str]) -> None:
    """No record's message, arguments or traceback holds any of *secrets*."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = [formatter.format(record) + repr(record.args) for record in records]
    for secret in {s for s in secrets if s}:
        for text in texts:
            at = text.find(secret)
            if at >= 0:
                shown = text[:120] + " ... " + text[max(0, at - 60) : at] + "<SECRET>"
                raise AssertionError(f"a secret is logged: {shown!r}")


async def assert_not_listening(url: str) -> None:
    """Nothing accepts connections at *url*'s host and port any more."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    try:
        _, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except OSError:
        return
    writer.close()
    await writer.wait_closed()
    raise AssertionError(f"something still listens at {url}")
