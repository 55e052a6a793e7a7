"""Login flows (PKCE and device code) and logout, end to end against the emulator's OIDC and
portal endpoints; tokens round-tripped with botocore; concurrent logins in tasks and processes."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import botocore.session
import pytest

import aiosso
from aiosso.awsconfig import SSOSession, load_config
from aiosso.login import (
    AuthorizationCodeLoadError,
    LoginDeniedError,
    PendingAuthorizationExpiredError,
    authorization_url,
    login,
    logout,
    pkce_pair,
)
from aiosso.profiles import credentials_for_profile
from aiosso.testing import OIDCSettings, PortalEmulator
from aiosso.tokencache import SSOTokenCache, registration_cache_key

START_URL = "https://d-1234567890.awsapps.com/start"
SESSION = SSOSession(
    session_name="my-sso",
    start_url=START_URL,
    sso_region="us-east-1",
    registration_scopes=("sso:account:access",),
)
LEGACY = SSOSession(session_name=None, start_url=START_URL, sso_region="us-east-1")
FAST_DEVICE = OIDCSettings(device_approval_after_polls=1, device_interval=0)


async def _start(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> PortalEmulator:
    emulator = PortalEmulator(accounts=3, roles_per_account=2, **kwargs)
    await emulator.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", emulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", emulator.url)
    return emulator


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PortalEmulator]:
    """An emulator (auto-approving, device codes approved on the second poll, no interval)."""
    emulator = await _start(monkeypatch, oidc=FAST_DEVICE)
    yield emulator
    await emulator.close()


def write_config(emu: PortalEmulator) -> Path:
    """Profile ``dev`` on sso-session ``my-sso`` (the emulator's first account and role)."""
    account = emu.organisation.accounts[0]
    path = Path(os.environ["AWS_CONFIG_FILE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[profile dev]\nsso_session = my-sso\n"
        f"sso_account_id = {account.account_id}\nsso_role_name = {account.roles[0]}\n\n"
        f"[sso-session my-sso]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    return path


class FakeBrowser:
    """Does the browser's job from a worker thread: GET the authorize URL, follow the
    redirect to the local callback (optionally tampering with it)."""

    def __init__(self, tamper: Callable[[str], str] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.opened: list[str] = []
        self.visits: list[Future[tuple[int, str]]] = []
        self.tamper = tamper

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        self.visits.append(asyncio.run_coroutine_threadsafe(self.visit(url), self.loop))
        return True

    async def visit(self, url: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http:
            async with http.get(url, allow_redirects=False) as reply:
                assert reply.status == 302, await reply.text()
                location = reply.headers["Location"]
            if self.tamper is not None:
                location = self.tamper(location)
            async with http.get(location) as reply:
                return reply.status, await reply.text()


def _prompts() -> tuple[list[tuple[str, str | None]], Callable[[str, str | None], None]]:
    seen: list[tuple[str, str | None]] = []
    return seen, lambda message, url: seen.append((message, url))


# --------------------------------------------------------------------------- PKCE


def test_pkce_values_follow_the_cli() -> None:
    """The verifier is 64 unreserved characters; the challenge is unpadded S256 (43 chars)."""
    verifier, challenge = pkce_pair()
    assert len(verifier) == 64
    assert set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    assert len(challenge) == 43
    assert "=" not in challenge
    assert pkce_pair()[0] != verifier
    url = authorization_url(
        "https://oidc.us-east-1.amazonaws.com/",
        client_id="cid",
        redirect_uri="http://127.0.0.1:5555/oauth/callback",
        state="s",
        scopes=["sso:account:access", "x"],
        code_challenge=challenge,
    )
    assert url == (
        "https://oidc.us-east-1.amazonaws.com/authorize?response_type=code&client_id=cid"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Foauth%2Fcallback&state=s"
        "&code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess%20x"
        f"&code_challenge={challenge}"
    )


async def test_pkce_login_end_to_end(emu: PortalEmulator) -> None:
    """PKCE: browser approves, the loopback callback gets the code, the token is cached with
    the CLI's fields, works on the portal, and botocore reads it."""
    write_config(emu)
    browser = FakeBrowser()
    prompts, on_prompt = _prompts()
    result = await login(SESSION, open_browser=browser, on_prompt=on_prompt)
    assert (result.flow, result.reused) == ("pkce", False)
    assert len(browser.opened) == 1
    status, page = await asyncio.wrap_future(browser.visits[0])
    assert status == 200
    assert "Login complete" in page
    query = parse_qs(urlsplit(browser.opened[0]).query)
    redirect = urlsplit(query["redirect_uri"][0])
    assert (redirect.hostname, redirect.path) == ("127.0.0.1", "/oauth/callback")
    assert query["code_challenge_method"] == ["S256"]
    assert query["scopes"] == ["sso:account:access"]
    assert prompts[0][1] == browser.opened[0]
    assert browser.opened[0] in prompts[0][0]

    register = next(r for r in emu.requests if r.operation == "RegisterClient")
    body = dict(register.body)
    assert json.loads(body["grantTypes"]) == ["authorization_code", "refresh_token"]
    assert json.loads(body["redirectUris"]) == ["http://127.0.0.1/oauth/callback"]
    assert body["issuerUrl"] == START_URL
    assert body["clientName"] == "botocore-client-my-sso"
    assert emu.oidc_stats.tokens_issued == {"authorization_code": 1}

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
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    async with aiosso.AsyncSSOClient() as sso:
        page_ = await sso.list_accounts(accessToken=result.token.access_token)
    assert len(page_["accountList"]) == 3

    def botocore_token() -> str:
        from botocore.tokens import SSOTokenProvider as BotoProvider
        from botocore.utils import JSONFileCache

        cache = JSONFileCache(str(SSOTokenCache().directory))
        session = botocore.session.Session(profile="dev")
        return str(BotoProvider(session, cache=cache).load_token().get_frozen_token().token)

    assert await asyncio.to_thread(botocore_token) == result.token.access_token


async def test_registration_is_cached_and_reused(emu: PortalEmulator) -> None:
    """A second (forced) login reuses the cached registration; a device login does not reuse
    a PKCE one (grantTypes rule) and registers its own."""
    await login(SESSION, open_browser=FakeBrowser(), on_prompt=lambda m, u: None)
    key = registration_cache_key(
        start_url=START_URL,
        region="us-east-1",
        scopes=["sso:account:access"],
        session_name="my-sso",
    )
    reg_file = SSOTokenCache().directory / f"{key}.json"
    saved = json.loads(reg_file.read_text())
    assert saved["grantTypes"] == ["authorization_code", "refresh_token"]
    assert stat.S_IMODE(reg_file.stat().st_mode) == 0o600
    again = await login(
        SESSION, open_browser=FakeBrowser(), on_prompt=lambda m, u: None, force=True
    )
    assert not again.reused
    assert emu.oidc_stats.registrations == 1
    assert emu.oidc_stats.tokens_issued == {"authorization_code": 2}
    await login(
        SESSION, use_device_code=True, open_browser=None, on_prompt=lambda m, u: None, force=True
    )
    assert emu.oidc_stats.registrations == 2
    assert "grantTypes" not in json.loads(reg_file.read_text())


async def test_fresh_token_is_reused_without_a_browser(emu: PortalEmulator) -> None:
    """With a fresh token cached, login returns it: no browser, no OIDC request."""
    first = await login(SESSION, open_browser=FakeBrowser(), on_prompt=lambda m, u: None)
    before = emu.stats.total
    browser = FakeBrowser()
    again = await login(SESSION, open_browser=browser, on_prompt=lambda m, u: None)
    assert again.reused
    assert again.flow == "cached"
    assert again.token.access_token == first.token.access_token
    assert browser.opened == []
    assert emu.stats.total == before


async def test_state_mismatch_is_a_clear_error(emu: PortalEmulator) -> None:
    """A callback whose state is not ours aborts the login with a clear error; nothing cached."""
    browser = FakeBrowser(tamper=lambda url: url.replace("state=", "state=x"))
    with pytest.raises(AuthorizationCodeLoadError, match="State parameter does not match"):
        await login(SESSION, open_browser=browser, on_prompt=lambda m, u: None)
    assert (await asyncio.wrap_future(browser.visits[0]))[0] == 400
    assert not SSOTokenCache().path(SESSION).exists()
    assert emu.oidc_stats.tokens_issued == {}


async def test_denied_authorization_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """error=access_denied in the callback (PKCE) and AccessDenied (device) say 'denied'."""
    emulator = await _start(monkeypatch, oidc=OIDCSettings(approval="deny", device_interval=0))
    try:
        with pytest.raises(LoginDeniedError, match="denied"):
            await login(SESSION, open_browser=FakeBrowser(), on_prompt=lambda m, u: None)
        with pytest.raises(LoginDeniedError, match="denied"):
            await login(
                SESSION, use_device_code=True, open_browser=None, on_prompt=lambda m, u: None
            )
    finally:
        await emulator.close()


async def test_browser_wait_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody approves in the browser: the login gives up after the timeout, clearly."""
    emulator = await _start(monkeypatch, oidc=OIDCSettings(approval="manual"))
    try:
        prompts, on_prompt = _prompts()
        with pytest.raises(PendingAuthorizationExpiredError, match=r"within 0\.3 s"):
            await login(SESSION, open_browser=None, on_prompt=on_prompt, timeout=0.3)
        message, url = prompts[0]
        assert url is not None
        assert url in message
        assert "--use-device-code" in message
    finally:
        await emulator.close()


async def test_manual_approval_via_the_printed_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """--no-browser: the user opens the printed URL; approval happens later (manual mode)."""
    emulator = await _start(monkeypatch, oidc=OIDCSettings(approval="manual"))
    try:

        async def user(url: str) -> None:
            async with aiohttp.ClientSession() as http:
                async with http.get(url, allow_redirects=False) as reply:
                    assert reply.status == 200  # waiting for approval
                callback = emulator.approve_authorization()
                async with http.get(callback) as reply:
                    assert reply.status == 200

        tasks: list[asyncio.Task[None]] = []
        result = await login(
            SESSION,
            open_browser=None,
            on_prompt=lambda m, url: tasks.append(asyncio.create_task(user(url or ""))),
        )
        await tasks[0]
        assert result.flow == "pkce"
    finally:
        await emulator.close()


# --------------------------------------------------------------------------- device code


async def test_device_login_end_to_end(emu: PortalEmulator) -> None:
    """Device code: prompt with URL and code, poll until approved, token cached and usable."""
    prompts, on_prompt = _prompts()
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    result = await login(
        SESSION, use_device_code=True, open_browser=None, on_prompt=on_prompt, sleep=fake_sleep
    )
    assert result.flow == "device"
    assert len(prompts) == 1
    message, url = prompts[0]
    assert url is not None
    code = parse_qs(urlsplit(url).query)["user_code"][0]
    assert url in message
    assert code in message
    assert sleeps == [0.0]
    register = next(r for r in emu.requests if r.operation == "RegisterClient")
    assert "grantTypes" not in dict(register.body)
    assert json.loads(dict(register.body)["scopes"]) == ["sso:account:access"]
    assert emu.oidc_stats.tokens_issued == {"device_code": 1}
    assert result.token.refresh_token  # scopes were registered: refreshable
    assert SSOTokenCache().load_sync(SESSION).access_token == result.token.access_token
    async with aiosso.AsyncSSOClient() as sso:
        await sso.list_accounts(accessToken=result.token.access_token)


async def test_legacy_profiles_always_use_the_device_flow(emu: PortalEmulator) -> None:
    """A legacy session (no sso_session) logs in with a device code, without scopes, and the
    verification URL is opened in the browser."""
    opened: list[str] = []

    def open_browser(url: str) -> bool:
        opened.append(url)
        return True

    prompts, on_prompt = _prompts()
    result = await login(LEGACY, open_browser=open_browser, on_prompt=on_prompt)
    assert result.flow == "device"
    assert len(opened) == 1
    assert "/device?user_code=" in opened[0]
    assert prompts[0][0].startswith("Opened your browser")
    register = next(r for r in emu.requests if r.operation == "RegisterClient")
    assert "scopes" not in dict(register.body)
    assert SSOTokenCache().load_sync(LEGACY).start_url == START_URL


async def test_slow_down_adds_five_seconds(emu: PortalEmulator) -> None:
    """SlowDownException adds 5 s to the polling interval (as the CLI)."""
    emu.oidc_settings = OIDCSettings(device_approval_after_polls=2, device_interval=0)
    emu.fail_next("CreateToken", after=1, status=400, code="SlowDownException", message="slow")
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    await login(
        SESSION,
        use_device_code=True,
        open_browser=None,
        on_prompt=lambda m, u: None,
        sleep=fake_sleep,
    )
    assert sleeps == [0.0, 5.0, 5.0]


async def test_device_code_expiry_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never approved: once the device code expires the login stops and says start again."""
    now = [1000.0]
    emulator = await _start(
        monkeypatch,
        clock=lambda: now[0],
        oidc=OIDCSettings(approval="manual", device_interval=2, device_expires_in=10),
    )

    async def advance(delay: float) -> None:
        now[0] += delay

    try:
        with pytest.raises(PendingAuthorizationExpiredError, match=r"expired.*again"):
            await login(
                SESSION,
                use_device_code=True,
                open_browser=None,
                on_prompt=lambda m, u: None,
                sleep=advance,
                clock=lambda: now[0],
            )
        assert emulator.oidc_stats.token_errors.get("SlowDownException", 0) == 0
        assert not SSOTokenCache().path(SESSION).exists()
    finally:
        await emulator.close()


async def test_server_side_expiry_is_a_clear_error(emu: PortalEmulator) -> None:
    """ExpiredTokenException from CreateToken means: start again."""
    emu.fail_next("CreateToken", status=400, code="ExpiredTokenException", message="expired")
    with pytest.raises(PendingAuthorizationExpiredError, match="expired"):
        await login(SESSION, use_device_code=True, open_browser=None, on_prompt=lambda m, u: None)


# --------------------------------------------------------------------------- stale registrations


def _registration_file() -> Path:
    key = registration_cache_key(
        start_url=START_URL,
        region="us-east-1",
        scopes=["sso:account:access"],
        session_name="my-sso",
    )
    return SSOTokenCache().directory / f"{key}.json"


def _cached_client_id() -> str | None:
    path = _registration_file()
    return str(json.loads(path.read_text())["clientId"]) if path.exists() else None


async def _device_login(**kwargs: Any) -> aiosso.login.LoginResult:
    return await login(
        SESSION, use_device_code=True, open_browser=None, on_prompt=lambda m, u: None, **kwargs
    )


@pytest.mark.parametrize(
    ("operation", "code", "status"),
    [
        (None, None, 0),  # the service forgot the client: its registration expired there
        ("StartDeviceAuthorization", "InvalidClientException", 401),
        ("StartDeviceAuthorization", "InvalidClientMetadataException", 400),
        ("CreateToken", "InvalidClientException", 401),
    ],
)
async def test_device_login_registers_again_when_the_client_is_rejected(
    emu: PortalEmulator, operation: str | None, code: str | None, status: int
) -> None:
    """A cached registration the service rejects is dropped, the client registered again once,
    and the device login completes with the new client."""
    first = await _device_login()
    old = first.token.client_id
    assert old is not None
    assert _cached_client_id() == old
    if operation is None:
        emu.expire_registration(old)
    else:
        emu.fail_next(operation, status=status, code=code, message="Invalid client provided")
    result = await _device_login(force=True)
    assert result.flow == "device"
    assert emu.oidc_stats.registrations == 2
    assert result.token.client_id not in (None, old)
    assert _cached_client_id() == result.token.client_id
    assert SSOTokenCache().load_sync(SESSION).client_id == result.token.client_id


async def test_a_client_rejected_again_after_registering_again_is_raised(
    emu: PortalEmulator,
) -> None:
    """The client is registered again once only: a second rejection is raised, and the
    rejected registration is not left in the cache."""
    await _device_login()
    emu.fail_next("StartDeviceAuthorization", 2, status=401, code="InvalidClientException")
    with pytest.raises(aiosso.InvalidClientException):
        await _device_login(force=True)
    assert emu.oidc_stats.registrations == 2
    assert not _registration_file().exists()


async def test_cli_device_login_after_an_emulator_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: log in, restart the emulator (it forgets registrations), then
    ``aiosso login --use-device-code --force`` registers again and succeeds."""
    argv = ("login", "--profile", "dev", "--use-device-code", "--no-browser", "--force")
    for attempt in range(2):
        emulator = await _start(monkeypatch, oidc=FAST_DEVICE)
        try:
            write_config(emulator)
            code, out, err = await _aiosso(*argv)
            assert code == 0, err
            assert out == f"Successfully logged into Start URL: {START_URL}\n"
            assert emulator.oidc_stats.registrations == 1, attempt
        finally:
            await emulator.close()


async def test_cli_login_rejected_with_a_new_registration_too_says_what_to_check(
    emu: PortalEmulator,
) -> None:
    """A client rejected even when registered anew: exit 4 and a hint, not a bare error."""
    write_config(emu)
    emu.fail_next("StartDeviceAuthorization", 2, status=401, code="InvalidClientException")
    code, _out, err = await _aiosso("login", "--profile", "dev", "--use-device-code")
    assert code == 4
    lines = err.splitlines()
    assert "InvalidClientException" in lines[0]
    assert lines[1].startswith("SSO-OIDC rejected the client registration, a new one too")
    assert "AWS_ENDPOINT_URL_SSO_OIDC" in lines[1]
    assert emu.oidc_stats.registrations == 2


async def test_pkce_login_registers_again_when_create_token_rejects_the_client(
    emu: PortalEmulator,
) -> None:
    """PKCE: CreateToken rejecting the client drops it, registers again and sends the user
    through the browser once more."""
    first = await login(SESSION, open_browser=FakeBrowser(), on_prompt=lambda m, u: None)
    emu.fail_next("CreateToken", status=401, code="InvalidClientException", message="Invalid")
    browser = FakeBrowser()
    result = await login(SESSION, open_browser=browser, on_prompt=lambda m, u: None, force=True)
    assert result.flow == "pkce"
    assert len(browser.opened) == 2
    assert emu.oidc_stats.registrations == 2
    assert result.token.client_id not in (None, first.token.client_id)
    assert _cached_client_id() == result.token.client_id


async def test_pkce_login_on_a_stale_registration_drops_it_when_the_browser_never_returns(
    emu: PortalEmulator,
) -> None:
    """A stale PKCE registration shows only in the browser (``/authorize`` answers an error
    page): the login times out, says why, and drops it, so the next login works."""
    first = await login(SESSION, open_browser=FakeBrowser(), on_prompt=lambda m, u: None)
    assert first.token.client_id is not None
    emu.expire_registration(first.token.client_id)
    pages: list[int] = []

    async def visit(url: str) -> None:
        async with aiohttp.ClientSession() as http, http.get(url) as reply:
            pages.append(reply.status)

    loop = asyncio.get_running_loop()

    def browser(url: str) -> bool:
        asyncio.run_coroutine_threadsafe(visit(url), loop)
        return True

    with pytest.raises(PendingAuthorizationExpiredError, match="registers a new one"):
        await login(
            SESSION, open_browser=browser, on_prompt=lambda m, u: None, force=True, timeout=0.5
        )
    assert pages == [400]
    assert not _registration_file().exists()
    result = await login(
        SESSION, open_browser=FakeBrowser(), on_prompt=lambda m, u: None, force=True
    )
    assert emu.oidc_stats.registrations == 2
    assert _cached_client_id() == result.token.client_id


async def test_interrupted_pkce_login_drops_a_cached_registration(emu: PortalEmulator) -> None:
    """A PKCE login on a cached registration that is cancelled while the browser is out drops
    the registration (it may be what the browser rejected); a fresh one is kept."""
    await login(SESSION, open_browser=FakeBrowser(), on_prompt=lambda m, u: None)
    prompted = asyncio.Event()

    def on_prompt(message: str, url: str | None) -> None:
        prompted.set()

    task = asyncio.create_task(login(SESSION, open_browser=None, on_prompt=on_prompt, force=True))
    await asyncio.wait_for(prompted.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _registration_file().exists()

    task = asyncio.create_task(login(SESSION, open_browser=None, on_prompt=on_prompt, force=True))
    prompted.clear()
    await asyncio.wait_for(prompted.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _registration_file().exists()  # registered just now: not suspect


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_logins_in_tasks_open_one_browser(emu: PortalEmulator) -> None:
    """Three concurrent logins: one registration, one token, one browser tab; all get it."""
    browser = FakeBrowser()
    waits: list[int] = []
    results = await asyncio.gather(
        *(
            login(
                SESSION,
                open_browser=browser,
                on_prompt=lambda m, u: None,
                on_wait=lambda: waits.append(1),
            )
            for _ in range(3)
        )
    )
    assert len(browser.opened) == 1
    assert emu.oidc_stats.registrations == 1
    assert emu.oidc_stats.tokens_issued == {"authorization_code": 1}
    assert len({r.token.access_token for r in results}) == 1
    assert sorted(r.reused for r in results) == [False, True, True]


BROWSER_SCRIPT = textwrap.dedent(
    """
    import os, sys, time, urllib.request, urllib.error
    url, log_path, release = sys.argv[1:4]
    with open(log_path, "a") as log:
        log.write(url + "\\n")
    while not os.path.exists(release):  # the test lets the user "approve" when it is ready
        time.sleep(0.01)
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    try:
        urllib.request.build_opener(NoRedirect).open(url)
    except urllib.error.HTTPError as e:
        location = e.headers["Location"]
    urllib.request.urlopen(location).read()
    """
)


async def _spawn(*argv: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiosso",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def _aiosso(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await _spawn(*argv, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 20)


async def test_concurrent_login_processes_open_one_browser(
    emu: PortalEmulator, tmp_path: Path
) -> None:
    """Two ``aiosso login`` processes: the second waits while the first is in the browser
    (BROWSER is a script), then reuses its token: one tab, one registration, one token."""
    write_config(emu)
    script = tmp_path / "browser.py"
    script.write_text(BROWSER_SCRIPT)
    opened = tmp_path / "opened.txt"
    release = tmp_path / "approve"
    env = dict(os.environ, BROWSER=f"{sys.executable} {script} %s {opened} {release}")
    first = await _spawn("login", "--sso-session", "my-sso", env=env)
    await _until(opened.exists)  # the first holds the lock and has opened the browser
    second = await _spawn("login", "--sso-session", "my-sso", env=env)
    assert second.stderr is not None
    line = await asyncio.wait_for(second.stderr.readline(), 20)
    assert line.decode() == "Another login for my-sso is in progress; waiting for it to finish...\n"
    release.touch()
    (out1, err1), (out2, err2) = await asyncio.wait_for(
        asyncio.gather(first.communicate(), second.communicate()), 30
    )
    assert (first.returncode, second.returncode) == (0, 0), err1 + err2
    assert out1.decode() == f"Successfully logged into Start URL: {START_URL}\n"
    assert out2.decode().startswith(f"Already logged in to Start URL: {START_URL} (token valid")
    assert len(opened.read_text().splitlines()) == 1
    assert emu.oidc_stats.registrations == 1
    assert emu.oidc_stats.tokens_issued == {"authorization_code": 1}
    token = SSOTokenCache().load_sync(SESSION)
    for text in (out1, err1, out2, err2):
        assert token.access_token not in text.decode()
        assert str(token.client_secret) not in text.decode()


async def test_cli_device_login_prints_where_to_go(emu: PortalEmulator) -> None:
    """``aiosso login --use-device-code --no-browser`` shows the URL and code, then succeeds."""
    write_config(emu)
    code, out, err = await _aiosso("login", "--profile", "dev", "--use-device-code", "--no-browser")
    assert code == 0, err
    assert out == f"Successfully logged into Start URL: {START_URL}\n"
    assert "/device?user_code=" in err
    assert "check that it shows the code" in err


async def test_cli_login_denied_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    """A denied login exits 3 with a one-line error and what to do next."""
    emulator = await _start(monkeypatch, oidc=OIDCSettings(approval="deny", device_interval=0))
    try:
        write_config(emulator)
        code, _out, err = await _aiosso(
            "login", "--sso-session", "my-sso", "--use-device-code", "--no-browser"
        )
        assert code == 3
        assert "denied" in err
        assert "aiosso login --sso-session my-sso" in err
        assert "Traceback" not in err
    finally:
        await emulator.close()


# --------------------------------------------------------------------------- logout


async def test_logout_removes_token_and_credentials(emu: PortalEmulator) -> None:
    """Logout ends the portal session, deletes the token and the profile's cached credentials."""
    write_config(emu)
    result = await login(
        SESSION, use_device_code=True, open_browser=None, on_prompt=lambda m, u: None
    )
    await credentials_for_profile("dev")
    cred_dir = Path(os.environ["HOME"]) / ".aws" / "cli" / "cache"
    assert len(list(cred_dir.glob("*.json"))) == 1
    unrelated = cred_dir / "other.json"
    unrelated.write_text('{"ProviderType": "assume-role"}')
    outcome = await logout(SESSION, config=load_config())
    assert outcome.sessions == ("my-sso",)
    assert outcome.credentials_removed == 1
    assert not SSOTokenCache().path(SESSION).exists()
    assert [p.name for p in cred_dir.glob("*.json")] == ["other.json"]
    async with aiosso.AsyncSSOClient() as sso:
        with pytest.raises(aiosso.UnauthorizedException):
            await sso.list_accounts(accessToken=result.token.access_token)
    assert emu.stats.requests["Logout"] == 1


async def test_cli_logout_all(emu: PortalEmulator) -> None:
    """``aiosso logout --all`` logs out every cached token, keeps registrations, and removes
    every SSO role-credential entry."""
    write_config(emu)
    await login(SESSION, use_device_code=True, open_browser=None, on_prompt=lambda m, u: None)
    await login(LEGACY, open_browser=None, on_prompt=lambda m, u: None)
    await credentials_for_profile("dev")
    cache_dir = SSOTokenCache().directory
    code, out, err = await _aiosso("logout", "--all")
    assert code == 0, err
    assert "Logged out of" in out
    assert not SSOTokenCache().path(SESSION).exists()
    assert not SSOTokenCache().path(LEGACY).exists()
    remaining = [json.loads(p.read_text()) for p in cache_dir.glob("*.json")]
    assert remaining  # the client registrations stay
    assert all("accessToken" not in data for data in remaining)
    assert not list((Path(os.environ["HOME"]) / ".aws" / "cli" / "cache").glob("*.json"))
    assert emu.stats.requests["Logout"] == 2
