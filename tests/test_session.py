"""The owned aiohttp session: keep-alive, limits, failures, tuning, proxies, wire format.

Most tests talk to a raw ``asyncio.start_server`` on loopback that counts the TCP
connections it accepts and answers with canned bytes, so connection reuse is observed from
the server's side rather than inferred from the client's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import aiohttp
import aiohttp.abc
import pytest
from _inspect import connections

from aiosso import (
    AsyncSSOClient,
    ClientClosedError,
    ClientConfig,
    ClientError,
    ConnectionClosedError,
    HTTPClientError,
    ReadTimeoutError,
)
from aiosso._transport import Transport

pytestmark = pytest.mark.usefixtures("no_resource_warnings")

ACCOUNTS = b'{"accountList":[]}'
PROXY_VARS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


def config(**kwargs: Any) -> ClientConfig:
    """A one-attempt config, so failures surface at once."""
    return ClientConfig(retries={"total_max_attempts": 1}, **kwargs)


def reply(body: bytes = ACCOUNTS, *, headers: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    """A whole 200 reply with a Content-Length."""
    return (
        version
        + b" 200 OK\r\nContent-Type: application/json\r\n"
        + headers
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


class Seen(NamedTuple):
    """One request as the raw server read it."""

    conn: int  # which accepted connection (1-based)
    index: int  # its position on that connection (0-based)
    head: bytes  # request line and headers, up to and including the blank line
    body: bytes

    @property
    def line(self) -> str:
        """The request line."""
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")


Responder = Callable[["RawServer", Seen, asyncio.StreamWriter], Awaitable[bool]]


async def answer_ok(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
    """The canned keep-alive reply: an empty account list (an empty body for Logout)."""
    writer.write(reply(b"" if " /logout " in seen.line else ACCOUNTS))
    await writer.drain()
    return True


def delayed(seconds: float) -> Responder:
    """The canned reply, after ``seconds``."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(seconds)
        return await answer_ok(srv, seen, writer)

    return respond


