"""Token provider, profile credentials and the credential-process CLI, end to end against the
emulator's portal and OIDC endpoints, and round-tripped with botocore."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import botocore.session
import pytest

import aiosso
from aiosso.awsconfig import SSOSession
from aiosso.cli import main as cli_main
from aiosso.login import login
from aiosso.profiles import credentials_for_profile
from aiosso.testing import OIDCSettings, PortalEmulator
from aiosso.tokencache import (
    ClientRegistration,
    SSOToken,
    SSOTokenCache,
    registration_cache_key,
    token_cache_key,
)
from aiosso.tokens import SSOTokenProvider

START_URL = "https://d-1234567890.awsapps.com/start"
SESSION = SSOSession(
    session_name="my-sso",
    start_url=START_URL,
    sso_region="us-east-1",
    registration_scopes=("sso:account:access",),
)
LEGACY = SSOSession(session_name=None, start_url=START_URL, sso_region="us-east-1")


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PortalEmulator]:
    """An emulator that both the portal and the OIDC clients (and botocore) are pointed at."""
    async with PortalEmulator(accounts=3, roles_per_account=2) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", emulator.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", emulator.url)
        yield emulator


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def seed_token(
    emu: PortalEmulator,
    *,
    remaining: float,
    session: SSOSession = SESSION,
    refreshable: bool = True,
) -> SSOToken:
    """Write a token for ``session`` into the test HOME's cache, as ``aws sso login`` would."""
    reg = emu.register_client()
    pair = emu.issue_token_pair(reg.client_id, expires_in=max(remaining, 1))
    token = SSOToken(
        access_token=pair.access_token,
        expires_at=_now() + timedelta(seconds=remaining),
        start_url=session.start_url,
        region=session.sso_region,
        client_id=reg.client_id if refreshable else None,
        client_secret=reg.client_secret if refreshable else None,
        registration_expires_at=datetime.fromtimestamp(reg.expires_at, timezone.utc),
        refresh_token=pair.refresh_token if refreshable else None,
    )
    SSOTokenCache().save_sync(session, token)
    return token


