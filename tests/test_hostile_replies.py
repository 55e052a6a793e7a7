"""Hostile replies from raw loopback servers: the call's deadline holds, the loop never stalls.

Each server writes exact bytes with ``asyncio.start_server``; nothing here goes through an
HTTP server library, so the client meets the reply exactly as scripted: a head or body
trickling in, ``100 Continue`` without end, a multi-member gzip bomb, a body in 1-byte
chunks, a head sent byte by byte, bare-LF framing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, NamedTuple

import aiohttp
import pytest
from aiohttp import helpers as aiohttp_helpers
from aiohttp import http_parser

from aiosso import (
    AioSSOError,
    AsyncSSOClient,
    ClientConfig,
    HTTPClientError,
    ReadTimeoutError,
    ResponseTooLargeError,
    RetryConfig,
    TotalTimeoutError,
)
from aiosso._transport import MAX_RESPONSE_BYTES

pytestmark = pytest.mark.usefixtures("no_resource_warnings")

TOKEN = "hostile-token-0123456789"
PATH = "/assignment/accounts"
MiB = 1024 * 1024
EMPTY_PAGE = b'{"accountList":[]}'
# Seconds the event loop may go without running the ticker: a reader that never yields stalls
# for the whole body (~2 s); a loaded CI machine alone pauses up to ~0.15 s.
MAX_STALL = 0.5
TICK = 0.005

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]


# --------------------------------------------------------------------------- helpers


class RawServer:
    """A loopback server that answers each connection's request with a scripted writer.

    ``script(writer)`` runs once the request head has arrived; the connection then stays open
    until the client hangs up (no EOF from the server helps the client frame a reply).
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.url = ""
        self.requests = 0
        self.request_seen = asyncio.Event()
        self.hung_up = asyncio.Event()  # a client closed its connection
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for _ in range(3):  # closed transports release their sockets on the next iterations
            await asyncio.sleep(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sides: list[asyncio.Task[Any]] = []
        try:
            await reader.readuntil(b"\r\n\r\n")  # the request head (GET: no body)
            self.requests += 1
            self.request_seen.set()
            eof = asyncio.create_task(reader.read())  # done when the client hangs up
            sides = [eof, asyncio.create_task(self.script(writer))]
            await asyncio.wait(sides, return_when=asyncio.FIRST_COMPLETED)
            await eof  # the reply is out (or the client left): wait for the client to hang up
            self.hung_up.set()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.hung_up.set()
        except asyncio.CancelledError:
            pass  # shutdown; a cancelled callback task would be logged by asyncio on 3.11
        finally:
            # Nothing awaited here, so that a shutdown cannot cut the clean-up short.
            for side in sides:
                side.cancel()
                side.add_done_callback(_retrieve)
            writer.close()
            self._tasks.discard(task)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a side task's outcome as seen (a reset connection is expected here)."""
    if not task.cancelled():
        task.exception()


class StallMeter:
    """Ticks every 5 ms while active; ``max_gap`` is the longest wait between two wake-ups."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            self.max_gap = max(self.max_gap, now - self._last)
            self._last = now

    async def __aenter__(self) -> StallMeter:
        self._last = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A stall right before the end never gets a tick after it: count it here.
        now = asyncio.get_running_loop().time()
        self.max_gap = max(self.max_gap, now - self._last)
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def head(status: str = "200 OK", *fields: str, eol: bytes = b"\r\n") -> bytes:
    """A reply head: the status line, the header lines, and the blank line."""
    lines = [f"HTTP/1.1 {status}".encode(), *(field.encode() for field in fields)]
    return eol.join(lines) + eol + eol


def reply(body: bytes, *fields: str) -> bytes:
    """A complete 200 reply with a Content-Length."""
    return (
        head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *fields)
        + body
    )


def chunked(body: bytes, size: int = 1) -> bytes:
    """``body`` in chunks of ``size`` bytes, with the last chunk."""
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def one_shot(data: bytes) -> Script:
    """A script that writes ``data`` at once."""

    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return script


def trickle(prefix: bytes, byte: bytes, every: float) -> Script:
    """A script that writes ``prefix``, then ``byte`` every ``every`` seconds, for ever."""

    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(prefix)
        while True:
            await writer.drain()
            await asyncio.sleep(every)
            writer.write(byte)

    return script


async def silent(writer: asyncio.StreamWriter) -> None:
    """A script that never answers."""
    await asyncio.sleep(3600)


def config(**kwargs: Any) -> ClientConfig:
    """A one-attempt config: a hostile reply surfaces at once."""
    return ClientConfig(retries=RetryConfig(total_max_attempts=1), **kwargs)


async def fails(url: str, cfg: ClientConfig) -> AioSSOError:
    """One list_accounts call that must fail with an aiosso error, returned."""
    async with AsyncSSOClient(endpoint_url=url, config=cfg) as sso:
        with pytest.raises(AioSSOError) as info:
            await asyncio.wait_for(sso.list_accounts(accessToken=TOKEN), 10)
    assert not isinstance(info.value, aiohttp.ClientError)
    assert TOKEN not in str(info.value)
    return info.value


# --------------------------------------------------------------------------- the deadline

TRICKLE_EVERY = 0.5
DEADLINE = 3.0


def _trickled_head() -> Script:
    """The head one byte every 0.5 s: a status line, then a header line that never ends."""
    data = b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"a" * 1000

    async def script(writer: asyncio.StreamWriter) -> None:
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(TRICKLE_EVERY)

    return script


SLOW_REPLIES: dict[str, Script] = {
    "head": _trickled_head(),
    "body": trickle(
        head("200 OK", "Content-Type: application/json", "Content-Length: 1000000")
        + b'{"accountList":[',
        b" ",
        TRICKLE_EVERY,
    ),
    "continue": trickle(b"", b"HTTP/1.1 100 Continue\r\n\r\n", TRICKLE_EVERY),
}


async def _deadline_scenario(script: Script) -> tuple[BaseException, float, str, bool]:
    """One call against ``script`` under read_timeout=1, total_timeout=3.

    Returns what it raised, how long it took, the server's URL, and whether the server saw
    one request whose connection the client then closed.
    """
    cfg = ClientConfig(read_timeout=1, retries=RetryConfig(total_timeout=DEADLINE))
    async with RawServer(script) as srv:
        async with AsyncSSOClient(endpoint_url=srv.url, config=cfg) as sso:
            started = time.monotonic()
            try:
                # The outer bound only turns a missing deadline into a failure, not a hang.
                await asyncio.wait_for(
                    sso.list_accounts(accessToken=TOKEN, maxResults=5, nextToken="page-2"),
                    DEADLINE + 3,
                )
            except Exception as exc:
                caught: BaseException = exc
            else:
                raise AssertionError("the call succeeded against a trickling server")
            elapsed = time.monotonic() - started
            # The abandoned connection is closed at once, not left to trickle on.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(srv.hung_up.wait(), 1.0)
            closed = srv.hung_up.is_set()
        return caught, elapsed, srv.url, closed and srv.requests == 1


async def test_deadline_ends_trickling_and_endless_continue_replies() -> None:
    """A head or body trickling in, or 100 Continue for ever, ends at total_timeout (3 s)."""
    names = list(SLOW_REPLIES)
    outcomes = await asyncio.gather(*(_deadline_scenario(SLOW_REPLIES[n]) for n in names))
    for name, (exc, elapsed, url, one_request_closed) in zip(names, outcomes, strict=True):
        assert isinstance(exc, ReadTimeoutError), (name, repr(exc))
        assert type(exc) is TotalTimeoutError, (name, repr(exc))
        assert isinstance(exc, TimeoutError), name
        assert 2.9 <= elapsed <= 3.5, (name, elapsed)
        assert str(exc) == (
            f'Read timeout on endpoint URL: "{url}{PATH}" '
            "(the call's total_timeout of 3 s ran out)"
        ), name
        assert "?" not in str(exc), name
        assert "page-2" not in str(exc), name
        assert TOKEN not in str(exc), name
        assert one_request_closed, name


POOL_OF_ONE = ClientConfig(
    max_pool_connections=1, retries=RetryConfig(total_timeout=0.5, total_max_attempts=1)
)


async def test_deadline_covers_waiting_for_a_place() -> None:
    """A call queued behind a hung one (max_pool_connections=1) ends at its own deadline.

    The queued call starts 0.1 s after the holder; the holder lets go at its own deadline,
    0.4 s into the queued call's wait. Without the deadline covering the wait, the queued
    call would take ~0.9 s.
    """
    async with RawServer(silent) as srv:
        async with AsyncSSOClient(endpoint_url=srv.url, config=POOL_OF_ONE) as sso:
            holder = asyncio.create_task(sso.list_accounts(accessToken=TOKEN))
            await asyncio.wait_for(srv.request_seen.wait(), 1.0)
            await asyncio.sleep(0.1)
            started = time.monotonic()
            with pytest.raises(TotalTimeoutError) as info:
                await asyncio.wait_for(sso.list_accounts(accessToken=TOKEN), 3.0)
            elapsed = time.monotonic() - started
            with pytest.raises(TotalTimeoutError):
                await holder
    assert 0.45 <= elapsed < 0.75, elapsed
    assert TOKEN not in str(info.value)


async def test_deadlines_of_holder_and_queued_call_passing_together() -> None:
    """Deadlines of a holder and its queued call passing at once: both TotalTimeoutError."""
    async with RawServer(silent) as srv:
        async with AsyncSSOClient(endpoint_url=srv.url, config=POOL_OF_ONE) as sso:
            holder = asyncio.create_task(sso.list_accounts(accessToken=TOKEN))
            await asyncio.wait_for(srv.request_seen.wait(), 1.0)
            queued = asyncio.create_task(sso.list_accounts(accessToken=TOKEN))
            await asyncio.sleep(0.05)  # queued for the place
            time.sleep(0.6)  # noqa: ASYNC251 - both deadlines pass while the loop is busy
            outcomes = await asyncio.wait_for(
                asyncio.gather(holder, queued, return_exceptions=True), 3.0
            )
    assert [type(outcome) for outcome in outcomes] == [TotalTimeoutError, TotalTimeoutError]
    assert srv.requests == 1  # the queued call never got its place


async def test_queued_call_cancelled_as_its_place_frees_up() -> None:
    """Cancelling a queued call just as the holder lets go of the place is CancelledError."""
    cfg = ClientConfig(max_pool_connections=1, retries=RetryConfig(total_timeout=30))
    async with RawServer(silent) as srv:
        async with AsyncSSOClient(endpoint_url=srv.url, config=cfg) as sso:
            holder = asyncio.create_task(sso.list_accounts(accessToken=TOKEN))
            await asyncio.wait_for(srv.request_seen.wait(), 1.0)
            queued = asyncio.create_task(sso.list_accounts(accessToken=TOKEN))
            await asyncio.sleep(0.05)  # queued for the place
            holder.cancel()  # gives the place back as it unwinds...
            queued.cancel()  # ...to a waiter cancelled in the same iteration
            outcomes = await asyncio.wait_for(
                asyncio.gather(holder, queued, return_exceptions=True), 3.0
            )
    assert [type(outcome) for outcome in outcomes] == [
        asyncio.CancelledError,
        asyncio.CancelledError,
    ]
    assert srv.requests == 1


async def test_deadline_covers_waiting_for_a_pooled_connection() -> None:
    """A call waiting for a borrowed session's only (hung) connection ends at its deadline."""
    cfg = ClientConfig(retries=RetryConfig(total_timeout=0.5, total_max_attempts=1))
    async with RawServer(silent) as srv:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        holder = asyncio.create_task(session.get(srv.url + "/held"))
        try:
            await asyncio.wait_for(srv.request_seen.wait(), 1.0)
            async with AsyncSSOClient(endpoint_url=srv.url, session=session, config=cfg) as sso:
                started = time.monotonic()
                with pytest.raises(TotalTimeoutError) as info:
                    await asyncio.wait_for(sso.list_accounts(accessToken=TOKEN), 3.0)
                elapsed = time.monotonic() - started
            assert srv.requests == 1  # the call never got a connection to send on
        finally:
            holder.cancel()
            await asyncio.gather(holder, return_exceptions=True)
            await session.close()
    assert 0.45 <= elapsed < 0.8, elapsed
    assert TOKEN not in str(info.value)


async def test_caller_cancellation_under_a_deadline_stays_cancellation() -> None:
    """Cancelling a call that has a deadline raises CancelledError, not a timeout."""
    cfg = ClientConfig(retries=RetryConfig(total_timeout=30))
    async with RawServer(silent) as srv:
        async with AsyncSSOClient(endpoint_url=srv.url, config=cfg) as sso:
            task = asyncio.create_task(sso.list_accounts(accessToken=TOKEN))
            await asyncio.wait_for(srv.request_seen.wait(), 1.0)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=0.5)
            assert done == {task}  # promptly
            assert task.cancelled()  # it raised CancelledError, nothing else