class RawServer:
    """``async with RawServer(respond) as srv``: counts connections, records requests.

    ``respond`` writes the reply to each request and returns whether to keep reading from
    that connection; returning False closes it.
    """

    def __init__(self, respond: Responder = answer_ok) -> None:
        self.respond = respond
        self.accepted = 0
        self.open = 0
        self.max_open = 0
        self.requests: list[Seen] = []
        self.url = ""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.accepted += 1
        conn = self.accepted
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            index = 0
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                match = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
                body = await reader.readexactly(int(match.group(1))) if match else b""
                seen = Seen(conn, index, head, body)
                self.requests.append(seen)
                index += 1
                if not await self.respond(self, seen, writer):
                    return
        except (OSError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return  # shut down by __aexit__ (a cancelled handler task would be logged)
        finally:
            self.open -= 1
            self._writers.discard(writer)
            writer.close()
            self._tasks.discard(task)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        server, self._server = self._server, None
        assert server is not None
        server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        await server.wait_closed()


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait (polling) until ``predicate()`` is true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def settle(tasks: list[asyncio.Task[Any]], timeout: float = 5.0) -> list[Any]:
    """Each task's result or exception; a task still pending after ``timeout`` fails the test."""
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    assert not pending, f"{len(pending)} of {len(tasks)} requests never completed"
    out: list[Any] = []
    for task in tasks:
        if task.cancelled():
            out.append(asyncio.CancelledError())
        else:
            out.append(task.exception() or task.result())
    return out


def session_of(sso: AsyncSSOClient) -> aiohttp.ClientSession:
    """The client's aiohttp session (it must have one)."""
    session = sso._transport.session
    assert session is not None
    return session


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variables in the environment."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


# --- keep-alive -------------------------------------------------------------------------


async def test_sequential_calls_share_one_connection(no_proxy_env: None) -> None:
    """Five sequential calls through one owned client use one TCP connection."""
    async with RawServer() as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
            for _ in range(5):
                result = await sso.list_accounts(accessToken="tok")
                assert result["accountList"] == []
            assert connections(sso._transport) == (0, 1)
        assert len(srv.requests) == 5
        assert srv.accepted == 1
        assert [seen.index for seen in srv.requests] == [0, 1, 2, 3, 4]


async def test_transport_reuses_its_connection(no_proxy_env: None) -> None:
    """Transport(session=None) sends sequential exchanges over one connection."""
    async with RawServer() as srv:
        transport = Transport(
            session=None, connect_timeout=5, read_timeout=5, max_pool_connections=4
        )
        try:
            for _ in range(4):
                status, headers, body = await transport.send("GET", srv.url + "/x?a=1", {})
                assert (status, body) == (200, ACCOUNTS)
                assert headers["content-type"] == "application/json"
        finally:
            await transport.close()
        assert srv.accepted == 1
        assert len(srv.requests) == 4


@pytest.mark.parametrize(
    "canned",
    [
        reply(headers=b"Connection: close\r\n"),
        reply(headers=b"connection: Close\r\n"),
        reply(version=b"HTTP/1.0"),
    ],
    ids=["connection-close", "connection-close-lower", "http-1.0"],
)
async def test_reply_that_ends_the_connection_is_not_reused(
    canned: bytes, no_proxy_env: None
) -> None:
    """A reply saying Connection: close (or HTTP/1.0) makes the next call use a new connection."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(canned)
        await writer.drain()
        return True  # the server would carry on: only the client's decision is tested

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
            for _ in range(3):
                assert (await sso.list_accounts(accessToken="tok"))["accountList"] == []
            assert connections(sso._transport) == (0, 0)
        assert srv.accepted == 3
        assert [seen.index for seen in srv.requests] == [0, 0, 0]


# --- stale keep-alive connections ------------------------------------------------------


async def test_connection_closed_while_idle_is_replaced(no_proxy_env: None) -> None:
    """A kept-alive connection the server closes while idle is dropped; the next call works."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        await answer_ok(srv, seen, writer)
        await asyncio.sleep(0.05)
        return False  # then close it

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
            await sso.list_accounts(accessToken="tok")
            await until(lambda: srv.open == 0)
            assert connections(sso._transport) == (0, 0)
            result = await sso.list_accounts(accessToken="tok")
        assert result["ResponseMetadata"]["RetryAttempts"] == 0
        assert srv.accepted == 2
        assert len(srv.requests) == 2


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_reused_connection_closed_on_request_is_retried_once(
    how: str, no_proxy_env: None
) -> None:
    """A reused connection closed on the next request, unanswered, is retried on a new one."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.conn == 1 and seen.index == 1:
            if how == "abort":
                writer.transport.abort()
            return False  # close without a reply
        return await answer_ok(srv, seen, writer)

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            await sso.list_accounts(accessToken="tok")
            result = await sso.list_accounts(accessToken="tok")
            assert connections(sso._transport) == (0, 1)
        assert result["accountList"] == []
        assert result["ResponseMetadata"]["RetryAttempts"] == 0
        assert srv.accepted == 2
        assert [(seen.conn, seen.index) for seen in srv.requests] == [(1, 0), (1, 1), (2, 0)]


@pytest.mark.parametrize(("op", "sent"), [("list_accounts", 2), ("logout", 1)])
async def test_fresh_connection_closed_without_reply(
    op: str, sent: int, no_proxy_env: None
) -> None:
    """A new connection closed unanswered is ConnectionClosedError; aiohttp resends only a GET."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        return False

    kwargs = {"nextToken": "page"} if op == "list_accounts" else {}
    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            with pytest.raises(ConnectionClosedError) as info:
                await getattr(sso, op)(accessToken="tok", **kwargs)
            assert connections(sso._transport) == (0, 0)
        assert type(info.value) is ConnectionClosedError
        path = "/assignment/accounts" if op == "list_accounts" else "/logout"
        assert str(info.value).endswith(f'"{srv.url}{path}".')
        assert len(srv.requests) == sent  # one attempt: aiohttp's own resend of a GET only
        assert srv.accepted == sent


async def test_reused_connection_closed_mid_reply_is_not_retried(no_proxy_env: None) -> None:
    """A reused connection that closes part-way through the reply is not resent: one request."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.index == 1:
            writer.write(reply()[:-5])
            await writer.drain()
            return False
        return await answer_ok(srv, seen, writer)

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            await sso.list_accounts(accessToken="tok")
            with pytest.raises(ConnectionClosedError):
                await sso.list_accounts(accessToken="tok")
            assert connections(sso._transport) == (0, 0)
        assert len(srv.requests) == 2
        assert srv.accepted == 1


# --- limits -----------------------------------------------------------------------------


async def test_client_never_exceeds_max_pool_connections(no_proxy_env: None) -> None:
    """20 concurrent calls with max_pool_connections=3 use at most 3 connections; all succeed."""
    async with RawServer(delayed(0.05)) as srv:
        cfg = ClientConfig(max_pool_connections=3)
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=cfg) as sso:
            results = await asyncio.wait_for(
                asyncio.gather(*(sso.list_accounts(accessToken="tok") for _ in range(20))), 5
            )
            in_use, idle = connections(sso._transport)
            assert in_use == 0
            assert idle <= 3
        assert all(result["accountList"] == [] for result in results)
        assert len(srv.requests) == 20
        assert 1 < srv.max_open <= 3  # the delay makes the calls overlap: the bound is reached
        assert srv.accepted <= 3


# --- cancellation -----------------------------------------------------------------------


async def test_cancelled_call_drops_its_connection(no_proxy_env: None) -> None:
    """Cancelling a call in flight drops its connection; the next call opens a new one."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.conn == 1:
            await asyncio.sleep(0.5)  # the reply comes too late to be read by anyone
        return await answer_ok(srv, seen, writer)

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
            task = asyncio.create_task(sso.list_accounts(accessToken="tok"))
            await until(lambda: len(srv.requests) == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert connections(sso._transport) == (0, 0)
            result = await sso.list_accounts(accessToken="tok")
            assert result["accountList"] == []
            assert connections(sso._transport) == (0, 1)
        assert srv.accepted == 2
        assert [(seen.conn, seen.index) for seen in srv.requests] == [(1, 0), (2, 0)]


# --- close ------------------------------------------------------------------------------


async def test_close_during_a_call(no_proxy_env: None) -> None:
    """close() under a call in flight fails it with ClientClosedError and frees everything."""
    async with RawServer(delayed(0.5)) as srv:
        sso = AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config())
        task = asyncio.create_task(sso.list_accounts(accessToken="tok"))
        await until(lambda: len(srv.requests) == 1)
        started = time.monotonic()
        await sso.close()
        with pytest.raises(ClientClosedError):
            await task
        assert time.monotonic() - started < 0.4
        assert sso._transport.session is None
        assert connections(sso._transport) == (0, 0)
        with pytest.raises(ClientClosedError):
            await sso.list_accounts(accessToken="tok")
        with pytest.raises(ClientClosedError):
            await sso._transport.send("GET", srv.url + "/x", {})
        await sso.close()  # idempotent
        await sso._transport.close()
        assert not sso._transport.owns_open_session


async def test_trailing_bytes_after_a_reply_are_not_read_as_the_next_one(
    no_proxy_env: None,
) -> None:
    """Junk after a complete reply never becomes the next call's reply."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        tail = b"HTTP/1.1 200 OK\r\n" if seen.index == 0 else b""
        writer.write(reply() + tail)
        await writer.drain()
        return True

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            first = await sso.list_accounts(accessToken="tok")
            second = await sso.list_accounts(accessToken="tok")
    assert first["accountList"] == second["accountList"] == []
    assert second["ResponseMetadata"]["HTTPHeaders"]["content-length"] == "18"
    assert len(srv.requests) == 2


@pytest.mark.xfail(
    strict=True,
    reason="aiohttp (3.14) reuses an idle connection that received unsolicited bytes and "
    "reads them as the next reply: its connector checks only is_connected() on reuse",
)
async def test_bytes_sent_on_an_idle_connection_are_not_the_next_reply(
    no_proxy_env: None,
) -> None:
    """A reply nobody asked for, sent while the connection is idle, is not the next answer."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        await answer_ok(srv, seen, writer)
        if seen.index == 0:
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        return True

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            assert (await sso.list_accounts(accessToken="tok"))["accountList"] == []
            await asyncio.sleep(0.15)
            result = await sso.list_accounts(accessToken="tok")
    assert result["accountList"] == []


# --- read timeout -------------------------------------------------------------------------


async def test_read_timeout_counts_per_read(no_proxy_env: None) -> None:
    """A reply trickled every 0.1 s succeeds with read_timeout=0.3 though it takes longer."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        data = reply()
        head_end = data.index(b"\r\n\r\n") + 4
        writer.write(data[:head_end])
        await writer.drain()
        body = data[head_end:]
        for i in range(0, len(body), 3):
            await asyncio.sleep(0.1)
            writer.write(body[i : i + 3])
            await writer.drain()
        return True

    async with RawServer(respond) as srv:
        cfg = config(read_timeout=0.3)
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=cfg) as sso:
            started = time.monotonic()
            result = await sso.list_accounts(accessToken="tok")
            elapsed = time.monotonic() - started
        assert result["accountList"] == []
        assert elapsed > 0.5


async def test_read_timeout_mid_body(no_proxy_env: None) -> None:
    """A reply that stalls 1 s mid-body fails with ReadTimeoutError soon after read_timeout."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        data = reply()
        writer.write(data[:-6])
        await writer.drain()
        await asyncio.sleep(1.0)
        writer.write(data[-6:])
        await writer.drain()
        return True

    async with RawServer(respond) as srv:
        cfg = config(read_timeout=0.3)
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=cfg) as sso:
            started = time.monotonic()
            with pytest.raises(ReadTimeoutError) as info:
                await sso.list_accounts(accessToken="tok", nextToken="page")
            elapsed = time.monotonic() - started
            assert connections(sso._transport) == (0, 0)
        assert 0.25 < elapsed < 0.8
        assert f"{srv.url}/assignment/accounts" in str(info.value)
        assert "page" not in str(info.value)


