"""Secrets: no access token, secret key or session token in logs, reprs, messages or output;
TLS is verified unless turned off explicitly.

Everything runs with every logger at DEBUG; the texts checked are log records (message, args,
exception text), reprs and ``str()`` of everything the user can hold, exception messages,
``e.response`` (including the reply headers), formatted tracebacks, and the CLI's output.
"""

from __future__ import annotations

import logging
import ssl
import time
import traceback
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import attrs
import pytest
import trustme
from _echo import ECHOES, TOKEN, echoing_server
from aiohttp import web

import aiosso
from aiosso import (
    AioSSOError,
    AsyncSSOClient,
    ClientConfig,
    CredentialCache,
    EndpointConnectionError,
    HTTPClientError,
    RoleCredentials,
    SSLError,
)
from aiosso._transport import Transport
from aiosso.cli import main
from aiosso.testing import Faults, PortalEmulator

LOGGERS = ("", "aiosso", "aiohttp", "asyncio", "aiohttp.client", "aiohttp.server", "tenacity")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every relevant logger at DEBUG, captured (caplog restores the levels after)."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), str(record.exc_text)]
        if record.exc_info and record.exc_info[1] is not None:
            texts.append("".join(traceback.format_exception(record.exc_info[1])))
    return texts


def _error_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts += [repr(getattr(exc, "kwargs", None)), repr(getattr(exc, "response", None))]
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        texts.append(repr(response.get("ResponseMetadata", {}).get("HTTPHeaders")))
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        texts += [str(cause), repr(cause)]
    return texts


def _assert_absent(secrets: list[str], texts: list[str]) -> None:
    assert all(len(s) >= 20 for s in secrets), "secrets must be distinctive"
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"a secret leaked into: {text[:200]!r}"


# --------------------------------------------------------------------------- library


