"""Transport edge cases: every network failure becomes an aiosso error naming the URL."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from _scripted import Reply, ScriptedServer
from aiohttp.client_reqrep import ConnectionKey

from aiosso import (
    AioSSOError,
    AsyncSSOClient,
    ClientClosedError,
    ClientConfig,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from aiosso._transport import proxy_for

pytestmark = pytest.mark.usefixtures("no_resource_warnings")

aioresponses_module = pytest.importorskip("aioresponses")


def config(**kwargs: Any) -> ClientConfig:
    """A one-attempt config, so failures surface at once."""
    return ClientConfig(retries={"total_max_attempts": 1}, **kwargs)


@pytest.fixture
def refused_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def blackhole_url() -> Iterator[str]:
    """A loopback URL whose listen backlog is full: connecting hangs (SYNs are dropped)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        server.close()


@pytest.fixture
async def srv() -> AsyncIterator[ScriptedServer]:
    """A scripted loopback server."""
    async with ScriptedServer(Reply(body=b'{"accountList":[]}')) as server:
        yield server


async def call_fails(url: str, cfg: ClientConfig, op: str = "list_accounts") -> AioSSOError:
    """Make one call that must fail; return the aiosso error (anything else fails the test)."""
    kwargs: dict[str, Any] = {"accessToken": "secret-token-value"}
    if op == "list_accounts":
        kwargs["nextToken"] = "page token"
    async with AsyncSSOClient("us-east-1", endpoint_url=url, config=cfg) as sso:
        with pytest.raises(AioSSOError) as info:
            await getattr(sso, op)(**kwargs)
    assert not isinstance(info.value, aiohttp.ClientError)
    assert "secret-token-value" not in str(info.value)
    return info.value


async def test_connection_refused(refused_url: str) -> None:
    """Nothing listening: EndpointConnectionError naming the URL (without the query)."""
    exc = await call_fails(refused_url, config())
    assert type(exc) is EndpointConnectionError
    assert str(exc) == f'Could not connect to the endpoint URL: "{refused_url}/assignment/accounts"'
    assert isinstance(exc.__cause__, aiohttp.ClientConnectorError)
    assert isinstance(exc.__cause__.os_error, ConnectionRefusedError)


async def test_connection_refused_after_retries(refused_url: str, no_sleep: None) -> None:
    """With retries the final error is still EndpointConnectionError."""
    exc = await call_fails(refused_url, ClientConfig(retries={"total_max_attempts": 3}))
    assert type(exc) is EndpointConnectionError


@pytest.mark.skipif(
    sys.platform != "linux", reason="relies on Linux dropping SYNs on a full backlog"
)
async def test_connect_timeout(blackhole_url: str) -> None:
    """A connect that hangs past connect_timeout is ConnectTimeoutError (also a TimeoutError)."""
    started = time.monotonic()
    exc = await call_fails(blackhole_url, config(connect_timeout=0.2))
    elapsed = time.monotonic() - started
    assert type(exc) is ConnectTimeoutError
    assert isinstance(exc, TimeoutError)
    assert isinstance(exc, EndpointConnectionError)
    assert isinstance(exc, HTTPClientError)
    assert str(exc) == f'Connect timeout on endpoint URL: "{blackhole_url}/assignment/accounts"'
    assert 0.15 < elapsed < 2.0


async def test_read_timeout_before_headers(srv: ScriptedServer) -> None:
    """A reply slower than read_timeout is ReadTimeoutError (also a TimeoutError)."""
    srv.script(Reply(delay=5.0))
    started = time.monotonic()
    exc = await call_fails(srv.url, config(read_timeout=0.2))
    assert time.monotonic() - started < 2.0
    assert type(exc) is ReadTimeoutError
    assert isinstance(exc, TimeoutError)
    assert str(exc) == f'Read timeout on endpoint URL: "{srv.url}/assignment/accounts"'


async def test_read_timeout_mid_body(srv: ScriptedServer) -> None:
    """A body that stalls past read_timeout is ReadTimeoutError too."""
    srv.script(Reply(body=b'{"accountList":', delay=5.0, action="stall"))
    exc = await call_fails(srv.url, config(read_timeout=0.2))
    assert type(exc) is ReadTimeoutError


async def test_slow_but_steady_reply_is_fine(srv: ScriptedServer) -> None:
    """read_timeout bounds silence, not the whole call: a reply within it succeeds."""
    srv.script(Reply(body=b'{"accountList":[]}', delay=0.05))
    async with AsyncSSOClient(
        "us-east-1", endpoint_url=srv.url, config=config(read_timeout=1)
    ) as c:
        assert (await c.list_accounts(accessToken="t"))["accountList"] == []