async def test_caller_timeout_under_a_deadline_is_the_callers() -> None:
    """The caller's own shorter timeout surfaces as its TimeoutError, not TotalTimeoutError."""
    cfg = ClientConfig(retries=RetryConfig(total_timeout=30))
    async with RawServer(silent) as srv:
        async with AsyncSSOClient(endpoint_url=srv.url, config=cfg) as sso:
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError) as info:
                await asyncio.wait_for(sso.list_accounts(accessToken=TOKEN), 0.3)
            assert time.monotonic() - started < 1.0
    assert not isinstance(info.value, AioSSOError)


async def test_read_timeout_inside_a_deadline_is_a_plain_read_timeout() -> None:
    """A silent server past read_timeout (well within total_timeout) is ReadTimeoutError."""
    cfg = ClientConfig(
        read_timeout=0.2, retries=RetryConfig(total_timeout=30, total_max_attempts=1)
    )
    async with RawServer(silent) as srv:
        started = time.monotonic()
        exc = await fails(srv.url, cfg)
        elapsed = time.monotonic() - started
    assert type(exc) is ReadTimeoutError
    assert str(exc) == f'Read timeout on endpoint URL: "{srv.url}{PATH}"'
    assert 0.15 <= elapsed < 1.0, elapsed


# --------------------------------------------------------------------------- loop stalls


