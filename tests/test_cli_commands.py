"""The everyday ``aiosso`` commands against the emulator: accounts, roles, credentials,
config generate; output formats, exit codes, and a terminal session under a pseudo-terminal."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import socket
import stat
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import aiosso
from aiosso._fanout import FanOutProgress
from aiosso._progress import ProgressBar
from aiosso.awsconfig import SSOSession, load_config, resolve_sso_profile
from aiosso.cli import main
from aiosso.testing import Account, PortalEmulator
from aiosso.tokencache import SSOToken, SSOTokenCache

START_URL = "https://d-1234567890.awsapps.com/start"
SESSION = SSOSession(session_name="my-sso", start_url=START_URL, sso_region="us-east-1")
BASE_CONFIG = (
    "# my settings\n"
    "[default]\nregion = eu-west-1\n\n"
    "[sso-session my-sso]\n"
    f"sso_start_url = {START_URL}\nsso_region = us-east-1\n"
)
ORG = [
    Account("111111111111", "Prod Main", "prod@example.com", ("Admin", "ReadOnly")),
    Account("222222222222", "dev/sandbox", "dev@example.com", ("Admin",)),
    Account("333333333333", "Prod Main", "prod2@example.com", ("ReadOnly",)),
    Account("444444444444", "Audit", "audit@example.com", ("Auditor", "ReadOnly")),
]


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PortalEmulator]:
    """An emulator with a small organisation, a config file naming it, and a cached token."""
    async with PortalEmulator(organisation=ORG) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", emulator.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", emulator.url)
        write_config(BASE_CONFIG)
        yield emulator


def write_config(text: str) -> None:
    """Write the test HOME's AWS config file."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(text)


def config_path() -> Path:
    """The test HOME's AWS config file."""
    return Path(os.environ["AWS_CONFIG_FILE"])


def seed_token(emu: PortalEmulator) -> SSOToken:
    """A fresh, refreshable token for ``my-sso`` in the test HOME's cache."""
    reg = emu.register_client()
    pair = emu.issue_token_pair(reg.client_id, expires_in=3600)
    token = SSOToken(
        access_token=pair.access_token,
        expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
        start_url=START_URL,
        region="us-east-1",
        client_id=reg.client_id,
        client_secret=reg.client_secret,
        registration_expires_at=datetime.fromtimestamp(reg.expires_at, timezone.utc),
        refresh_token=pair.refresh_token,
    )
    SSOTokenCache().save_sync(SESSION, token)
    return token


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``aiosso ARGV`` in a worker thread (it runs its own event loop); (code, out, err)."""
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _sorted_accounts() -> list[Account]:
    return sorted(ORG, key=lambda a: (a.account_name.casefold(), a.account_id))


# --------------------------------------------------------------------------- accounts, roles


async def test_accounts_in_every_format(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """``aiosso accounts``: an aligned table, a JSON list of dicts, CSV with a header."""
    token = seed_token(emu)
    code, out, err = await run(capsys, "accounts", "--sso-session", "my-sso")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ACCOUNT", "ID", "NAME", "EMAIL"]
    assert [line.split()[0] for line in lines[1:]] == [a.account_id for a in _sorted_accounts()]
    assert lines[1].index("Audit") == lines[0].index("NAME")  # columns aligned
    assert token.access_token not in out + err

    code, out, _ = await run(capsys, "accounts", "--sso-session", "my-sso", "--output", "json")
    assert code == 0
    assert json.loads(out) == [
        {"accountId": a.account_id, "accountName": a.account_name, "emailAddress": a.email_address}
        for a in _sorted_accounts()
    ]

    code, out, _ = await run(capsys, "accounts", "--sso-session", "my-sso", "--output", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["accountId", "accountName", "emailAddress"]
    assert rows[1] == ["444444444444", "Audit", "audit@example.com"]
    assert len(rows) == 5


async def test_roles_fan_out_sorted_and_quiet_off_a_terminal(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """``aiosso roles``: every (account, role), sorted; no progress bar when not a terminal."""
    seed_token(emu)
    code, out, err = await run(capsys, "roles", "--output", "json")  # the only sso-session
    assert code == 0, err
    assert err == ""
    expected = [
        {"accountId": a.account_id, "accountName": a.account_name, "roleName": r}
        for a in _sorted_accounts()
        for r in sorted(a.roles)
    ]
    assert json.loads(out) == expected

    code, out, _ = await run(capsys, "roles", "--output", "csv")
    assert next(csv.reader(io.StringIO(out))) == ["accountId", "accountName", "roleName"]
    assert len(out.splitlines()) == 1 + len(expected)

    code, out, _ = await run(capsys, "roles")
    assert out.splitlines()[0].split() == ["ACCOUNT", "ID", "ACCOUNT", "NAME", "ROLE"]
    assert out.splitlines()[1].split() == ["444444444444", "Audit", "Auditor"]


async def test_roles_of_one_account(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--account ID`` lists that account only; an account you cannot access is exit 2."""
    seed_token(emu)
    code, out, err = await run(capsys, "roles", "--account", "111111111111", "--output", "csv")
    assert code == 0, err
    assert out.splitlines()[1:] == [
        "111111111111,Prod Main,Admin",
        "111111111111,Prod Main,ReadOnly",
    ]
    code, _, err = await run(capsys, "roles", "--account", "999999999999")
    assert code == 2
    assert "aiosso accounts lists them" in err