async def test_dropped_connection_post(srv: ScriptedServer) -> None:
    """The server closing without a reply is ConnectionClosedError naming the URL."""
    srv.script(Reply(action="drop"))
    exc = await call_fails(srv.url, config(), op="logout")
    assert type(exc) is ConnectionClosedError
    assert str(exc) == (
        "Connection was closed before we received a valid response from endpoint URL: "
        f'"{srv.url}/logout".'
    )
    assert len(srv.requests) == 1


async def test_dropped_connection_get(srv: ScriptedServer) -> None:
    """A GET dropped on every attempt is ConnectionClosedError (after aiohttp's one reconnect)."""
    srv.script(Reply(action="drop"), Reply(action="drop"))
    exc = await call_fails(srv.url, config())
    assert type(exc) is ConnectionClosedError
    assert 1 <= len(srv.requests) <= 2


async def test_truncated_body(srv: ScriptedServer) -> None:
    """A body shorter than its Content-Length is ConnectionClosedError, never a result."""
    srv.script(Reply(body=b'{"accountList":[{"accountId":"1', action="truncate"))
    exc = await call_fails(srv.url, config(), op="logout")
    assert type(exc) is ConnectionClosedError


async def test_redirect_not_followed(srv: ScriptedServer) -> None:
    """A 3xx is the service's answer (a ClientError), never followed."""
    srv.script(Reply(302, (("Location", srv.url + "/elsewhere"),), b""))
    exc = await call_fails(srv.url, config())
    assert type(exc) is ClientError
    assert isinstance(exc, ClientError)
    assert exc.response["Error"]["Code"] == "302"
    assert len(srv.requests) == 1


async def test_response_headers_lower_cased_and_joined(srv: ScriptedServer) -> None:
    """HTTPHeaders has lower-cased names; repeated headers are joined with ', '."""
    srv.script(
        Reply(
            headers=(("X-Dup", "a"), ("x-dup", "b"), ("X-AMZN-RequestId", "rid")),
            body=b'{"accountList":[]}',
        )
    )
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
        result = await sso.list_accounts(accessToken="t")
    headers = result["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-dup"] == "a, b"
    assert all(name == name.lower() for name in headers)
    assert result["ResponseMetadata"]["RequestId"] == "rid"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="needs Task.cancelling()")
async def test_session_closed_during_call(srv: ScriptedServer) -> None:
    """Closing a borrowed session under calls in flight or queued gives ClientClosedError."""
    srv.script(Reply(delay=5.0))
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
    sso = AsyncSSOClient("us-east-1", endpoint_url=srv.url, session=session, config=config())
    in_flight = asyncio.create_task(sso.list_accounts(accessToken="t"))
    queued = asyncio.create_task(sso.list_accounts(accessToken="t"))
    await asyncio.sleep(0.1)
    await session.close()
    for task in (in_flight, queued):
        with pytest.raises(ClientClosedError):
            await task
    await sso.close()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="needs Task.cancelling()")
async def test_client_closed_during_call(srv: ScriptedServer) -> None:
    """close() under calls in flight or queued gives them ClientClosedError, not cancellation."""
    srv.script(Reply(delay=5.0))
    sso = AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config(max_pool_connections=1))
    in_flight = asyncio.create_task(sso.list_accounts(accessToken="t"))
    queued = asyncio.create_task(sso.list_accounts(accessToken="t"))
    await asyncio.sleep(0.1)
    await sso.close()
    for task in (in_flight, queued):
        with pytest.raises(ClientClosedError):
            await task