# --- wire format --------------------------------------------------------------------------


def fields(seen: Seen) -> list[tuple[str, str]]:
    """The request's header fields in order, split at the first colon."""
    lines = seen.head.decode("latin-1").split("\r\n")
    assert lines[-2:] == ["", ""]
    out = []
    for line in lines[1:-2]:
        name, sep, value = line.partition(": ")
        assert sep, line
        out.append((name, value))
    return out


async def test_wire_format(no_proxy_env: None) -> None:
    """The exact request heads for list_accounts (GET) and logout (POST, Content-Length: 0)."""
    async with RawServer() as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
            await sso.list_accounts(accessToken="tok", maxResults=5)
            await sso.logout(accessToken="tok")
            max_attempts = sso.meta.config.retries.total_max_attempts
    get, post = srv.requests
    assert (get.conn, post.conn) == (1, 1)  # the GET left nothing behind on the connection
    assert get.line == "GET /assignment/accounts?max_result=5 HTTP/1.1"
    assert post.line == "POST /logout HTTP/1.1"
    assert get.body == post.body == b""
    for seen, extra in ((get, []), (post, ["content-length"])):
        head = fields(seen)
        names = [name.lower() for name, _ in head]
        assert head[0] == ("Host", f"127.0.0.1:{srv.port}")
        assert names[1:3] == ["user-agent", "accept-encoding"]
        assert sorted(names) == sorted(
            [
                "host",
                "user-agent",
                "accept-encoding",
                "amz-sdk-invocation-id",
                "x-amz-sso_bearer_token",
                "amz-sdk-request",
                *extra,
            ]
        )
        values = {name.lower(): value for name, value in head}
        assert values["user-agent"].startswith("aiosso/")
        assert values["accept-encoding"] == "identity"
        assert values["x-amz-sso_bearer_token"] == "tok"
        assert values["amz-sdk-request"] == f"attempt=1; max={max_attempts}"
        assert str(uuid.UUID(values["amz-sdk-invocation-id"])) == values["amz-sdk-invocation-id"]
        for absent in ("authorization", "accept", "content-type", "connection"):
            assert absent not in values
    assert fields(post)[-1] == ("Content-Length", "0")
    assert fields(get)[3:] != fields(post)[3:]  # a fresh invocation id per call