def write_config(emu: PortalEmulator, *, legacy: bool = False, extra: str = "") -> str:
    """A config file with profile ``dev`` for the emulator's first account and role."""
    account = emu.organisation.accounts[0]
    if legacy:
        text = (
            "[profile dev]\n"
            f"sso_start_url = {START_URL}\nsso_region = us-east-1\n"
            f"sso_account_id = {account.account_id}\nsso_role_name = {account.roles[0]}\n"
        )
    else:
        text = (
            "[profile dev]\nsso_session = my-sso\n"
            f"sso_account_id = {account.account_id}\nsso_role_name = {account.roles[0]}\n"
            "region = eu-west-1\n\n"
            f"[sso-session my-sso]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
            "sso_registration_scopes = sso:account:access\n"
        )
    path = Path(os.environ["AWS_CONFIG_FILE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + extra)
    return str(path)


# --------------------------------------------------------------------------- provider


async def test_fresh_token_is_returned_without_refresh(emu: PortalEmulator) -> None:
    """A token with more than 15 minutes left is used as cached: no OIDC request."""
    seeded = seed_token(emu, remaining=3600)
    async with SSOTokenProvider(SESSION) as provider:
        token = await provider.get_token()
    assert token.access_token == seeded.access_token
    assert emu.oidc_stats.refreshes == 0


async def test_token_inside_the_window_is_refreshed_and_written_back(emu: PortalEmulator) -> None:
    """Within 15 minutes of expiry the token is refreshed and the file keeps the CLI's fields."""
    seeded = seed_token(emu, remaining=600)
    async with SSOTokenProvider(SESSION) as provider:
        token = await provider.get_token()
    assert token.access_token != seeded.access_token
    assert token.seconds_remaining() > 1800
    assert emu.oidc_stats.refreshes == 1
    path = SSOTokenCache().path(SESSION)
    data = json.loads(path.read_text())
    assert set(data) == {
        "startUrl",
        "region",
        "accessToken",
        "expiresAt",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
        "refreshToken",
    }
    assert data["accessToken"] == token.access_token
    assert data["refreshToken"] != seeded.refresh_token  # the emulator rotates them
    assert data["expiresAt"].endswith("Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    async with aiosso.AsyncSSOClient() as sso:
        page = await sso.list_accounts(accessToken=token.access_token)
    assert len(page["accountList"]) == 3


async def test_concurrent_callers_refresh_once(emu: PortalEmulator) -> None:
    """Fifty tasks asking at once for a token due for refresh cause exactly one refresh."""
    seed_token(emu, remaining=300)
    async with SSOTokenProvider(SESSION) as provider:
        tokens = await asyncio.gather(*(provider.get_token() for _ in range(50)))
    assert len({t.access_token for t in tokens}) == 1
    assert emu.oidc_stats.refreshes == 1


async def test_concurrent_processes_refresh_once(emu: PortalEmulator) -> None:
    """Four processes asking at once cause exactly one refresh and leave a valid file."""
    seed_token(emu, remaining=300)
    script = (
        "import asyncio\n"
        "from aiosso.awsconfig import SSOSession\n"
        "from aiosso.tokens import SSOTokenProvider\n"
        f"s = SSOSession(session_name='my-sso', start_url={START_URL!r}, sso_region='us-east-1')\n"
        "async def main():\n"
        "    async with SSOTokenProvider(s) as p:\n"
        "        t = await p.get_token()\n"
        "        print(len(t.access_token))\n"
        "asyncio.run(main())\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [await asyncio.wait_for(p.communicate(), 60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [r[1] for r in results]
    assert emu.oidc_stats.refreshes == 1
    token = SSOTokenCache().load_sync(SESSION)
    assert token.seconds_remaining() > 1800


async def test_expired_unrefreshable_token_asks_to_log_in(emu: PortalEmulator) -> None:
    """An expired token whose refresh fails raises the clear 'log in again' error."""
    seeded = seed_token(emu, remaining=-60)
    assert seeded.refresh_token is not None
    emu.expire_refresh_token(seeded.refresh_token)
    async with SSOTokenProvider(SESSION) as provider:
        with pytest.raises(aiosso.UnauthorizedSSOTokenError, match="aiosso login"):
            await provider.get_token()
    assert emu.oidc_stats.refreshes == 0


async def test_refresh_failure_keeps_a_still_valid_token(emu: PortalEmulator) -> None:
    """While the old token is still valid a failed refresh is not fatal."""
    seeded = seed_token(emu, remaining=300)
    assert seeded.refresh_token is not None
    emu.expire_refresh_token(seeded.refresh_token)
    async with SSOTokenProvider(SESSION) as provider:
        token = await provider.get_token()
    assert token.access_token == seeded.access_token


def _save_registration(token: SSOToken) -> Path:
    """The registration file a login on ``my-sso`` leaves beside the token (same client)."""
    assert token.client_id
    assert token.client_secret
    assert token.registration_expires_at
    key = registration_cache_key(
        start_url=START_URL,
        region="us-east-1",
        scopes=["sso:account:access"],
        session_name="my-sso",
    )
    registration = ClientRegistration(
        client_id=token.client_id,
        client_secret=token.client_secret,
        expires_at=token.registration_expires_at,
        scopes=("sso:account:access",),
    )
    SSOTokenCache().save_registration_sync(key, registration)
    return SSOTokenCache().directory / f"{key}.json"


async def test_refresh_rejecting_the_client_drops_the_registration(
    emu: PortalEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A refresh refused with InvalidClientException drops the cached registration (a still
    valid token is kept); the next login registers again and works."""
    seeded = seed_token(emu, remaining=300)
    path = _save_registration(seeded)
    assert seeded.client_id is not None
    emu.expire_registration(seeded.client_id)
    with caplog.at_level("WARNING", logger="aiosso.tokens"):
        async with SSOTokenProvider(SESSION) as provider:
            token = await provider.get_token()
    assert token.access_token == seeded.access_token
    assert not path.exists()
    assert "rejected its client registration (InvalidClientException)" in caplog.text
    assert str(seeded.client_secret) not in caplog.text

    emu.oidc_settings = OIDCSettings(device_approval_after_polls=0, device_interval=0)
    result = await login(
        SESSION, use_device_code=True, open_browser=None, on_prompt=lambda m, u: None, force=True
    )
    assert emu.oidc_stats.registrations == 1  # seed_token's went around the counters
    assert result.token.client_id != seeded.client_id


async def test_expired_token_with_a_rejected_client_asks_to_log_in(emu: PortalEmulator) -> None:
    """An expired token whose client the service rejects (InvalidClientMetadataException too)
    raises 'log in again'; another session's or a newer registration is left alone."""
    seeded = seed_token(emu, remaining=-60)
    path = _save_registration(seeded)
    emu.fail_next("CreateToken", status=400, code="InvalidClientMetadataException")
    async with SSOTokenProvider(SESSION) as provider:
        with pytest.raises(aiosso.UnauthorizedSSOTokenError, match="aiosso login"):
            await provider.get_token()
    assert not path.exists()

    newer = attrs.evolve(seeded, client_id="another-client")
    _save_registration(newer)
    emu.fail_next("CreateToken", status=401, code="InvalidClientException")
    async with SSOTokenProvider(SESSION) as provider:
        with pytest.raises(aiosso.UnauthorizedSSOTokenError):
            await provider.get_token()
    assert json.loads(path.read_text())["clientId"] == "another-client"


async def test_legacy_tokens_are_never_refreshed(emu: PortalEmulator) -> None:
    """A legacy (no sso-session) expired token raises without any request, as botocore."""
    seed_token(emu, remaining=-60, session=LEGACY)
    async with SSOTokenProvider(LEGACY) as provider:
        with pytest.raises(aiosso.UnauthorizedSSOTokenError):
            await provider.get_token()
    assert emu.stats.total == 0


async def test_missing_token_is_a_load_error(emu: PortalEmulator) -> None:
    """No cache file: botocore's 'Token for my-sso does not exist'."""
    async with SSOTokenProvider(SESSION) as provider:
        with pytest.raises(aiosso.SSOTokenLoadError, match="Token for my-sso does not exist"):
            await provider.get_token()


async def test_refreshed_file_is_read_by_botocore(emu: PortalEmulator) -> None:
    """botocore's SSOTokenProvider reads the token aiosso refreshed and wrote."""
    write_config(emu)
    seed_token(emu, remaining=600)
    async with SSOTokenProvider(SESSION) as provider:
        token = await provider.get_token()

    def botocore_token() -> str:
        from botocore.tokens import SSOTokenProvider as BotoProvider
        from botocore.utils import JSONFileCache

        # botocore fixes its default cache folder at import: name the test HOME's one.
        cache = JSONFileCache(str(SSOTokenCache().directory))
        session = botocore.session.Session(profile="dev")
        frozen = BotoProvider(session, cache=cache).load_token().get_frozen_token()
        return str(frozen.token)

    assert await asyncio.to_thread(botocore_token) == token.access_token
    assert emu.oidc_stats.refreshes == 1  # botocore found it fresh: no second refresh


# --------------------------------------------------------------------------- profiles


async def test_credentials_for_profile(emu: PortalEmulator) -> None:
    """A profile's role credentials come from the portal, then from the CLI's disk cache."""
    write_config(emu)
    seed_token(emu, remaining=3600)
    creds = await credentials_for_profile("dev")
    account = emu.organisation.accounts[0]
    assert creds.account_id == account.account_id
    assert creds.role_name == account.roles[0]
    assert emu.stats.requests["GetRoleCredentials"] == 1
    again = await credentials_for_profile("dev")
    assert again.access_key_id == creds.access_key_id
    assert emu.stats.requests["GetRoleCredentials"] == 1
    key_files = list((Path(os.environ["HOME"]) / ".aws" / "cli" / "cache").glob("*.json"))
    assert len(key_files) == 1
    assert stat.S_IMODE(key_files[0].stat().st_mode) == 0o600


async def test_logged_out_session_asks_to_log_in(emu: PortalEmulator) -> None:
    """An UnauthorizedException from the portal becomes the 'log in again' error."""
    write_config(emu)
    seeded = seed_token(emu, remaining=3600)
    emu.revoke_token(seeded.access_token)
    with pytest.raises(aiosso.UnauthorizedSSOTokenError):
        await credentials_for_profile("dev", use_cache=False)


async def test_profile_errors_are_clear(emu: PortalEmulator) -> None:
    """Unknown profiles and incomplete SSO profiles name what is wrong."""
    write_config(emu, extra="\n[profile partial]\nsso_account_id = 111122223333\n")
    with pytest.raises(aiosso.ProfileNotFound, match=r"The config profile \(nope\)"):
        await credentials_for_profile("nope")
    with pytest.raises(aiosso.InvalidConfigError, match="missing required configuration"):
        await credentials_for_profile("partial")


# --------------------------------------------------------------------------- CLI


async def _cli(*argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiosso",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_botocore_uses_aiosso_as_credential_process(emu: PortalEmulator) -> None:
    """botocore resolves a profile whose credential_process is ``aiosso credential-process``."""
    write_config(
        emu,
        extra=(
            "\n[profile via-aiosso]\n"
            f"credential_process = {sys.executable} -m aiosso credential-process --profile dev\n"
        ),
    )
    seed_token(emu, remaining=3600)

    def resolve() -> Any:
        return (
            botocore.session.Session(profile="via-aiosso")
            .get_credentials()
            .get_frozen_credentials()
        )

    frozen = await asyncio.to_thread(resolve)
    cached = await credentials_for_profile("dev")  # the same entry, from the disk cache
    assert frozen.access_key == cached.access_key_id
    assert frozen.secret_key == cached.secret_access_key
    assert frozen.token == cached.session_token
    assert emu.stats.requests["GetRoleCredentials"] == 1


async def test_export_formats(emu: PortalEmulator) -> None:
    """``aiosso export`` prints env lines, JSON or credential-process JSON."""
    write_config(emu)
    seed_token(emu, remaining=3600)
    code, out, err = await _cli("export", "--profile", "dev", "--format", "env")
    assert code == 0, err
    names = [line.split("=", 1)[0] for line in out.splitlines()]
    assert names == [
        "export AWS_ACCESS_KEY_ID",
        "export AWS_SECRET_ACCESS_KEY",
        "export AWS_SESSION_TOKEN",
        "export AWS_CREDENTIAL_EXPIRATION",
    ]
    code, out, _ = await _cli("export", "--profile", "dev", "--format", "credential-process")
    assert code == 0
    document = json.loads(out)
    assert document["Version"] == 1
    assert set(document) >= {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    code, out, _ = await _cli("export", "--profile", "dev", "--format", "json")
    assert "Version" not in json.loads(out)


async def test_cli_errors_have_exit_codes_and_advice(emu: PortalEmulator) -> None:
    """No token: exit 3 and 'log in'; unknown profile: exit 2; no secret on stderr."""
    write_config(emu)
    code, out, err = await _cli("credential-process", "--profile", "dev")
    assert code == 3
    assert out == ""
    assert "does not exist" in err
    assert "aiosso login --profile dev" in err
    code, _, err = await _cli("credential-process", "--profile", "nope")
    assert code == 2
    assert "could not be found" in err
    seeded = seed_token(emu, remaining=3600)
    emu.revoke_token(seeded.access_token)
    code, _, err = await _cli("export", "--profile", "dev", "--no-cache")
    assert code == 3
    assert seeded.access_token not in err
    assert "expired or is otherwise invalid" in err


def test_cli_main_without_profile_setup(capsys: pytest.CaptureFixture[str]) -> None:
    """With no config file at all, the command says which profile is missing (exit 2)."""
    assert cli_main(["credential-process"]) == 2
    assert "The config profile (default) could not be found" in capsys.readouterr().err


def test_token_cache_file_name_is_the_clis() -> None:
    """The provider reads the file the AWS CLI writes for the session."""
    assert (
        SSOTokenCache().path(SESSION).name
        == token_cache_key(start_url=START_URL, session_name="my-sso") + ".json"
    )
