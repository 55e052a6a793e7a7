"""The owned-connection pool (aiosso._pool): keep-alive, limits, failures, routes, wire format.

Most tests talk to a raw ``asyncio.start_server`` on loopback that counts the TCP
connections it accepts and answers with canned bytes, so connection reuse is observed from
the server's side rather than inferred from the pool's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, NamedTuple

import aiohttp
import pytest
from _inspect import connections

import aiosso._pool
from aiosso import (
    AsyncSSOClient,
    ClientClosedError,
    ClientConfig,
    ConnectionClosedError,
    HTTPClientError,
    ReadTimeoutError,
)
from aiosso._pool import ConnectionPool
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


def make_pool(limit: int = 10, read_timeout: float = 5) -> ConnectionPool:
    """A pool as a client would make it, with no static headers."""
    return ConnectionPool(
        connect_timeout=5,
        read_timeout=read_timeout,
        limit=limit,
        max_body=10**6,
        verify=True,
        static_headers={},
    )


def pool_of(sso: AsyncSSOClient) -> ConnectionPool:
    """The client's pool (it must have one)."""
    pool = sso._transport._pool
    assert pool is not None
    return pool


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
        reply(version=b"HTTP/1.0", headers=b"Connection: keep-alive\r\n"),
    ],
    ids=["connection-close", "connection-close-lower", "http-1.0", "http-1.0-keep-alive"],
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
            await until(lambda: pool_of(sso)._count == 0)
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