async def test_no_secret_anywhere_across_the_api(
    debug_logs: pytest.LogCaptureFixture, no_sleep: None
) -> None:
    """Operations, every error path, paginators, fan-out and the cache leak no secret."""
    texts: list[str] = []
    errors: list[BaseException] = []
    async with PortalEmulator(accounts=6, roles_per_account=2, page_size=2) as emu:
        token = emu.issue_token()
        secrets = [token, emu.token]
        account = emu.organisation.accounts[0]
        one_attempt = ClientConfig(retries={"total_max_attempts": 2})
        async with AsyncSSOClient(endpoint_url=emu.url, config=one_attempt) as sso:
            reply = await sso.get_role_credentials(
                accessToken=token, accountId=account.account_id, roleName=account.roles[0]
            )
            secrets += [
                reply["roleCredentials"]["secretAccessKey"],
                reply["roleCredentials"]["sessionToken"],
            ]
            texts.append(repr(reply["ResponseMetadata"]))

            # Paginators and fan-out, with retried faults on the way.
            emu.faults = Faults(server_error=0.2, drop_connection=0.1, truncated_body=0.1)
            it = sso.get_paginator("list_accounts").paginate(
                accessToken=token, PaginationConfig={"MaxItems": 3}
            )
            texts += [repr(it), repr(sso.get_paginator("list_account_roles"))]
            texts.append(repr(await it.build_full_result()))
            texts += [repr(it), str(it.resume_token)]
            progress: list[Any] = []
            failures: list[aiosso.AccountFailure] = []
            pairs = [
                pair
                async for pair in sso.iter_account_roles(
                    accessToken=token, failures=failures, progress=progress.append
                )
            ]
            emu.faults = None
            texts += [repr(pairs), repr(progress), repr(failures)]

            # Every error path: 401, 403, 404, 400, 429 and 5xx exhausted, dropped and
            # truncated replies, validation errors, a closed client.
            expired = emu.issue_token()
            emu.expire_token(expired)
            secrets.append(expired)
            scripted = [
                ("ListAccounts", {"status": 429, "code": "TooManyRequestsException"}),
                ("ListAccounts", {"status": 503}),
                ("ListAccounts", {"kind": "drop"}),
                ("ListAccounts", {"kind": "truncated_body"}),
                ("ListAccounts", {"kind": "malformed_json"}),
            ]
            for operation, fault in scripted:
                emu.fail_next(operation, 10, **fault)  # more than the attempts
                try:
                    await sso.list_accounts(accessToken=token)
                except AioSSOError as exc:
                    errors.append(exc)
                emu.clear_faults()
            calls: list[Any] = [
                lambda: sso.list_accounts(accessToken=expired),
                lambda: sso.get_role_credentials(
                    accessToken=token, accountId=account.account_id, roleName="NoSuchRole"
                ),
                lambda: sso.list_account_roles(accessToken=token, accountId="000000000000"),
                lambda: sso.list_accounts(accessToken=token, nextToken="forged"),
                lambda: sso.list_accounts(accessToken=token, maxResults=1000),
                lambda: sso.logout(accessToken=token, Foo=token),
                lambda: sso.logout(accessToken=token + "\r\nX-Injected: 1"),
                lambda: sso.logout(accessToken=token.encode()),
                lambda: sso.list_accounts(accessToken=[token]),
                lambda: sso.list_accounts(accessToken={"token": token}),
                lambda: sso.get_role_credentials(accessToken=token, accountId=1, roleName=token),
            ]
            for call in calls:
                try:
                    await call()
                except AioSSOError as exc:
                    errors.append(exc)

            # The credential cache: fetch, hits, a failed refresh served stale, stats, reprs.
            async with CredentialCache(sso, accessToken=token, refresh_margin=3600 * 2) as cache:
                creds = await cache.get(account.account_id, account.roles[0])
                secrets += [str(creds.secret_access_key), str(creds.session_token)]
                emu.fail_next("GetRoleCredentials", 1, status=403, code="ForbiddenException")
                try:
                    await cache.get(account.account_id, account.roles[1])
                except AioSSOError as exc:
                    errors.append(exc)
                texts += [repr(cache), str(cache), repr(cache.stats), repr(creds), str(creds)]
                texts += [repr(attrs.asdict(creds)), repr(attrs.astuple(creds))]
                texts.append(repr({("a", "r"): creds}))
            await sso.logout(accessToken=token)
            texts += [repr(sso), repr(sso.meta), str(sso.meta)]
        try:
            await sso.list_accounts(accessToken=token)
        except AioSSOError as exc:
            errors.append(exc)
        texts += [repr(emu), repr(emu.stats), repr(emu.requests)]
    assert len(errors) == 5 + 11 + 1 + 1, [type(e).__name__ for e in errors]
    for exc in errors:
        texts += _error_texts(exc)
    texts += _log_texts(debug_logs)
    assert any(r.name.startswith("aiosso") for r in debug_logs.records)
    _assert_absent(secrets, texts)


def test_credential_exports_are_the_only_way_out() -> None:
    """Secrets come out of RoleCredentials only when asked for by name or by export."""
    creds = RoleCredentials(
        access_key_id="ASIAEXAMPLEEXAMPLE00",
        secret_access_key="secret-access-key-0123456789-abcdefgh",
        session_token="session-token-0123456789-abcdefghijklmnop",
        expiration=datetime(2030, 1, 1, tzinfo=timezone.utc),
        account_id="111122223333",
        role_name="Admin",
    )
    secrets = [str(creds.secret_access_key), str(creds.session_token)]
    _assert_absent(secrets, [repr(creds), str(creds), f"{creds}", f"{creds!r}"])
    assert creds.to_env()["AWS_SECRET_ACCESS_KEY"] == secrets[0]
    assert creds.to_credential_process()["SessionToken"] == secrets[1]