class Outcome(NamedTuple):
    """How one call against a hostile server ended, and what it cost the event loop."""

    result: dict[str, Any] | None
    error: AioSSOError | None
    elapsed: float
    max_stall: float


async def measured_call(url: str, cfg: ClientConfig) -> Outcome:
    """One list_accounts call with the StallMeter running; anything but aiosso errors fails."""
    async with AsyncSSOClient(endpoint_url=url, config=cfg) as sso:
        async with StallMeter() as meter:
            started = time.monotonic()
            result: dict[str, Any] | None = None
            error: AioSSOError | None = None
            try:
                result = await asyncio.wait_for(sso.list_accounts(accessToken=TOKEN), 10)
            except AioSSOError as exc:
                error = exc
            elapsed = time.monotonic() - started
    if error is not None:
        assert not isinstance(error, aiohttp.ClientError)
        assert TOKEN not in str(error)
    return Outcome(result, error, elapsed, meter.max_gap)


async def test_stall_meter_sees_a_blocked_loop() -> None:
    """The meter does catch a stall: a 150 ms blocking sleep is measured, 5 ms ticks are not."""
    async with StallMeter() as meter:
        await asyncio.sleep(0.02)
        time.sleep(0.15)  # noqa: ASYNC251 - the stall being measured
        await asyncio.sleep(0.02)
    assert meter.max_gap >= 0.15
    async with StallMeter() as meter:
        await asyncio.sleep(0.05)
    assert meter.max_gap < MAX_STALL