async def test_fresh_connection_closed_without_reply_is_not_retried(no_proxy_env: None) -> None:
    """A new connection closed before any reply fails with ConnectionClosedError, sent once."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        return False

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            with pytest.raises(ConnectionClosedError) as info:
                await sso.list_accounts(accessToken="tok", nextToken="page")
            assert pool_of(sso)._count == 0
            assert connections(sso._transport) == (0, 0)
        assert type(info.value) is ConnectionClosedError
        assert f"{srv.url}/assignment/accounts" in str(info.value)
        assert "page" not in str(info.value)
        assert len(srv.requests) == 1


async def test_reused_connection_closed_mid_reply_is_not_retried(no_proxy_env: None) -> None:
    """A reused connection that closes part-way through the reply is not retried by the pool."""

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
            pool = pool_of(sso)
            assert pool._count <= 3
            assert connections(sso._transport)[0] == 0
        assert all(result["accountList"] == [] for result in results)
        assert len(srv.requests) == 20
        assert srv.max_open <= 3
        assert srv.accepted <= 3


async def test_pool_limit_directly() -> None:
    """ConnectionPool(limit=2) serves 10 concurrent requests over at most 2 connections."""
    async with RawServer(delayed(0.05)) as srv:
        pool = make_pool(limit=2)
        try:
            replies = await asyncio.wait_for(
                asyncio.gather(
                    *(pool.request("GET", f"{srv.url}/r/{i}", {}, None) for i in range(10))
                ),
                5,
            )
            assert [status for status, _, _ in replies] == [200] * 10
            assert all(body == ACCOUNTS for _, _, body in replies)
            assert srv.max_open <= 2
            assert srv.accepted <= 2
            assert 0 < pool._count <= 2
            assert pool._count == len(pool._idle)
            assert not pool._busy
            assert not [w for w in pool._waiters if not w.done()]
        finally:
            await pool.close()
        assert pool._count == 0
        assert sorted(seen.line for seen in srv.requests) == sorted(
            f"GET /r/{i} HTTP/1.1" for i in range(10)
        )


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
            assert pool_of(sso)._count == 0
            result = await sso.list_accounts(accessToken="tok")
            assert result["accountList"] == []
            assert connections(sso._transport) == (0, 1)
        assert srv.accepted == 2
        assert [(seen.conn, seen.index) for seen in srv.requests] == [(1, 0), (2, 0)]


async def test_cancelled_waiters_leak_no_slot() -> None:
    """Requests cancelled while waiting for a slot (limit 1) leave the rest and the slot intact."""
    async with RawServer(delayed(0.05)) as srv:
        pool = make_pool(limit=1)
        try:
            tasks = [
                asyncio.create_task(pool.request("GET", f"{srv.url}/r/{i}", {}, None))
                for i in range(5)
            ]
            await until(lambda: len(srv.requests) == 1)
            assert len(pool._waiters) == 4
            tasks[1].cancel()
            tasks[3].cancel()
            done = await settle(tasks)
            assert isinstance(done[1], asyncio.CancelledError)
            assert isinstance(done[3], asyncio.CancelledError)
            for i in (0, 2, 4):
                status, _, body = done[i]  # type: ignore[misc]
                assert (status, body) == (200, ACCOUNTS)
            assert pool._count <= 1
            status, _, body = await pool.request("GET", f"{srv.url}/after", {}, None)
            assert (status, body) == (200, ACCOUNTS)
            assert pool._count == 1
            assert not pool._busy
        finally:
            await pool.close()
        assert [seen.line.split()[1] for seen in srv.requests] == ["/r/0", "/r/2", "/r/4", "/after"]
        assert srv.accepted == 1
        assert srv.max_open == 1


async def test_waiter_cancelled_as_a_connection_is_handed_to_it() -> None:
    """A waiter cancelled just as it is handed a connection passes it on to the next waiter."""
    async with RawServer(delayed(0.05)) as srv:
        pool = make_pool(limit=1)
        try:
            tasks = [
                asyncio.create_task(pool.request("GET", f"{srv.url}/r/{i}", {}, None))
                for i in range(3)
            ]
            await until(lambda: len(srv.requests) == 1)
            release = pool._release
            handed: list[bool] = []

            def release_then_cancel(conn: Any) -> None:
                release(conn)
                if not handed:  # the first hand-over: cancel its recipient at once
                    handed.append(True)
                    tasks[1].cancel()

            pool._release = release_then_cancel  # type: ignore[method-assign]
            done = await settle(tasks)
            assert handed
            assert isinstance(done[1], asyncio.CancelledError)
            assert done[0][0] == 200  # type: ignore[index]
            assert done[2][0] == 200  # type: ignore[index]
            assert pool._count == 1
            assert len(pool._idle) == 1
            assert not pool._busy
            status, _, _ = await pool.request("GET", f"{srv.url}/after", {}, None)
            assert status == 200
        finally:
            await pool.close()
        assert srv.accepted == 1
        assert [seen.line.split()[1] for seen in srv.requests] == ["/r/0", "/r/2", "/after"]


async def answer_slowly_then_close(
    srv: RawServer, seen: Seen, writer: asyncio.StreamWriter
) -> bool:
    """Reply after 50 ms with ``Connection: close``, then close the connection."""
    await asyncio.sleep(0.05)
    writer.write(reply(headers=b"Connection: close\r\n"))
    await writer.drain()
    return False


async def test_waiter_cancelled_as_a_slot_is_freed_for_it() -> None:
    """A waiter cancelled just as a freed slot is granted to it passes the slot on."""

    async with RawServer(answer_slowly_then_close) as srv:
        pool = make_pool(limit=1)
        try:
            tasks = [
                asyncio.create_task(pool.request("GET", f"{srv.url}/r/{i}", {}, None))
                for i in range(3)
            ]
            await until(lambda: len(srv.requests) == 1)
            wake = pool._wake
            woken: list[bool] = []

            def wake_then_cancel() -> None:
                granted = any(not w.done() for w in pool._waiters)
                wake()
                if granted and not woken:
                    woken.append(True)
                    tasks[1].cancel()

            pool._wake = wake_then_cancel  # type: ignore[method-assign]
            done = await settle(tasks)
            assert woken
            assert isinstance(done[1], asyncio.CancelledError)
            assert done[0][0] == 200  # type: ignore[index]
            assert done[2][0] == 200  # type: ignore[index]
            assert pool._count == 0
            assert not pool._busy
            assert not pool._idle
        finally:
            await pool.close()
        assert [seen.line.split()[1] for seen in srv.requests] == ["/r/0", "/r/2"]
        assert srv.max_open <= 1


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
        pool = pool_of(sso)
        assert pool.closed
        assert pool._count == 0
        assert connections(sso._transport) == (0, 0)
        with pytest.raises(ClientClosedError):
            await sso.list_accounts(accessToken="tok")
        with pytest.raises(ClientClosedError):
            await sso._transport.send("GET", srv.url + "/x", {})
        await sso.close()  # idempotent
        await sso._transport.close()
        assert pool._count == 0
        assert not sso._transport.owns_open_session


async def test_pool_close_fails_waiters_and_is_idempotent() -> None:
    """Closing a pool fails the request in flight and those waiting for a slot."""
    async with RawServer(delayed(0.5)) as srv:
        pool = make_pool(limit=1)
        tasks = [
            asyncio.create_task(pool.request("GET", f"{srv.url}/r/{i}", {}, None)) for i in range(3)
        ]
        await until(lambda: len(srv.requests) == 1)
        await pool.close()
        done = await settle(tasks)
        assert [type(result) for result in done] == [ClientClosedError] * 3
        assert pool._count == 0
        assert not pool._busy
        assert not pool._idle
        await pool.close()
        with pytest.raises(ClientClosedError):
            await pool.request("GET", srv.url + "/x", {}, None)
        assert len(srv.requests) == 1


# --- unsolicited bytes --------------------------------------------------------------------


async def test_close_right_after_a_call_frees_every_slot() -> None:
    """close() just after a call whose connection ended (a waiter was granted the slot) -> 0."""

    async with RawServer(answer_slowly_then_close) as srv:
        pool = make_pool(limit=1)

        async def call_then_close() -> int:
            status, _, _ = await pool.request("GET", f"{srv.url}/first", {}, None)
            await pool.close()  # as `async with` would, with another request still queued
            return status

        first = asyncio.create_task(call_then_close())
        await until(lambda: len(srv.requests) == 1)
        queued = asyncio.create_task(pool.request("GET", f"{srv.url}/queued", {}, None))
        await until(lambda: len(pool._waiters) == 1)
        status, queued_result = await settle([first, queued])
        assert status == 200
        assert isinstance(queued_result, ClientClosedError)
        assert not pool._busy
        assert not pool._idle
        assert pool._count == 0
        assert len(srv.requests) == 1


@pytest.mark.parametrize("when", ["later", "with-reply"])
async def test_unsolicited_bytes_drop_the_connection(when: str, no_proxy_env: None) -> None:
    """Bytes nobody asked for (after the reply) make the pool drop that connection."""

    async def respond(srv: RawServer, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.conn == 1 and when == "with-reply":
            writer.write(reply() + b"HTTP/1.1 200 OK\r\n")
        else:
            await answer_ok(srv, seen, writer)
        if seen.conn == 1 and when == "later":
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        return True

    async with RawServer(respond) as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            assert (await sso.list_accounts(accessToken="tok"))["accountList"] == []
            await asyncio.sleep(0.15)
            assert connections(sso._transport) == (0, 0)
            result = await sso.list_accounts(accessToken="tok")
        assert result["accountList"] == []
        assert srv.accepted == 2
        assert [(seen.conn, seen.index) for seen in srv.requests] == [(1, 0), (2, 0)]


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
            assert pool_of(sso)._count == 0
        assert 0.25 < elapsed < 0.8
        assert f"{srv.url}/assignment/accounts" in str(info.value)
        assert "page" not in str(info.value)


# --- idle expiry --------------------------------------------------------------------------


async def test_idle_connection_expires(monkeypatch: pytest.MonkeyPatch, no_proxy_env: None) -> None:
    """A connection idle longer than KEEPALIVE_SECONDS is closed, not reused."""
    monkeypatch.setattr(aiosso._pool, "KEEPALIVE_SECONDS", 0.05)
    async with RawServer() as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
            await sso.list_accounts(accessToken="tok")
            await asyncio.sleep(0.1)
            await sso.list_accounts(accessToken="tok")
            assert connections(sso._transport) == (0, 1)
            await until(lambda: srv.open == 1)  # the expired one was closed
        assert srv.accepted == 2


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


async def test_owned_client_uses_the_pool(no_proxy_env: None) -> None:
    """An owned client without proxy variables calls through the pool, no aiohttp session."""
    async with RawServer() as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
            await sso.list_accounts(accessToken="tok")
            assert sso._transport._pool is not None
            assert sso._transport._session is None


async def test_proxy_from_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    """With HTTP_PROXY set, an owned client goes through the proxy (via aiohttp), not the pool."""
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
            assert sso._transport._session is not None
            assert sso._transport._pool is None
        assert result["accountList"] == []
        assert lines == ["GET http://sso.example.invalid/assignment/accounts?max_result=5 HTTP/1.1"]
        assert proxy.accepted == 1


async def test_no_proxy_keeps_the_pool(monkeypatch: pytest.MonkeyPatch, no_proxy_env: None) -> None:
    """NO_PROXY naming the endpoint's host keeps the direct pool route."""
    async with RawServer() as proxy, RawServer() as srv:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
            await sso.list_accounts(accessToken="tok")
            await sso.list_accounts(accessToken="tok")
            assert sso._transport._pool is not None
            assert sso._transport._session is None
        assert proxy.accepted == 0
        assert srv.accepted == 1
        assert len(srv.requests) == 2