async def test_caller_cancellation_is_kept(srv: ScriptedServer) -> None:
    """A caller's own cancellation stays a CancelledError."""
    srv.script(Reply(delay=5.0))
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
        task = asyncio.create_task(sso.list_accounts(accessToken="t"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# --------------------------------------------------------------------------- the mapping

KEY = ConnectionKey("127.0.0.1", 9, False, True, None, None, None, None)


def _make(name: str) -> BaseException:
    cls = getattr(aiohttp, name)
    if issubclass(cls, aiohttp.ClientConnectorError):
        return cls(KEY, OSError(111, "refused"))  # type: ignore[no-any-return]
    if name == "ClientOSError":
        return aiohttp.ClientOSError(104, "reset")
    if issubclass(cls, aiohttp.ClientResponseError):
        return cls(None, (), status=500)  # type: ignore[no-any-return]
    if name == "InvalidURL":
        return aiohttp.InvalidURL("http://bad")
    if name == "ServerFingerprintMismatch":
        return aiohttp.ServerFingerprintMismatch(b"a", b"b", "h", 1)
    return cls("boom")  # type: ignore[no-any-return]


MAPPING: list[tuple[str, type[AioSSOError]]] = [
    ("ClientConnectorError", EndpointConnectionError),
    ("ClientConnectorDNSError", EndpointConnectionError),
    ("ClientConnectorSSLError", SSLError),
    ("ClientConnectorCertificateError", SSLError),
    ("ClientProxyConnectionError", EndpointConnectionError),
    ("ConnectionTimeoutError", ConnectTimeoutError),
    ("SocketTimeoutError", ReadTimeoutError),
    ("ServerDisconnectedError", ConnectionClosedError),
    ("ClientPayloadError", ConnectionClosedError),
    ("ClientOSError", ConnectionClosedError),
    ("ClientConnectionResetError", ConnectionClosedError),
    ("ClientConnectionError", HTTPClientError),
    ("ServerFingerprintMismatch", HTTPClientError),
    ("ClientResponseError", HTTPClientError),
    ("TooManyRedirects", HTTPClientError),
    ("InvalidURL", HTTPClientError),
    ("ClientError", HTTPClientError),
]


# Errors about the reply: aiohttp's message may quote it (an echo of the token's header).
UNCHAINED = {"ClientPayloadError", "ClientResponseError", "TooManyRedirects"}


@pytest.mark.parametrize(("name", "expected"), MAPPING)
async def test_aiohttp_errors_are_mapped(name: str, expected: type[AioSSOError]) -> None:
    """Every aiohttp error becomes the aiosso error named for it; connection errors chained
    as __cause__, errors about the reply not chained at all."""
    if not hasattr(aiohttp, name):
        pytest.skip(f"aiohttp {aiohttp.__version__} has no {name}")
    raised = _make(name)
    with aioresponses_module.aioresponses() as mocked:
        mocked.get(re.compile(r".*"), exception=raised)
        exc = await call_fails("https://portal.sso.us-east-1.amazonaws.com", config())
    assert type(exc) is expected
    if name in UNCHAINED:
        assert exc.__cause__ is None
        assert exc.__suppress_context__
    else:
        assert exc.__cause__ is raised
    assert "portal.sso.us-east-1.amazonaws.com/assignment/accounts" in str(exc)
    assert "page" not in str(exc)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Connection timeout to host http://x", ConnectTimeoutError),
        ("Timeout on reading data from socket", ReadTimeoutError),
    ],
)
async def test_plain_server_timeout_told_apart(message: str, expected: type[AioSSOError]) -> None:
    """A bare ServerTimeoutError (older aiohttp) is told apart by its message."""
    raised = aiohttp.ServerTimeoutError(message)
    with aioresponses_module.aioresponses() as mocked:
        mocked.get(re.compile(r".*"), exception=raised)
        exc = await call_fails("https://portal.sso.us-east-1.amazonaws.com", config())
    assert type(exc) is expected


async def test_asyncio_timeout_is_read_timeout() -> None:
    """A bare asyncio.TimeoutError from aiohttp is ReadTimeoutError."""
    with aioresponses_module.aioresponses() as mocked:
        mocked.get(re.compile(r".*"), exception=asyncio.TimeoutError())
        exc = await call_fails("https://portal.sso.us-east-1.amazonaws.com", config())
    assert type(exc) is ReadTimeoutError


async def test_transport_errors_are_retried_by_default(srv: ScriptedServer, no_sleep: None) -> None:
    """HTTPClientErrors are retried: a dropped connection then a reply succeeds."""
    srv.script(Reply(action="drop"), Reply(body=b""))
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
        result = await sso.logout(accessToken="t")
    assert result["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(srv.requests) == 2


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({}, "https://portal.sso.us-east-1.amazonaws.com/x", False),
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128"},
            "https://portal.sso.eu-west-1.amazonaws.com/x",
            True,
        ),
        (
            {"https_proxy": "http://proxy.corp:3128"},
            "https://portal.sso.eu-west-1.amazonaws.com/x",
            True,
        ),
        (
            {"HTTP_PROXY": "http://proxy.corp:3128"},
            "https://portal.sso.eu-west-1.amazonaws.com/x",
            False,
        ),
        ({"HTTP_PROXY": "http://proxy.corp:3128"}, "http://sso.example.test:8080/x", True),
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": ".amazonaws.com"},
            "https://portal.sso.eu-west-1.amazonaws.com/x",
            False,
        ),
        ({"HTTP_PROXY": "http://proxy.corp:3128"}, "http://127.0.0.1:8765/x", False),
        ({"HTTP_PROXY": "http://proxy.corp:3128"}, "http://localhost:8765/x", False),
        ({"HTTP_PROXY": "http://proxy.corp:3128"}, "http://[::1]:8765/x", False),
    ],
)
def test_proxy_decision_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, expected: bool
) -> None:
    """A proxy applies per scheme, NO_PROXY excludes hosts, loopback is always direct."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert (proxy_for(url) is not None) is expected
