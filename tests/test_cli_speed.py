"""A cache-hit ``aiosso credential-process`` / ``aiosso export`` stays light (issue 16): it is
answered from ``~/.aws/cli/cache`` without importing asyncio, aiohttp, attrs or logging, checked
in a fresh interpreter; a miss still takes the full path and fetches."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import aiosso
from aiosso.awsconfig import SSOSession
from aiosso.testing import Account, PortalEmulator
from aiosso.tokencache import (
    CachedRoleCredentials,
    RoleCredentialCache,
    SSOToken,
    SSOTokenCache,
    role_credentials_cache_key,
)

START_URL = "https://d-1234567890.awsapps.com/start"
SESSION = SSOSession(session_name="my-sso", start_url=START_URL, sso_region="us-east-1")
ACCOUNT, ROLE = "111111111111", "ReadOnly"
CONFIG = (
    "[sso-session my-sso]\n"
    f"sso_start_url = {START_URL}\nsso_region = us-east-1\n\n"
    f"[profile dev]\nsso_session = my-sso\nsso_account_id = {ACCOUNT}\nsso_role_name = {ROLE}\n"
)
CACHE_KEY = role_credentials_cache_key(account_id=ACCOUNT, role_name=ROLE, session_name="my-sso")
CACHED = CachedRoleCredentials(
    access_key_id="ASIACACHEDCACHEDCACH",
    secret_access_key="cached-secret",
    session_token="cached-session-token",
    expiration=datetime(2099, 1, 1, tzinfo=timezone.utc),
    account_id=ACCOUNT,
)
#: What a cache hit must not import: the event loop, the HTTP stack, attrs, logging, the client.
HEAVY = (
    "asyncio",
    "aiohttp",
    "attrs",
    "logging",
    "aiosso.client",
    "aiosso._fanout",
    "aiosso._demo",
)

#: Runs ``aiosso.cli.main(argv)`` in a fresh interpreter, then reports what got imported.
_CHILD = """
import contextlib, io, json, sys
from aiosso.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
heavy = [m for m in HEAVY if m in sys.modules]
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": heavy}))
"""


@pytest.fixture
def config() -> Path:
    """The test HOME's AWS config file, with the ``dev`` profile on the ``my-sso`` session."""
    path = Path(os.environ["AWS_CONFIG_FILE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG)
    return path


@pytest.fixture
async def emu(config: Path) -> AsyncIterator[PortalEmulator]:
    """An emulator holding the profile's account and role, and a token for it in the cache."""
    org = [Account(ACCOUNT, "Dev", "dev@example.com", (ROLE, "Admin"))]
    async with PortalEmulator(organisation=org) as emulator:
        token = SSOToken(
            access_token=emulator.issue_token(),
            expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
            start_url=START_URL,
            region="us-east-1",
        )
        SSOTokenCache().save_sync(SESSION, token)
        yield emulator


def _child_env(endpoint: str | None = None) -> dict[str, str]:
    env = dict(os.environ)  # the isolated HOME and AWS_CONFIG_FILE of the autouse fixture
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    checkout = str(Path(aiosso.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [checkout, env.get("PYTHONPATH")]))
    if endpoint is not None:
        env["AWS_ENDPOINT_URL_SSO"] = endpoint
    return env


async def run_child(
    tmp_path: Path, *argv: str, endpoint: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``aiosso ARGV`` via ``aiosso.cli.main`` in a fresh ``python -W error``; its last stdout
    line is a JSON object: the exit code, what the command printed, which of :data:`HEAVY` got
    imported."""
    code = f"HEAVY = {HEAVY!r}\n{_CHILD}"
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-W", "error", "-c", code, *argv],
        cwd=tmp_path,
        env=_child_env(endpoint),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def run_cli(tmp_path: Path, *argv: str, endpoint: str | None = None) -> dict[str, Any]:
    """:func:`run_child`'s report: ``{"code", "out", "loaded"}``."""
    proc = await run_child(tmp_path, *argv, endpoint=endpoint)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def _expect_cached(fmt: str, out: str) -> None:
    if fmt == "env":
        assert f"export AWS_ACCESS_KEY_ID={CACHED.access_key_id}\n" in out
        assert f"export AWS_SESSION_TOKEN={CACHED.session_token}\n" in out
        return
    doc = json.loads(out)
    assert doc["AccessKeyId"] == CACHED.access_key_id
    assert doc["SecretAccessKey"] == CACHED.secret_access_key
    assert doc["SessionToken"] == CACHED.session_token
    assert doc.get("Version") == (1 if fmt == "credential-process" else None)


@pytest.mark.parametrize(
    ("argv", "fmt"),
    [
        (("credential-process", "--profile", "dev"), "credential-process"),
        (("export", "--profile", "dev"), "env"),
        (("export", "--profile", "dev", "--format", "json"), "json"),
        (("export", "--profile", "dev", "--format", "credential-process"), "credential-process"),
    ],
)
async def test_cache_hit_prints_cached_credentials_without_asyncio_or_aiohttp(
    config: Path, tmp_path: Path, argv: tuple[str, ...], fmt: str
) -> None:
    """A hit prints the cached credentials with none of the heavy modules imported."""
    RoleCredentialCache().save_sync(CACHE_KEY, CACHED)
    result = await run_cli(tmp_path, *argv, endpoint="http://127.0.0.1:9")  # never contacted
    assert result["code"] == 0
    _expect_cached(fmt, result["out"])
    assert result["loaded"] == []


async def test_profile_from_aws_profile_is_a_light_hit_too(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``credential-process`` without ``--profile`` takes ``AWS_PROFILE``, still light."""
    RoleCredentialCache().save_sync(CACHE_KEY, CACHED)
    monkeypatch.setenv("AWS_PROFILE", "dev")
    result = await run_cli(tmp_path, "credential-process", endpoint="http://127.0.0.1:9")
    assert result["code"] == 0
    _expect_cached("credential-process", result["out"])
    assert result["loaded"] == []


async def test_cache_miss_fetches_through_the_full_path(
    emu: PortalEmulator, tmp_path: Path
) -> None:
    """No cache entry: the full path fetches from the portal once and writes the entry."""
    assert RoleCredentialCache().load_sync(CACHE_KEY) is None
    result = await run_cli(tmp_path, "credential-process", "--profile", "dev", endpoint=emu.url)
    assert result["code"] == 0
    doc = json.loads(result["out"])
    assert doc["Version"] == 1
    assert doc["AccountId"] == ACCOUNT
    assert doc["AccessKeyId"] != CACHED.access_key_id
    assert "aiohttp" in result["loaded"]  # it did go the full way
    assert emu.stats.requests.get("GetRoleCredentials") == 1
    entry = RoleCredentialCache().load_sync(CACHE_KEY)
    assert entry is not None
    assert entry.access_key_id == doc["AccessKeyId"]

    again = await run_cli(tmp_path, "export", "--profile", "dev", "--format", "json")
    assert again["loaded"] == []  # the entry just written is a light hit
    assert json.loads(again["out"])["AccessKeyId"] == doc["AccessKeyId"]
    assert emu.stats.requests.get("GetRoleCredentials") == 1


async def test_expiring_entry_is_a_miss(emu: PortalEmulator, tmp_path: Path) -> None:
    """An entry about to expire is not served: the full path fetches fresh credentials."""
    soon = datetime.now(timezone.utc) + timedelta(seconds=30)
    RoleCredentialCache().save_sync(
        CACHE_KEY,
        CachedRoleCredentials(
            access_key_id=CACHED.access_key_id,
            secret_access_key=CACHED.secret_access_key,
            session_token=CACHED.session_token,
            expiration=soon,
            account_id=ACCOUNT,
        ),
    )
    result = await run_cli(tmp_path, "export", "--profile", "dev", endpoint=emu.url)
    assert result["code"] == 0
    assert f"AWS_ACCESS_KEY_ID={CACHED.access_key_id}" not in result["out"]
    assert "export AWS_ACCESS_KEY_ID=" in result["out"]
    assert emu.stats.requests.get("GetRoleCredentials") == 1


async def test_no_cache_bypasses_a_hit(emu: PortalEmulator, tmp_path: Path) -> None:
    """``--no-cache`` ignores a usable entry and fetches, leaving the entry as it was."""
    RoleCredentialCache().save_sync(CACHE_KEY, CACHED)
    argv = ("credential-process", "--profile", "dev", "--no-cache")
    result = await run_cli(tmp_path, *argv, endpoint=emu.url)
    assert result["code"] == 0
    assert json.loads(result["out"])["AccessKeyId"] != CACHED.access_key_id
    assert emu.stats.requests.get("GetRoleCredentials") == 1
    assert RoleCredentialCache().load_sync(CACHE_KEY) == CACHED


async def test_errors_still_take_the_full_path(config: Path, tmp_path: Path) -> None:
    """An unknown profile is reported by the full path: exit 2 and botocore's message."""
    proc = await run_child(tmp_path, "credential-process", "--profile", "nope")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["code"] == 2
    assert "The config profile (nope) could not be found" in proc.stderr