def test_cli_demo_prints_and_logs_no_secret(
    debug_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``aiosso demo`` prints no token or credential to stdout, stderr or the logs."""
    secrets: list[str] = []
    issue = PortalEmulator.issue_token
    fetch = AsyncSSOClient.get_role_credentials

    def recording_issue(self: PortalEmulator, **kwargs: Any) -> str:
        token = issue(self, **kwargs)
        secrets.append(token)
        return token

    async def recording_fetch(self: AsyncSSOClient, **kwargs: Any) -> Any:
        reply = await fetch(self, **kwargs)
        secrets.append(reply["roleCredentials"]["secretAccessKey"])
        secrets.append(reply["roleCredentials"]["sessionToken"])
        return reply

    monkeypatch.setattr(PortalEmulator, "issue_token", recording_issue)
    monkeypatch.setattr(AsyncSSOClient, "get_role_credentials", recording_fetch)
    code = main(
        [
            *("demo", "--accounts", "5", "--roles", "2", "--rate", "500"),
            *("--sample", "3", "--callers", "20"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert len(secrets) >= 1 + 2 * 3
    _assert_absent(secrets, [out, err, *_log_texts(debug_logs)])


# --------------------------------------------------------------------------- TLS


class PrivateCA(NamedTuple):
    """A certificate authority made in-process (trustme) and its certificate as a PEM file."""

    ca: trustme.CA
    bundle: Path


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    """A private CA, trusted by nothing unless told: no openssl command needed."""
    ca = trustme.CA()
    bundle = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return PrivateCA(ca, bundle)


@pytest.fixture
async def https_url(private_ca: PrivateCA) -> AsyncIterator[str]:
    """An HTTPS loopback server whose certificate for 127.0.0.1 the private CA issued,
    answering an empty page."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    private_ca.ca.issue_cert("127.0.0.1").configure_cert(context)

    async def page(request: web.Request) -> web.Response:
        return web.json_response({"accountList": []})

    app = web.Application()
    app.router.add_get("/assignment/accounts", page)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


async def test_untrusted_certificate_is_refused_by_default(https_url: str) -> None:
    """The default client verifies certificates: a server with a private CA cannot connect."""
    config = ClientConfig(retries={"total_max_attempts": 1})
    async with AsyncSSOClient(endpoint_url=https_url, config=config) as sso:
        with pytest.raises(EndpointConnectionError) as info:
            await sso.list_accounts(accessToken="token-for-an-untrusted-server-0123")
    assert type(info.value) is SSLError
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    assert str(info.value).startswith(f"SSL validation failed for {https_url}/assignment/accounts ")
    assert "certificate" in str(info.value)


async def test_untrusted_certificate_is_not_retried(
    https_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate that fails verification fails the call at once, default retries or not."""
    caplog.set_level(logging.DEBUG, logger="aiosso")
    attempts = 0
    send = Transport.send

    async def counting_send(self: Transport, *args: Any, **kwargs: Any) -> Any:
        nonlocal attempts
        attempts += 1
        return await send(self, *args, **kwargs)

    monkeypatch.setattr(Transport, "send", counting_send)
    async with AsyncSSOClient(endpoint_url=https_url) as sso:
        started = time.monotonic()
        with pytest.raises(SSLError) as info:
            await sso.list_accounts(accessToken="token-for-an-untrusted-server-0123")
    assert time.monotonic() - started < 2.0
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    assert attempts == 1
    assert not [r for r in caplog.records if "retry" in r.getMessage().lower()]


async def test_transport_verifies_unless_told_otherwise(
    https_url: str, private_ca: PrivateCA
) -> None:
    """The transport refuses by default, accepts a trusting context, and False turns it off."""
    url = https_url + "/assignment/accounts"
    results: dict[str, object] = {}
    for name, verify in [
        ("default", True),
        ("context", _trusting(private_ca.bundle)),
        ("off", False),
    ]:
        transport = Transport(
            session=None, connect_timeout=5, read_timeout=5, max_pool_connections=2, verify=verify
        )
        try:
            results[name] = (await transport.send("GET", url, {}))[0]
        except EndpointConnectionError as exc:
            results[name] = type(exc)
        finally:
            await transport.close()
    assert results == {"default": SSLError, "context": 200, "off": 200}


@pytest.mark.parametrize("borrowed", [False, True], ids=["own pool", "borrowed session"])
async def test_aws_ca_bundle_is_trusted(
    https_url: str,
    private_ca: PrivateCA,
    monkeypatch: pytest.MonkeyPatch,
    borrowed: bool,
) -> None:
    """AWS_CA_BUNDLE names the CAs to trust, as in botocore: the private server is accepted."""
    monkeypatch.setenv("AWS_CA_BUNDLE", str(private_ca.bundle))
    session = aiohttp.ClientSession() if borrowed else None
    try:
        async with AsyncSSOClient(endpoint_url=https_url, session=session) as sso:
            page = await sso.list_accounts(accessToken="token-for-a-private-ca-server-0123")
    finally:
        if session is not None:
            await session.close()
    assert page["accountList"] == []


async def test_unusable_aws_ca_bundle_fails_at_once(
    https_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing or empty AWS_CA_BUNDLE is an SSLError naming the file, not retried."""
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    for bundle in (tmp_path / "missing.pem", empty):
        monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
        started = time.monotonic()
        async with AsyncSSOClient(endpoint_url=https_url) as sso:
            with pytest.raises(SSLError) as info:
                await sso.list_accounts(accessToken="token-for-a-private-ca-server-0123")
        assert time.monotonic() - started < 2.0
        assert "cannot load the CA bundle" in str(info.value)
        assert str(bundle) in str(info.value)


async def test_verify_false_wins_over_aws_ca_bundle(
    https_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify=False turns checking off even when AWS_CA_BUNDLE names a file (as botocore)."""
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    async with AsyncSSOClient(endpoint_url=https_url, config=ClientConfig(verify=False)) as sso:
        page = await sso.list_accounts(accessToken="token-for-a-private-ca-server-0123")
    assert page["accountList"] == []


@pytest.mark.parametrize("value", ["false", 0, None, "/etc/ssl/cert.pem"])
def test_verify_accepts_only_explicit_values(value: Any) -> None:
    """verify= takes True, False or an SSLContext; a truthy string cannot pass for True."""
    with pytest.raises(TypeError, match="verify"):
        ClientConfig(verify=value)
    assert ClientConfig().verify is True


async def test_configured_context_reaches_the_client(https_url: str, private_ca: PrivateCA) -> None:
    """ClientConfig(verify=context) makes the client trust that context's CA."""
    config = ClientConfig(verify=_trusting(private_ca.bundle), retries={"total_max_attempts": 1})
    async with AsyncSSOClient(endpoint_url=https_url, config=config) as sso:
        page = await sso.list_accounts(accessToken="t")
    assert page["accountList"] == []


@pytest.mark.parametrize("borrowed", [False, True], ids=["owned", "borrowed"])
@pytest.mark.parametrize("echo", list(ECHOES.values()), ids=list(ECHOES))
async def test_a_server_echoing_the_token_header_leaks_no_token(
    echo: tuple[bytes, bytes], borrowed: bool
) -> None:
    """A broken server or proxy reflecting the token's header line: errors never quote it."""
    token = TOKEN
    async with echoing_server(echo) as (url, seen):
        session = aiohttp.ClientSession() if borrowed else None
        config = ClientConfig(retries={"total_max_attempts": 1})
        try:
            async with AsyncSSOClient(endpoint_url=url, session=session, config=config) as sso:
                with pytest.raises(HTTPClientError) as info:
                    await sso.get_role_credentials(
                        roleName="Admin", accountId="111122223333", accessToken=token
                    )
        finally:
            if session is not None:
                await session.close()
    assert seen
    assert token.encode() in seen[0]  # the token really went out, and came back
    rendered = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert token[:6] not in rendered