def _gzip_bomb(wire_bytes: int) -> bytes:
    """About ``wire_bytes`` of concatenated gzip members, each inflating to 1 MiB of spaces."""
    member = gzip.compress(b" " * MiB, 9)
    return member * (wire_bytes // len(member))


BOMB = _gzip_bomb(6 * MiB)  # ~6,000 members: ~6 GiB once inflated


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_multi_member_gzip_bomb(framing: str) -> None:
    """6 MiB of gzip members (~6 GiB inflated): ResponseTooLargeError at once, no stall.

    The wire body is under the 10 MiB cap: only counting inflated bytes refuses it.
    """
    fields = ["Content-Type: application/json", "Content-Encoding: gzip"]
    if framing == "chunked":
        data = head("200 OK", *fields, "Transfer-Encoding: chunked") + chunked(BOMB, 64 * 1024)
    else:
        data = head("200 OK", *fields, f"Content-Length: {len(BOMB)}") + BOMB
    assert len(BOMB) < MAX_RESPONSE_BYTES
    async with RawServer(one_shot(data)) as srv:
        out = await measured_call(srv.url, config(read_timeout=5))
    assert type(out.error) is ResponseTooLargeError
    assert str(out.error) == (
        f'Response from endpoint URL "{srv.url}{PATH}" exceeds {MAX_RESPONSE_BYTES} bytes'
    )
    assert out.max_stall < MAX_STALL, out
    assert out.elapsed < 2.0, out
    assert srv.requests == 1  # refused, not retried


def _page(accounts: int) -> tuple[bytes, list[dict[str, str]]]:
    """A ListAccounts page of ``accounts`` accounts: its JSON body and its account list."""
    account_list = [
        {
            "accountId": f"{100000000000 + n}",
            "accountName": f"account-{n}",
            "emailAddress": f"owner-{n}@example.com",
        }
        for n in range(accounts)
    ]
    return json.dumps({"accountList": account_list}).encode(), account_list


CAP = 256 * 1024
CHUNKED_HEAD = head("200 OK", "Content-Type: application/json", "Transfer-Encoding: chunked")


async def test_one_byte_chunks_past_the_cap() -> None:
    """A body in 1-byte chunks running past max_response_bytes: ResponseTooLargeError, no stall."""
    data = CHUNKED_HEAD + chunked(b" " * (CAP + 4096))
    async with RawServer(one_shot(data)) as srv:
        out = await measured_call(srv.url, config(read_timeout=5, max_response_bytes=CAP))
    assert type(out.error) is ResponseTooLargeError
    assert str(out.error) == f'Response from endpoint URL "{srv.url}{PATH}" exceeds {CAP} bytes'
    assert out.max_stall < MAX_STALL, out
    assert out.elapsed < 2.0, out
    assert srv.requests == 1


async def test_one_byte_chunks_under_the_cap() -> None:
    """A valid page in 1-byte chunks, under the cap, parses to the right result; no stall."""
    body, accounts = _page(100)
    assert 8 * 1024 < len(body) < CAP
    async with RawServer(one_shot(CHUNKED_HEAD + chunked(body))) as srv:
        out = await measured_call(srv.url, config(read_timeout=5, max_response_bytes=CAP))
    assert out.error is None
    assert out.result is not None
    assert out.result["accountList"] == accounts
    assert "nextToken" not in out.result
    assert out.max_stall < MAX_STALL, out
    assert out.elapsed < 2.0, out


async def test_flood_of_continue_replies_then_the_answer() -> None:
    """5,000 ``100 Continue`` heads in one write, then the 200: the right result, no stall."""
    body, accounts = _page(3)
    data = b"HTTP/1.1 100 Continue\r\n\r\n" * 5000 + reply(body, "x-amzn-RequestId: rid-1xx")
    async with RawServer(one_shot(data)) as srv:
        out = await measured_call(srv.url, config(read_timeout=5))
    assert out.error is None
    assert out.result is not None
    assert out.result["accountList"] == accounts
    assert out.result["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert out.result["ResponseMetadata"]["RequestId"] == "rid-1xx"
    assert srv.requests == 1
    assert out.max_stall < MAX_STALL, out
    assert out.elapsed < 2.0, out


async def test_head_sent_byte_by_byte() -> None:
    """A 4 KiB head arriving one byte per write parses completely, then the body; no stall."""
    fields = {f"x-hostile-{n:02d}": f"{n:02d}-" + "v" * 70 for n in range(40)}
    body, accounts = _page(2)
    data = reply(body, "x-amzn-RequestId: rid-bytewise", *(f"{k}: {v}" for k, v in fields.items()))
    split = data.index(b"\r\n\r\n") + 4
    assert split > 3500

    async def bytewise(writer: asyncio.StreamWriter) -> None:
        for i in range(split):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(data[split:])
        await writer.drain()

    async with RawServer(bytewise) as srv:
        out = await measured_call(srv.url, config(read_timeout=5))
    assert out.error is None
    assert out.result is not None
    assert out.result["accountList"] == accounts
    received = out.result["ResponseMetadata"]["HTTPHeaders"]
    assert {name: received.get(name) for name in fields} == fields
    assert out.result["ResponseMetadata"]["RequestId"] == "rid-bytewise"
    assert out.max_stall < MAX_STALL, out
    assert out.elapsed < 3.0, out


BARE_LF = {
    "head": b"HTTP/1.1 200 OK\nContent-Length: 18\n\n" + EMPTY_PAGE,
    "chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n12\n"
    + EMPTY_PAGE
    + b"\n0\n\n",
}


def _bare_lf_accepted(framing: str) -> bool:
    """Whether aiohttp's reply parser takes bare LF for CRLF in ``framing``."""
    if aiohttp_helpers.DEBUG:  # dev mode (-X dev, PYTHONASYNCIODEBUG): strict parsing
        return False
    if framing == "head":  # lax (the default): both parsers accept bare-LF head lines
        return True
    # Chunk framing: llhttp (the C parser) refuses bare LF even when lax; Python takes it.
    return http_parser.HttpResponseParser is http_parser.HttpResponseParserPy


@pytest.mark.parametrize("framing", list(BARE_LF))
async def test_bare_lf_framing_ends_at_once(framing: str) -> None:
    """Bare-LF framing ends at once, never at read_timeout.

    What aiohttp makes of it (asserted exactly): by default a bare-LF head is read as a
    correct reply ({"accountList": []}); bare LF in chunk framing is refused by aiohttp's C
    parser (HTTPClientError "malformed reply") and accepted by its pure-Python one; in dev
    mode both parsers refuse either as a malformed reply.
    """
    async with RawServer(one_shot(BARE_LF[framing])) as srv:
        out = await measured_call(srv.url, config(read_timeout=5))
    if _bare_lf_accepted(framing):
        assert out.error is None, out
        assert out.result is not None
        assert out.result["accountList"] == []
    else:
        assert type(out.error) is HTTPClientError, out
        assert str(out.error) == (
            "An HTTP Client raised an unhandled exception: "
            f"invalid HTTP reply from {srv.url}{PATH}: malformed reply"
        )
    assert out.elapsed < 1.0, out
    assert out.max_stall < MAX_STALL, out