async def test_aioresponses_mock_wins_over_the_pool(no_proxy_env: None) -> None:
    """Inside aioresponses an owned client is served by the mock, even after pool calls."""
    aioresponses_module = pytest.importorskip("aioresponses")
    # (aioresponses cannot build replies with every aiohttp release: the mock raises instead,
    # which shows just as well who served the call.)
    raised = aiohttp.ServerDisconnectedError("mocked")
    async with RawServer() as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            await sso.list_accounts(accessToken="tok")
            assert sso._transport._pool is not None
            with aioresponses_module.aioresponses() as mocked:
                mocked.get(re.compile(r".*/assignment/accounts.*"), exception=raised)
                with pytest.raises(ConnectionClosedError) as info:
                    await sso.list_accounts(accessToken="tok")
            assert info.value.__cause__ is raised
            assert len(srv.requests) == 1
            after = await sso.list_accounts(accessToken="tok")  # back on the pool
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
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
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
        "unsupported-coding",
        "switching-protocols",
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
            assert pool_of(sso)._count == 0
    exc = info.value
    assert type(exc) is HTTPClientError
    assert "invalid HTTP reply" in str(exc)
    assert f"{srv.url}/assignment/accounts" in str(exc)
    assert "next_token" not in str(exc)
    assert "page" not in str(exc)
    assert not isinstance(exc.__cause__, (aiohttp.ClientError, KeyError))
    assert len(srv.requests) == 1