# --- routes -------------------------------------------------------------------------------


async def test_owned_client_uses_one_tuned_session(no_proxy_env: None) -> None:
    """An owned client opens one aiohttp session on first use: no cookie jar, no trust_env."""
    async with RawServer() as srv:
        sso = AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config())
        assert sso._transport.session is None  # nothing opened before the first call
        async with sso:
            await sso.list_accounts(accessToken="tok")
            session = session_of(sso)
            await sso.list_accounts(accessToken="tok")
            assert session_of(sso) is session
            assert isinstance(session.cookie_jar, aiohttp.DummyCookieJar)
            assert session.trust_env is False
            assert session.connector is not None
            assert session.connector.limit == sso.meta.config.max_pool_connections
        assert session.closed
        assert srv.accepted == 1


async def test_cookies_are_never_sent_back(no_proxy_env: None) -> None:
    """A Set-Cookie from the endpoint is dropped: the next request carries no Cookie header."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(headers=b"Set-Cookie: awsalb=sticky; Path=/\r\n"))
        await writer.drain()
        return True

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            await sso.list_accounts(accessToken="tok")
            await sso.list_accounts(accessToken="tok")
    assert len(srv.requests) == 2
    assert all(b"\r\ncookie:" not in seen.head.lower() for seen in srv.requests)


async def test_netrc_is_never_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_proxy_env: None
) -> None:
    """Credentials in ~/.netrc never go to the endpoint beside the token (trust_env=False)."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with RawServer() as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            await sso.list_accounts(accessToken="tok")
        # The hazard is real: a session that trusts the environment sends them.
        async with aiohttp.ClientSession(trust_env=True) as trusting:
            async with trusting.get(srv.url + "/probe") as resp:
                await resp.read()
    ours, theirs = srv.requests
    assert b"authorization:" in theirs.head.lower()
    assert b"authorization:" not in ours.head.lower()
    assert b"YWxpY2U6aHVudGVyMg" not in ours.head  # base64 of alice:hunter2


