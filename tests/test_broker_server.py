"""``aiosso.broker.CredentialServer`` in-process, serving from a real ``CredentialCache`` fed by
an ``SSOTokenProvider`` and the emulator: the body botocore reads, single flight, the security
rules (tokens, methods, paths, sizes, slow clients, logs), SSO token refresh and expiry while
serving; and ``CredentialCache(token_source=...)``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _broker import (
    DEV,
    OPS,
    SESSION,
    assert_no_secrets,
    running_emulator,
    seed_token,
    whole_second_after,
)
from botocore.credentials import ContainerProvider
from yarl import URL

import aiosso.broker
from aiosso import (
    AsyncSSOClient,
    CredentialCache,
    RoleCredentials,
    SSOTokenProvider,
    UnauthorizedSSOTokenError,
)
from aiosso.broker import CredentialServer
from aiosso.testing import PortalEmulator, RequestRecord
from aiosso.tokencache import SSOTokenCache
from aiosso.tokens import ADVISORY_REFRESH

if TYPE_CHECKING:
    from _redis import RedisServer

SERVE_MARGIN = 20 * 60.0  # the refresh margin ``exec`` and ``serve`` give their caches
FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
DOCUMENT_KEYS = {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "AccountId"}
UNAUTHORIZED = {"code": "Unauthorized", "message": "Unauthorized."}


@dataclass
class Broker:
    """A server for ``dev`` and ``ops`` over one cache, and an HTTP client for it."""

    server: CredentialServer
    cache: CredentialCache
    http: aiohttp.ClientSession
    secrets: set[str] = field(default_factory=set)
    """The secrets of every 200 answer so far (for log checks)."""

    @property
    def token(self) -> str:
        """The server's authorization token."""
        return self.server.token

    async def request(
        self, method: str = "GET", path: str = "/credentials/dev", *, token: str | None
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """(status, body, headers) of one request; no ``Authorization`` if *token* is None."""
        url = URL(f"http://127.0.0.1:{self.server.port}{path}", encoded=True)
        headers = {} if token is None else {"Authorization": token}
        async with self.http.request(method, url, headers=headers) as response:
            body = await response.read()
            if response.status == 200:
                document = json.loads(body)
                self.secrets |= {document["SecretAccessKey"], document["Token"]}
            return response.status, body, response.headers

    async def credentials(self, profile: str = "dev") -> dict[str, str]:
        """The document served for *profile*, with the right token (200 expected)."""
        status, body, _ = await self.request(path=f"/credentials/{profile}", token=self.token)
        assert status == 200, body
        document: dict[str, str] = json.loads(body)
        return document


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PortalEmulator]:
    """The emulated organisation, with the endpoint variables and config naming it."""
    async with running_emulator(monkeypatch) as emulator:
        yield emulator


@pytest.fixture
async def make_broker(
    emu: PortalEmulator, no_resource_warnings: None
) -> AsyncIterator[Callable[[], Awaitable[Broker]]]:
    """Builds a :class:`Broker` as ``exec`` and ``serve`` do (client, token provider, cache,
    server) once the test has set things up; everything is closed after the test, leaving
    no socket behind."""
    async with contextlib.AsyncExitStack() as stack:

        async def make() -> Broker:
            client = await stack.enter_async_context(AsyncSSOClient("us-east-1"))
            provider = await stack.enter_async_context(SSOTokenProvider(SESSION))
            cache = await stack.enter_async_context(
                CredentialCache(client, token_source=provider, refresh_margin=SERVE_MARGIN)
            )
            sources = {
                "dev": functools.partial(cache.get, DEV.account_id, "Developer"),
                "ops": functools.partial(cache.get, OPS.account_id, "Operator"),
            }
            server = await stack.enter_async_context(CredentialServer(sources))
            http = await stack.enter_async_context(aiohttp.ClientSession())
            return Broker(server, cache, http)

        yield make


@pytest.fixture
async def broker(emu: PortalEmulator, make_broker: Callable[[], Awaitable[Broker]]) -> Broker:
    """A broker with a fresh login in the cache."""
    seed_token(emu)
    return await make_broker()