async def test_credentials_formats(emu: PortalEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    """``aiosso credentials`` prints env lines, JSON or credential-process JSON."""
    seed_token(emu)
    args = ("credentials", "--account", "111111111111", "--role", "Admin")
    code, out, err = await run(capsys, *args)
    assert code == 0, err
    assert [line.split("=")[0] for line in out.splitlines()] == [
        "export AWS_ACCESS_KEY_ID",
        "export AWS_SECRET_ACCESS_KEY",
        "export AWS_SESSION_TOKEN",
        "export AWS_CREDENTIAL_EXPIRATION",
    ]
    code, out, _ = await run(capsys, *args, "--format", "json")
    assert "Version" not in json.loads(out)
    assert json.loads(out)["AccountId"] == "111111111111"
    code, out, _ = await run(capsys, *args, "--format", "credential-process")
    document = json.loads(out)
    assert document["Version"] == 1
    assert document["AccessKeyId"].startswith("ASIA")


# --------------------------------------------------------------------------- exit codes


async def test_exit_codes_and_advice(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """No token or a revoked one: 3 (log in); bad options or names: 2; service errors: 4."""
    code, _, err = await run(capsys, "accounts", "--sso-session", "my-sso")
    assert code == 3
    assert "Token for my-sso does not exist" in err
    assert "aiosso login --sso-session my-sso" in err

    code, _, err = await run(capsys, "accounts", "--sso-session", "nope")
    assert code == 2
    assert 'The specified sso-session does not exist: "nope"' in err
    code, _, err = await run(capsys, "accounts", "--profile", "nope")
    assert code == 2
    with pytest.raises(SystemExit) as info:
        await run(capsys, "accounts", "--profile", "a", "--sso-session", "b")
    assert info.value.code == 2
    code, _, err = await run(capsys, "config")
    assert code == 2
    assert "aiosso config generate" in err

    token = seed_token(emu)
    code, _, err = await run(capsys, "credentials", "--account", "111111111111", "--role", "Nope")
    assert code == 4
    assert "ForbiddenException" in err
    assert "aiosso roles" in err
    emu.fail_next("ListAccounts", status=400, code="InvalidRequestException", message="bad")
    code, _, err = await run(capsys, "accounts")
    assert code == 4
    assert "InvalidRequestException" in err

    emu.revoke_token(token.access_token)
    code, _, err = await run(capsys, "roles")
    assert code == 3
    assert "aiosso login" in err
    assert token.access_token not in err


async def test_no_session_selected_is_a_usage_error(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """With two sso-sessions and no SSO default profile, the error lists the sessions."""
    path = config_path()
    path.write_text(BASE_CONFIG + "\n[sso-session other]\nsso_start_url = x\nsso_region = y\n")
    code, _, err = await run(capsys, "accounts")
    assert code == 2
    assert "--sso-session NAME" in err
    assert "my-sso, other" in err


# --------------------------------------------------------------------------- config generate


async def test_config_generate_prints_by_default(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --write the profile blocks are printed and the file is untouched."""
    seed_token(emu)
    path = config_path()
    before = path.read_bytes()
    code, out, err = await run(capsys, "config", "generate", "--region", "eu-west-2")
    assert code == 0, err
    assert path.read_bytes() == before
    assert "--write" in err
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 6
    assert blocks[0] == (
        "[profile Audit-Auditor]\nsso_session = my-sso\nsso_account_id = 444444444444\n"
        "sso_role_name = Auditor\nregion = eu-west-2"
    )
    names = [block.splitlines()[0] for block in blocks]
    # "/" and " " sanitised; two "Prod Main" accounts with ReadOnly: the account id added.
    assert names == [
        "[profile Audit-Auditor]",
        "[profile Audit-ReadOnly]",
        "[profile dev-sandbox-Admin]",
        "[profile Prod-Main-Admin]",
        "[profile Prod-Main-ReadOnly-111111111111]",
        "[profile Prod-Main-ReadOnly-333333333333]",
    ]


async def test_config_generate_writes_without_clobbering(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """--write appends new profiles atomically, keeps the file's bytes and mode, and skips
    existing profiles (reported) unless --force, which replaces them in place."""
    seed_token(emu)
    path = config_path()
    mine = "[profile Audit-Auditor]\nsso_session = my-sso\nregion = my-own  ; keep\n"
    original = BASE_CONFIG + "\n" + mine + "\n# trailing comment\n[profile other]\nregion = x\n"
    path.write_text(original)
    path.chmod(0o640)
    template = "{account_name}-{role_name}"
    code, out, err = await run(capsys, "config", "generate", "--write", "--template", template)
    assert code == 0, err
    assert out == ""
    assert "Skipped 1 existing profile(s) (--force replaces them): Audit-Auditor" in err
    assert "Wrote 5 new and 0 replaced" in err
    text = path.read_text()
    assert text.startswith(original)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    profile = resolve_sso_profile(load_config(), "dev-sandbox-Admin")
    assert (profile.account_id, profile.role_name, profile.session_name) == (
        "222222222222",
        "Admin",
        "my-sso",
    )

    code, _, err = await run(capsys, "config", "generate", "--write")
    assert code == 0
    assert path.read_text() == text  # idempotent
    assert "No profiles to write" in err

    code, _, err = await run(capsys, "config", "generate", "--write", "--force")
    assert code == 0, err
    assert "Wrote 0 new and 6 replaced" in err
    forced = path.read_text()
    assert "region = my-own" not in forced
    assert forced.startswith(BASE_CONFIG + "\n[profile Audit-Auditor]\nsso_session = my-sso\n")
    assert "\n# trailing comment\n[profile other]\nregion = x\n" in forced
    assert resolve_sso_profile(load_config(), "Audit-Auditor").account_id == "444444444444"
    assert len(load_config().profiles) == 1 + 6 + 1  # default, generated, other


def write_credentials_file(text: str) -> None:
    """Write the shared credentials file the isolated environment names."""
    Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).write_text(text)


async def test_config_generate_never_writes_a_credentials_file_profile(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A profile defined only in ~/.aws/credentials is skipped, even with --force."""
    seed_token(emu)
    path = config_path()
    path.write_text(BASE_CONFIG)
    write_credentials_file("[Audit-Auditor]\nregion = eu-west-1\n")
    template = "{account_name}-{role_name}"
    for extra in ([], ["--force"]):
        code, _, err = await run(
            capsys, "config", "generate", "--write", "--template", template, *extra
        )
        assert code == 0, err
        assert "Skipped 1 existing profile(s) (--force replaces them): Audit-Auditor" in err
    assert "[profile Audit-Auditor]" not in path.read_text()
    assert "Wrote 0 new and 0 replaced" not in err


async def test_config_generate_template_errors(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A bad --template is a usage error; --config-file writes elsewhere (created 0600)."""
    seed_token(emu)
    code, _, err = await run(capsys, "config", "generate", "--template", "{account}")
    assert code == 2
    assert "{account_name}" in err
    target = tmp_path / "generated" / "config"
    target.parent.mkdir()
    target.write_text(BASE_CONFIG)
    target.chmod(0o600)
    code, _, err = await run(
        capsys,
        "config",
        "generate",
        "--config-file",
        str(target),
        "--template",
        "sso.{account_id}.{role_name}",
        "--write",
    )
    assert code == 0, err
    assert "[profile sso.111111111111.Admin]" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# --------------------------------------------------------------------------- terminal


async def test_terminal_session_shows_progress_bar_and_table(emu: PortalEmulator) -> None:
    """Under a pseudo-terminal ``aiosso roles`` redraws a progress bar on stderr, then the
    table."""
    import pty

    seed_token(emu)
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="100", LINES="30")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aiosso",
            "roles",
            "--sso-session",
            "my-sso",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            env=env,
        )
    finally:
        os.close(slave)

    def read_all() -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        output = await asyncio.wait_for(asyncio.to_thread(read_all), 20)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        os.close(master)
    text = output.decode()
    assert text.count("\rListing roles") >= 2
    assert "█" in text
    assert "4/4 accounts  6 roles" in text
    table = text[text.index("ACCOUNT ID") :]
    assert "444444444444  Audit" in table
    assert "Auditor" in table


# --------------------------------------------------------------------------- account ids


# A 12-digit string of full-width digits ("\uff11" is "1" in full width) is not an account id.
@pytest.mark.parametrize("bad", ["12345", "1234567890123", "12345678901a", "\uff11" * 12, ""])
@pytest.mark.parametrize("command", ["credentials", "roles"])
async def test_account_ids_are_checked_before_any_request(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str], command: str, bad: str
) -> None:
    """``--account`` must be 12 digits: a usage error (exit 2) naming it, nothing sent."""
    seed_token(emu)
    argv = [command, "--account", bad] + (["--role", "Admin"] if command == "credentials" else [])
    with pytest.raises(SystemExit) as info:
        await run(capsys, *argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --account: {bad!r} is not an AWS account id (12 digits" in err
    assert emu.stats.total == 0


async def test_account_id_with_the_consoles_dashes_is_accepted(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """``1111-1111-1111``, as the console shows account ids, means ``111111111111``."""
    seed_token(emu)
    code, out, err = await run(capsys, "roles", "--account", "1111-1111-1111", "--output", "csv")
    assert code == 0, err
    assert out.splitlines()[1] == "111111111111,Prod Main,Admin"


# --------------------------------------------------------------------------- credential cache


def _credential_files() -> list[Path]:
    return sorted((Path(os.environ["HOME"]) / ".aws" / "cli" / "cache").glob("*.json"))


async def test_credentials_share_the_aws_cli_cache(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """``aiosso credentials`` reads and writes ~/.aws/cli/cache under the AWS CLI's key, as
    ``export`` does; ``--no-cache`` fetches anew and leaves the cache alone."""
    from aiosso.tokencache import role_credentials_cache_key

    seed_token(emu)
    args = ("credentials", "--account", "111111111111", "--role", "Admin", "--format", "json")
    code, first, err = await run(capsys, *args)
    assert code == 0, err
    key = role_credentials_cache_key(
        account_id="111111111111", role_name="Admin", session_name="my-sso", start_url=START_URL
    )
    assert [p.name for p in _credential_files()] == [f"{key}.json"]
    cached = _credential_files()[0].read_bytes()
    code, again, _ = await run(capsys, *args)
    assert code == 0
    assert again == first
    assert emu.stats.requests["GetRoleCredentials"] == 1

    write_config(
        BASE_CONFIG + "\n[profile admin]\nsso_session = my-sso\n"
        "sso_account_id = 111111111111\nsso_role_name = Admin\n"
    )
    code, exported, err = await run(capsys, "export", "--profile", "admin", "--format", "json")
    assert code == 0, err
    assert json.loads(exported)["AccessKeyId"] == json.loads(first)["AccessKeyId"]
    assert emu.stats.requests["GetRoleCredentials"] == 1

    code, fresh, _ = await run(capsys, *args, "--no-cache")
    assert code == 0
    assert json.loads(fresh)["AccessKeyId"] != json.loads(first)["AccessKeyId"]
    assert emu.stats.requests["GetRoleCredentials"] == 2
    assert _credential_files()[0].read_bytes() == cached


def test_credentials_help_names_the_cache(capsys: pytest.CaptureFixture[str]) -> None:
    """``aiosso credentials --help`` says where credentials are cached and how to bypass it."""
    with pytest.raises(SystemExit):
        main(["credentials", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "~/.aws/cli/cache" in text
    assert "--no-cache" in text


# --------------------------------------------------------------------------- progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _FanOut:
    """A portal client whose fan-out reports the progress of a growing organisation."""

    def __init__(self, reports: list[FanOutProgress]) -> None:
        self.reports = reports

    async def iter_account_roles(
        self, **kwargs: Any
    ) -> AsyncIterator[tuple[dict[str, str], dict[str, str]]]:
        for report in self.reports:
            kwargs["progress"](report)
            yield {"accountId": f"{report.accounts_done:012d}"}, {"roleName": "Admin"}


async def test_progress_total_is_a_lower_bound_until_every_account_is_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While accounts are still being listed the bar shows ``done/seen+`` and no bar that
    would run backwards; once the listing is done, a bar over the real total."""
    from aiosso import _cli_accounts, _progress

    ticks = iter(range(1, 1000))
    monkeypatch.setattr(_progress.time, "monotonic", lambda: float(next(ticks)))
    reports = [
        FanOutProgress(20, 1, 3, 0, False),
        FanOutProgress(43, 11, 30, 0, False),
        FanOutProgress(80, 54, 150, 0, True),
    ]
    stream = _Terminal()
    await _cli_accounts._role_rows(_FanOut(reports), "token", None, stream)  # type: ignore[arg-type]
    lines = [line.strip() for line in stream.getvalue().split("\r") if line.strip()]
    assert lines[0] == "Listing roles 1/20+ accounts  3 roles"
    assert lines[1] == "Listing roles 11/43+ accounts  30 roles"
    assert "54/80 accounts  150 roles" in lines[2]
    assert "█" in lines[2]
    assert "░" in lines[2]


def test_progress_bar_lower_bound_never_shows_less_than_done() -> None:
    """A lower bound below what is done already shows the count done."""
    stream = _Terminal()
    bar = ProgressBar("Listing", stream=stream)
    bar.update(5, 3, "things", at_least=True)
    assert stream.getvalue().strip() == "Listing 5/5+ things"


# --------------------------------------------------------------------------- unreachable


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_unreachable_portal_is_reported_within_three_seconds(
    emu: PortalEmulator, refused_url: str
) -> None:
    """``aiosso accounts`` against a dead endpoint: exit 4 within 3 s, the URL, and the
    variable that set it."""
    seed_token(emu)
    env = dict(os.environ, AWS_ENDPOINT_URL_SSO=refused_url)
    start = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiosso",
        "accounts",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    elapsed = time.monotonic() - start
    assert proc.returncode == 4
    assert out == b""
    lines = err.decode().splitlines()
    assert lines[0] == (
        f'aiosso: error: Could not connect to the endpoint URL: "{refused_url}/assignment/accounts"'
    )
    assert lines[1] == (
        "Check the network connection and AWS_ENDPOINT_URL_SSO, which sets the SSO portal "
        "endpoint (accounts, roles, credentials)."
    )
    assert elapsed < 3.0


OIDC_URL = "https://oidc.us-east-1.amazonaws.com/device_authorization"
PORTAL_URL = "http://127.0.0.1:9/assignment/accounts"


@pytest.mark.parametrize(
    ("url", "env", "expected", "absent"),
    [
        # The issue's case: only the portal's variable is set, SSO-OIDC is AWS's own.
        (
            OIDC_URL,
            {"AWS_ENDPOINT_URL_SSO": "http://127.0.0.1:9"},
            "SSO-OIDC endpoint (logging in, refreshing tokens): AWS's own for the session's "
            "region, since AWS_ENDPOINT_URL_SSO_OIDC is not set (AWS_ENDPOINT_URL_SSO is, but "
            "applies to the SSO portal only). Set AWS_ENDPOINT_URL_SSO_OIDC",
            "and AWS_ENDPOINT_URL_SSO,",
        ),
        (
            "http://127.0.0.1:9/token",
            {"AWS_ENDPOINT_URL_SSO_OIDC": "http://127.0.0.1:9", "AWS_ENDPOINT_URL": "x"},
            "Check the network connection and AWS_ENDPOINT_URL_SSO_OIDC, which sets the "
            "SSO-OIDC endpoint",
            "AWS_ENDPOINT_URL_SSO,",
        ),
        (
            "http://127.0.0.1:9/client/register",
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_SSO": "x"},
            "Check the network connection and AWS_ENDPOINT_URL, which sets the SSO-OIDC "
            "endpoint (logging in, refreshing tokens) (AWS_ENDPOINT_URL_SSO_OIDC would set it "
            "for this service alone).",
            "AWS_ENDPOINT_URL_SSO,",
        ),
        (
            PORTAL_URL,
            {"AWS_ENDPOINT_URL_SSO_OIDC": "http://127.0.0.1:9"},
            "SSO portal endpoint (accounts, roles, credentials): AWS's own for the session's "
            "region, since AWS_ENDPOINT_URL_SSO is not set (AWS_ENDPOINT_URL_SSO_OIDC is, but "
            "applies to the SSO-OIDC service only).",
            "and AWS_ENDPOINT_URL_SSO_OIDC,",
        ),
        (
            PORTAL_URL,
            {
                "AWS_ENDPOINT_URL_SSO": "http://127.0.0.1:9",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
            },
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true, so AWS_ENDPOINT_URL_SSO and "
            "AWS_ENDPOINT_URL are not used.",
            "AWS_ENDPOINT_URL_SSO_OIDC",
        ),
    ],
    ids=["oidc-default", "oidc-own", "oidc-general", "portal-default", "ignored"],
)
def test_network_advice_names_the_variable_that_applies(
    monkeypatch: pytest.MonkeyPatch, url: str, env: dict[str, str], expected: str, absent: str
) -> None:
    """An unreachable endpoint's advice names the variable that set *that* service's endpoint
    (its own, else AWS_ENDPOINT_URL), or says none did."""
    from aiosso import _commands

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for exc in (
        aiosso.EndpointConnectionError(endpoint_url=url),
        aiosso.ConnectTimeoutError(endpoint_url=url),
        aiosso.ConnectionClosedError(endpoint_url=url),
    ):
        advice = _commands._advice(exc, None)
        assert expected in advice
        assert absent not in advice


async def test_cli_login_names_the_variable_of_the_unreachable_oidc_endpoint(
    emu: PortalEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    refused_url: str,
) -> None:
    """The portal on AWS_ENDPOINT_URL_SSO, SSO-OIDC on AWS_ENDPOINT_URL, which is down:
    ``aiosso login`` fails at once (exit 4) and names AWS_ENDPOINT_URL, not the portal's."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSO_OIDC")
    monkeypatch.setenv("AWS_ENDPOINT_URL", refused_url)
    code, _, err = await run(capsys, "login", "--use-device-code", "--no-browser")
    assert code == 4
    assert f'"{refused_url}/client/register"' in err
    assert "and AWS_ENDPOINT_URL, which sets the SSO-OIDC endpoint" in err
    assert "AWS_ENDPOINT_URL_SSO," not in err