async def test_a_parser_failure_becomes_an_aiosso_error(
    monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    """Should the parser itself fail unexpectedly, the call ends in HTTPClientError, not a hang."""

    def broken(self: Any, data: bytes) -> bool:
        raise KeyError("unexpected")

    monkeypatch.setattr("aiosso._http.ResponseParser.feed", broken)
    async with RawServer() as srv:
        async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config()) as sso:
            with pytest.raises(HTTPClientError, match=r"unreadable reply \(KeyError\)") as info:
                await sso.list_accounts(accessToken="tok")
            assert pool_of(sso)._count == 0
    assert type(info.value) is HTTPClientError


# --- event loop binding ---------------------------------------------------------------------


def test_client_refuses_another_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client whose pool was used in one loop fails clearly in another, and closes cleanly."""
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
    assert pool_of(sso)._count == 0


def test_pool_refuses_another_event_loop() -> None:
    """ConnectionPool.request from a loop other than its own raises HTTPClientError."""
    loop = asyncio.new_event_loop()
    try:

        async def make() -> ConnectionPool:
            return make_pool()

        pool = loop.run_until_complete(make())

        async def elsewhere() -> None:
            with pytest.raises(HTTPClientError, match="another event loop"):
                await pool.request("GET", "http://127.0.0.1:9/x", {}, None)

        asyncio.run(elsewhere())
        loop.run_until_complete(pool.close())
    finally:
        loop.close()