async def exchange(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send raw *data* on a new connection; all the server answers before it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await asyncio.wait_for(_read_all(reader), timeout)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            received += chunk
    return received


def head(token: str, *lines: str, path: str = "/credentials/dev") -> bytes:
    """A GET request head with *token* and extra header *lines*, closing the connection."""
    fields = "".join(f"{line}\r\n" for line in lines)
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n{fields}"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")


def status_of(reply: bytes) -> int | None:
    """The status code of a raw HTTP reply (None: no reply, e.g. the connection was reset)."""
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    return int(match[1]) if match else None


def role_requests(emu: PortalEmulator) -> list[RequestRecord]:
    """The emulator's log of GetRoleCredentials requests."""
    return [r for r in emu.requests if r.operation == "GetRoleCredentials"]


# --------------------------------------------------------------------------- the wire format


async def test_body_is_what_botocore_container_provider_reads(
    broker: Broker, emu: PortalEmulator
) -> None:
    """200 JSON with exactly the five keys, ``Expiration`` ISO 8601 ``Z``; botocore's own
    ``ContainerProvider`` loads it as ``container-role`` credentials of the right account."""
    status, body, headers = await broker.request(token=broker.token)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "no-store"
    document = json.loads(body)
    assert set(document) == DOCUMENT_KEYS
    assert document["AccessKeyId"].startswith("ASIA")
    assert document["AccountId"] == DEV.account_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["Expiration"])
    expires = datetime.strptime(document["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    remaining = expires.replace(tzinfo=timezone.utc).timestamp() - time.time()
    assert 3590 < remaining <= emu.credentials_ttl

    for profile, account in (("dev", DEV), ("ops", OPS)):
        provider = ContainerProvider(
            environ={FULL_URI: broker.server.url(profile), TOKEN: broker.token}
        )
        credentials = await asyncio.to_thread(provider.load)
        assert credentials.method == "container-role"
        frozen = await asyncio.to_thread(credentials.get_frozen_credentials)
        assert frozen.account_id == account.account_id
        if profile == "dev":  # the same cached credentials as the first request
            assert (frozen.access_key, frozen.secret_key, frozen.token) == (
                document["AccessKeyId"],
                document["SecretAccessKey"],
                document["Token"],
            )
    assert emu.stats.requests["GetRoleCredentials"] == 2


class _GatedClient:
    """The real client, whose requests wait until *gate* opens."""

    def __init__(self, client: AsyncSSOClient, gate: asyncio.Event) -> None:
        self.client = client
        self.gate = gate

    async def get_role_credentials(
        self, *, roleName: str, accountId: str, accessToken: str
    ) -> Mapping[str, Any]:
        await self.gate.wait()
        return await self.client.get_role_credentials(
            roleName=roleName, accountId=accountId, accessToken=accessToken
        )


async def test_thousand_concurrent_requests_make_one_get_role_credentials(
    emu: PortalEmulator, no_resource_warnings: None
) -> None:
    """1,000 requests at once for one profile, the fetch held until all of them have
    arrived: one ``GetRoleCredentials``, and every answer carries the same credentials."""
    seed_token(emu)
    gate = asyncio.Event()
    arrived = 0
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(AsyncSSOClient("us-east-1"))
        provider = await stack.enter_async_context(SSOTokenProvider(SESSION))
        cache = await stack.enter_async_context(
            CredentialCache(_GatedClient(client, gate), token_source=provider)
        )

        async def source() -> RoleCredentials:
            nonlocal arrived
            arrived += 1
            if arrived == 1000:
                gate.set()
            return await cache.get(DEV.account_id, "Developer")

        server = await stack.enter_async_context(CredentialServer({"dev": source}))
        http = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        )
        headers = {"Authorization": server.token}

        async def one() -> str:
            async with http.get(server.url("dev"), headers=headers) as response:
                assert response.status == 200
                document = await response.json()
                return str(document["AccessKeyId"])

        requests: list[asyncio.Future[str]] = []
        try:
            for _ in range(10):  # in waves, as the listen backlog is 128: all are held anyway
                requests += [asyncio.ensure_future(one()) for _ in range(100)]
                await asyncio.sleep(0.02)
            keys = await asyncio.wait_for(asyncio.gather(*requests), 20)
        finally:
            for request in requests:
                request.cancel()
            await asyncio.gather(*requests, return_exceptions=True)
    assert len(set(keys)) == 1
    assert emu.stats.requests["GetRoleCredentials"] == 1
    assert (cache.stats.fetches, cache.stats.misses, cache.stats.hits) == (1, 1000, 0)


async def test_service_error_is_json_without_traceback(broker: Broker, emu: PortalEmulator) -> None:
    """A portal error is 502 ``{"code", "message"}`` with the service's code, and no trace."""
    emu.fail_next("GetRoleCredentials", status=403, code="ForbiddenException", message="No.")
    status, body, _ = await broker.request(token=broker.token)
    assert status == 502
    document = json.loads(body)
    assert set(document) == {"code", "message"}
    assert document["code"] == "ForbiddenException"
    assert "Traceback" not in document["message"]
    assert (await broker.credentials())["AccountId"] == DEV.account_id  # not cached


# --------------------------------------------------------------------------- who gets what


async def test_wrong_or_missing_token_is_401_and_nothing_else(
    broker: Broker, emu: PortalEmulator
) -> None:
    """Missing, empty or wrong tokens (near misses included): 401 with the same
    ``{"code": "Unauthorized", "message"}`` body whatever the method and path; no fetch."""
    token = broker.token
    offers = [None, "", "wrong", token[:-1], token + "x", token.swapcase(), f"Bearer {token}"]
    paths = ["/credentials/dev", "/credentials/nope", "/", "/credentials/"]
    bodies = set()
    for offer, path, method in itertools.product(offers, paths, ["GET", "POST", "DELETE"]):
        status, body, headers = await broker.request(method, path, token=offer)
        assert status == 401, (offer, path, method)
        assert json.loads(body) == UNAUTHORIZED
        assert set(headers) <= {"Content-Type", "Content-Length", "Date", "Server", "Connection"}
        bodies.add(body)
    assert len(bodies) == 1
    status, body, _ = await broker.request("HEAD", token="wrong")
    assert (status, body) == (401, b"")
    reply = await exchange(broker.server.port, head("t\xe9" + token))  # not even ASCII
    assert status_of(reply) == 401
    assert b"SecretAccessKey" not in reply
    assert "GetRoleCredentials" not in emu.stats.requests


async def test_other_methods_with_the_right_token_are_405(
    broker: Broker, emu: PortalEmulator
) -> None:
    """POST, PUT, DELETE, PATCH, OPTIONS, HEAD with the right token: 405, no credentials."""
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, body, _ = await broker.request(method, token=broker.token)
        assert status == 405
        assert json.loads(body)["code"] == "MethodNotAllowed"
    status, body, _ = await broker.request("HEAD", token=broker.token)
    assert (status, body) == (405, b"")
    assert "GetRoleCredentials" not in emu.stats.requests


async def test_unknown_paths_are_404(broker: Broker, emu: PortalEmulator) -> None:
    """Paths that are not exactly ``/credentials/<a served profile>``: 404 ``NotFound``."""
    paths = [
        "/",
        "/credentials",
        "/credentials/",
        "/credentials/nope",
        "/credentials/Dev",
        "/credentials/dev/",
        "/credentials/dev/x",
        "/credentials/%2e%2e/dev",
        "/latest/meta-data/iam/security-credentials/",
    ]
    for path in paths:
        status, body, _ = await broker.request(path=path, token=broker.token)
        assert status == 404, path
        assert json.loads(body)["code"] == "NotFound"
    assert "GetRoleCredentials" not in emu.stats.requests


# --------------------------------------------------------------------------- hostile clients


async def test_huge_header_is_refused_and_server_keeps_working(broker: Broker) -> None:
    """A 100 KB header (another header, or the token followed by junk): 400 from aiohttp's
    limits, never credentials; the next request is served."""
    port = broker.server.port
    for request in (
        head(broker.token, "X-Padding: " + "a" * 100_000),
        head(broker.token + "a" * 100_000),
    ):
        reply = await exchange(port, request)
        assert status_of(reply) == 400, reply[:100]
        assert b"SecretAccessKey" not in reply
    assert (await broker.credentials())["AccountId"] == DEV.account_id


async def test_huge_body_is_never_answered_with_credentials(broker: Broker) -> None:
    """A GET carrying a 10 MB body gets no credentials, with or without the right token
    (botocore never sends one); the server keeps working."""
    body = b"x" * (10 * 1024 * 1024)
    for token in ("wrong", broker.token):
        request = head(token, f"Content-Length: {len(body)}") + body
        reply = await exchange(broker.server.port, request)
        status = status_of(reply)  # None: the connection was reset
        assert status is None or 400 <= status < 500, reply[:100]
        assert b"SecretAccessKey" not in reply
    assert (await broker.credentials())["AccountId"] == DEV.account_id


async def test_slow_client_is_disconnected_while_others_are_served(
    emu: PortalEmulator,
    make_broker: Callable[[], Awaitable[Broker]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client sending its request head a byte every 0.5 s is disconnected after
    ``CLIENT_TIMEOUT`` (1 s here) without an answer; others are served meanwhile."""
    assert 0 < aiosso.broker.CLIENT_TIMEOUT <= 10
    monkeypatch.setattr(aiosso.broker, "CLIENT_TIMEOUT", 1.0)
    seed_token(emu)
    broker = await make_broker()
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", broker.server.port)
    started = loop.time()

    async def trickle() -> None:
        for byte in head(broker.token):
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.5)

    trickling = asyncio.ensure_future(trickle())
    closed = asyncio.ensure_future(reader.read())
    try:
        latencies = []
        while not closed.done() and loop.time() - started < 4:
            before = loop.time()
            assert (await broker.credentials())["AccountId"] == DEV.account_id
            latencies.append(loop.time() - before)
            await asyncio.sleep(0.1)
        answer = await asyncio.wait_for(closed, 1)
        elapsed = loop.time() - started
    finally:
        trickling.cancel()
        closed.cancel()
        await asyncio.gather(trickling, closed, return_exceptions=True)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert answer == b""  # closed, nothing said
    assert 0.9 <= elapsed < 2.0
    assert len(latencies) >= 4
    assert max(latencies) < 0.5


async def test_no_secret_in_debug_logs(
    broker: Broker, emu: PortalEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, serving good, wrong, unknown and malformed requests (the token with a stray
    control character, or followed by 100 KB of junk) logs no token, key or session token."""
    caplog.set_level(logging.DEBUG)
    token = broker.token
    await broker.credentials("dev")
    await broker.credentials("ops")
    await broker.request(token=None)
    await broker.request(token=token[:-1])
    await broker.request(path="/credentials/nope", token=token)
    await broker.request("POST", token=token)
    for malformed in (head(token + "\x01"), head(token + "a" * 100_000)):
        assert status_of(await exchange(broker.server.port, malformed)) == 400
    await broker.credentials("dev")
    cached = SSOTokenCache().load_sync(SESSION)
    assert cached.refresh_token is not None
    sso_secrets = [cached.access_token, cached.refresh_token, cached.client_secret or ""]
    assert_no_secrets(caplog.records, [token, *sso_secrets, *broker.secrets])


# --------------------------------------------------------------------------- SSO sessions


async def test_sso_token_refreshed_while_serving(
    emu: PortalEmulator,
    make_broker: Callable[[], Awaitable[Broker]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The SSO token enters its refresh window a moment in and dies 0.3 s later: the token
    provider refreshes it, every request meanwhile succeeds, and fetches after the old token
    died use the new one."""
    caplog.set_level(logging.DEBUG)
    emu.credentials_ttl = 0.6  # the cache fetches again after half of it
    window = whole_second_after(0.25)  # the provider refreshes from then on
    old_dies = window + 0.3
    old, refresh_token = seed_token(
        emu, lifetime=old_dies - time.time(), cached_expiry=window + ADVISORY_REFRESH
    )
    broker = await make_broker()

    def new_token_after_old_died() -> bool:
        fetches = role_requests(emu)
        return any(r.token != fetches[0].token and r.time > old_dies for r in fetches)

    statuses = []
    while not new_token_after_old_died() and time.time() < old_dies + 1:
        statuses.append((await broker.request(token=broker.token))[0])
        await asyncio.sleep(0.05)
    assert new_token_after_old_died()
    assert set(statuses) == {200}
    assert len(statuses) > 5
    fetches = role_requests(emu)
    assert [r.status for r in fetches] == [200] * len(fetches)
    assert fetches[0].time < window  # served with the old token first
    new = SSOTokenCache().load_sync(SESSION)
    assert new.access_token != old.access_token
    assert emu.oidc_stats.refreshes == 1
    secrets_ = [broker.token, old.access_token, refresh_token, new.access_token]
    assert_no_secrets(caplog.records, [*secrets_, new.refresh_token or "", *broker.secrets])


@pytest.mark.parametrize("ending", ["no refresh token", "refresh token expired", "revoked"])
async def test_expired_session_is_503_until_a_new_login(
    emu: PortalEmulator,
    make_broker: Callable[[], Awaitable[Broker]],
    caplog: pytest.LogCaptureFixture,
    ending: str,
) -> None:
    """Once the SSO session cannot be refreshed (the token expired without a refresh token
    or with an expired one, or the token was revoked): 503 ``SSOSessionExpired`` saying to
    run ``aiosso login``, again and again; a new login brings 200 back without a restart."""
    caplog.set_level(logging.DEBUG)
    emu.credentials_ttl = 0.6  # the cache fetches again after half of it
    if ending == "revoked":
        old, refresh_token = seed_token(emu)
        dies = time.time()
    else:
        dies = whole_second_after(0.25)
        old, refresh_token = seed_token(
            emu,
            lifetime=dies - time.time(),
            cached_expiry=dies,
            refreshable=ending == "refresh token expired",
        )
        emu.expire_refresh_token(refresh_token)
    broker = await make_broker()
    before = await broker.credentials()
    if ending == "revoked":
        emu.revoke_token(old.access_token)
    await asyncio.sleep(max(dies + 0.1 - time.time(), 0.35))
    for _ in range(2):
        status, body, _ = await broker.request(token=broker.token)
        assert status == 503
        document = json.loads(body)
        assert document["code"] == "SSOSessionExpired"
        assert "aiosso login --profile dev" in document["message"]
    fresh, fresh_refresh = seed_token(emu)  # what `aiosso login` writes
    after = await broker.credentials()
    assert after["AccessKeyId"] != before["AccessKeyId"]
    secrets_ = [broker.token, old.access_token, refresh_token, fresh.access_token, fresh_refresh]
    assert_no_secrets(caplog.records, [*secrets_, *broker.secrets])


# --------------------------------------------------------------------------- security basics


def test_remote_hosts_need_allow_remote_and_tls() -> None:
    """Off loopback: ValueError without ``allow_remote``, and without TLS even with it;
    loopback names and addresses are accepted as they are."""
    for host in ("0.0.0.0", "192.0.2.10", "::", "example.com"):
        with pytest.raises(ValueError, match="allow_remote"):
            CredentialServer({}, host=host)
        with pytest.raises(ValueError, match="TLS"):
            CredentialServer({}, host=host, allow_remote=True)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        CredentialServer({}, host=host)


def test_token_is_long_random_and_per_server() -> None:
    """The token has at least 32 characters, differs between servers and stays out of the
    repr; a short token or one a header cannot carry is refused."""
    first, second = CredentialServer({}), CredentialServer({})
    assert len(first.token) >= 32
    assert first.token != second.token
    assert first.token not in repr(first)
    for bad in ("a" * 31, "a" * 40 + "\n", "\xe9" * 40):
        with pytest.raises(ValueError):
            CredentialServer({}, token=bad)
    chosen = secrets.token_hex(20)
    assert CredentialServer({}, token=chosen).token == chosen


# --------------------------------------------------------------------------- token_source


class _Provider:
    """Anything with ``get_token()`` answering an object with ``access_token``."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    async def get_token(self) -> SimpleNamespace:
        return SimpleNamespace(access_token=self.tokens[0])


@pytest.mark.parametrize("kind", ["async callable", "provider"])
async def test_token_source_gives_each_fetch_the_current_token(
    emu: PortalEmulator, kind: str
) -> None:
    """``token_source=`` an async callable or a ``get_token()`` provider: each fetch sends
    the token current at that moment; a cache hit asks for none."""
    tokens = [emu.issue_token(), emu.issue_token()]
    asked = 0

    async def current() -> str:
        nonlocal asked
        asked += 1
        return tokens[0]

    source = current if kind == "async callable" else _Provider(tokens)
    async with (
        AsyncSSOClient("us-east-1") as client,
        CredentialCache(client, token_source=source) as cache,
    ):
        first = await cache.get(DEV.account_id, "Developer")
        assert await cache.get(DEV.account_id, "Developer") is first
        tokens.pop(0)  # the token changed (refreshed, or a new login)
        cache.clear()
        second = await cache.get(DEV.account_id, "Developer")
    assert second.access_key_id != first.access_key_id
    labels = [r.token for r in role_requests(emu)]
    assert len(labels) == 2
    assert labels[0] != labels[1]
    if kind == "async callable":
        assert asked == 2


async def test_failing_token_source_fails_the_fetch_and_is_asked_again(
    emu: PortalEmulator,
) -> None:
    """A token source that raises (log in!) fails that ``get()``; the next one asks again."""
    answers: list[str | Exception] = [UnauthorizedSSOTokenError(), emu.token]

    async def current() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with (
        AsyncSSOClient("us-east-1") as client,
        CredentialCache(client, token_source=current) as cache,
    ):
        with pytest.raises(UnauthorizedSSOTokenError):
            await cache.get(DEV.account_id, "Developer")
        credentials = await cache.get(DEV.account_id, "Developer")
    assert credentials.account_id == DEV.account_id
    assert answers == []


class _NoClient:
    """A client the cache never gets to call."""

    async def get_role_credentials(
        self, *, roleName: str, accountId: str, accessToken: str
    ) -> Mapping[str, Any]:
        raise AssertionError("not called")


def test_exactly_one_of_access_token_and_token_source() -> None:
    """Neither or both of ``accessToken`` and ``token_source``: TypeError."""

    async def current() -> str:
        return "token"

    client = _NoClient()
    with pytest.raises(TypeError):
        CredentialCache(client)
    with pytest.raises(TypeError):
        CredentialCache(client, accessToken="token", token_source=current)


async def test_token_source_with_a_shared_store(
    emu: PortalEmulator, redis_server: RedisServer
) -> None:
    """Two caches (two brokers) on one Redis store and one token source: one fetch per
    token; after the token changes, the store is scoped by the new token."""
    from aiosso.fleet import RedisStore

    tokens = [emu.issue_token(), emu.issue_token()]

    async def current() -> str:
        return tokens[0]

    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(AsyncSSOClient("us-east-1"))
        caches = []
        for _ in range(2):
            store = RedisStore.from_url(redis_server.url, namespace="broker-tests")
            stack.push_async_callback(store.close)
            caches.append(
                await stack.enter_async_context(
                    CredentialCache(client, token_source=current, store=store)
                )
            )
        first = [await cache.get(DEV.account_id, "Developer") for cache in caches]
        assert first[0].access_key_id == first[1].access_key_id
        assert len(role_requests(emu)) == 1
        tokens.pop(0)
        for cache in caches:
            cache.clear()
        second = [await cache.get(DEV.account_id, "Developer") for cache in caches]
    assert second[0].access_key_id == second[1].access_key_id != first[0].access_key_id
    labels = [r.token for r in role_requests(emu)]
    assert len(labels) == 2
    assert labels[0] != labels[1]