@pytest.mark.parametrize("borrowed", [False, True], ids=["owned", "borrowed"])
async def test_redirects_are_never_followed(borrowed: bool, no_proxy_env: None) -> None:
    """A 3xx is the service's answer, on either session: the token never goes elsewhere."""
    async with RawServer() as target:

        async def redirect(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
            location = f"{target.url}/assignment/accounts".encode()
            writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\n" % location)
            writer.write(b"Content-Length: 0\r\n\r\n")
            await writer.drain()
            return True

        async with RawServer(redirect) as srv:
            session = aiohttp.ClientSession() if borrowed else None
            try:
                async with AsyncSSOClient(
                    "us-east-1", endpoint_url=srv.url, session=session, config=config()
                ) as sso:
                    with pytest.raises(ClientError) as info:
                        await sso.list_accounts(accessToken="tok")
            finally:
                if session is not None:
                    await session.close()
    assert info.value.response["Error"]["Code"] == "307"
    assert len(srv.requests) == 1
    assert target.accepted == 0


async def test_proxy_from_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    """With HTTP_PROXY set, an owned client sends through that proxy, passed per request."""
    lines: list[str] = []

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        lines.append(seen.line)
        writer.write(reply())
        await writer.drain()
        return True

    async with RawServer(respond) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        endpoint = "http://sso.example.invalid"
        cfg = config(allow_http=True)
        async with AsyncSSOClient("us-east-1", endpoint_url=endpoint, config=cfg) as sso:
            result = await sso.list_accounts(accessToken="tok", maxResults=5)
            assert session_of(sso).trust_env is False  # the proxy is ours to pass, not aiohttp's
        assert result["accountList"] == []
        assert lines == ["GET http://sso.example.invalid/assignment/accounts?max_result=5 HTTP/1.1"]
        assert proxy.accepted == 1


async def test_no_proxy_goes_direct(monkeypatch: pytest.MonkeyPatch, no_proxy_env: None) -> None:
    """NO_PROXY naming the endpoint's host keeps requests direct."""
    async with RawServer() as proxy, RawServer() as srv:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("NO_PROXY", "sso.example.test")
        monkeypatch.setenv("no_proxy", "sso.example.test")
        endpoint = f"http://sso.example.test:{srv.port}"
        cfg = config(allow_http=True)
        resolver = _Loopback()
        async with AsyncSSOClient("us-east-1", endpoint_url=endpoint, config=cfg) as sso:
            sso._transport._open()  # the session exists before the first call...
            connector = session_of(sso).connector
            assert isinstance(connector, aiohttp.TCPConnector)
            connector._resolver = resolver  # ...so its resolver can point the name at loopback
            await sso.list_accounts(accessToken="tok")
            await sso.list_accounts(accessToken="tok")
        assert proxy.accepted == 0
        assert srv.accepted == 1
        assert len(srv.requests) == 2
        assert resolver.asked == ["sso.example.test"]


class _Loopback(aiohttp.abc.AbstractResolver):
    """Resolves every name to 127.0.0.1 and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[dict[str, Any]]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


async def test_aioresponses_mocks_an_owned_client(no_proxy_env: None) -> None:
    """Inside aioresponses an owned client is served by the mock, even after real calls."""
    aioresponses_module = pytest.importorskip("aioresponses")
    # (aioresponses cannot build replies with every aiohttp release: the mock raises instead,
    # which shows just as well who served the call.)
    raised = aiohttp.ServerDisconnectedError("mocked")
    async with RawServer() as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            await sso.list_accounts(accessToken="tok")
            with aioresponses_module.aioresponses() as mocked:
                mocked.get(re.compile(r".*/assignment/accounts.*"), exception=raised)
                with pytest.raises(ConnectionClosedError) as info:
                    await sso.list_accounts(accessToken="tok")
            assert info.value.__cause__ is raised
            assert len(srv.requests) == 1
            after = await sso.list_accounts(accessToken="tok")  # the real server again
            assert after["accountList"] == []
        assert len(srv.requests) == 2
        assert srv.accepted == 1


# --- malformed replies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "canned",
    [
        b"HELLO\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 2xx OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 2\r\n\r\n{}",
    ],
    ids=[
        "not-http",
        "no-colon",
        "space-in-name",
        "bad-status",
        "bad-length",
        "conflicting-lengths",
        "bad-chunk",
        "bare-cr",
    ],
)
async def test_malformed_reply_is_http_client_error(canned: bytes, no_proxy_env: None) -> None:
    """A malformed reply is HTTPClientError ('invalid HTTP reply', URL without query)."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(canned)
        await writer.drain()
        return True

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            with pytest.raises(HTTPClientError) as info:
                await sso.list_accounts(accessToken="tok", nextToken="page")
            assert connections(sso._transport) == (0, 0)
    exc = info.value
    assert type(exc) is HTTPClientError
    assert "invalid HTTP reply" in str(exc)
    assert f"{srv.url}/assignment/accounts" in str(exc)
    assert "next_token" not in str(exc)
    assert "page" not in str(exc)
    assert exc.__cause__ is None  # aiohttp's message would quote the reply
    assert len(srv.requests) == 1


async def test_switching_protocols_is_http_client_error(no_proxy_env: None) -> None:
    """A 101 nobody asked for is HTTPClientError ('unexpected status 101'), not a result."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")
        await writer.drain()
        return False

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            with pytest.raises(HTTPClientError, match="unexpected status 101") as info:
                await sso.list_accounts(accessToken="tok")
    assert type(info.value) is HTTPClientError
    assert len(srv.requests) == 1


# --- event loop binding ---------------------------------------------------------------------


def test_client_refuses_another_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client whose session was opened in one loop fails clearly in another, closes cleanly."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    loop = asyncio.new_event_loop()
    srv = RawServer()
    sso: AsyncSSOClient | None = None
    try:

        async def first() -> AsyncSSOClient:
            await srv.__aenter__()
            client = AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config())
            await client.list_accounts(accessToken="tok")
            return client

        sso = loop.run_until_complete(first())
        client = sso

        async def elsewhere() -> HTTPClientError:
            with pytest.raises(HTTPClientError) as info:
                await client.list_accounts(accessToken="tok")
            return info.value

        exc = asyncio.run(elsewhere())
        assert type(exc) is HTTPClientError
        assert "another event loop" in str(exc)
        assert len(srv.requests) == 1
    finally:

        async def last() -> None:
            if sso is not None:
                await sso.close()
            await srv.__aexit__(None, None, None)

        loop.run_until_complete(last())
        loop.close()
    assert sso is not None
    assert sso._transport.session is None
