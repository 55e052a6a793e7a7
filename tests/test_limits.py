"""Response size limits: a reply body past ``max_response_bytes`` is refused, never buffered."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from _inspect import connections
from aiohttp import web

from aiosso import AsyncSSOClient, ClientConfig, ResponseTooLargeError
from aiosso._transport import MAX_RESPONSE_BYTES, Transport

pytestmark = pytest.mark.usefixtures("no_resource_warnings")

MiB = 1024 * 1024
PATH = "/assignment/accounts"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """A loopback server whose next replies are given as handlers; records what it sent."""

    def __init__(self) -> None:
        self.handlers: list[Handler] = []
        self.requests = 0
        self.sent = 0
        self.release = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.handlers:
            return await self.handlers.pop(0)(request)
        return web.Response(body=b'{"accountList":[]}', content_type="application/json")

    async def __aenter__(self) -> Server:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- reply kinds ------------------------------------------------------------------------

    def declared(self, length: int, status: int = 200) -> None:
        """Promise ``length`` bytes, send a few, then stall until shutdown."""

        async def handler(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(status=status)
            resp.content_type = "application/json"
            resp.content_length = length
            await resp.prepare(request)
            await resp.write(b'{"accountList":[')
            await self.release.wait()
            return resp

        self.handlers.append(handler)

    def endless(self, chunk: int = 64 * 1024) -> None:
        """Stream chunks (no Content-Length) until the client hangs up."""

        async def handler(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse()
            resp.content_type = "application/json"
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            data = b" " * chunk
            try:
                while not self.release.is_set():
                    await resp.write(data)
                    self.sent += len(data)
            except (ConnectionError, RuntimeError):
                pass  # the client closed the connection: what the test wants
            return resp

        self.handlers.append(handler)

    def body(self, data: bytes, *, chunked: bool = False, gzipped: bool = False) -> None:
        """Send ``data`` (JSON-ish), sized or chunked, optionally gzip-encoded on the wire."""

        async def handler(request: web.Request) -> web.StreamResponse:
            payload = gzip.compress(data, 1) if gzipped else data
            resp = web.StreamResponse()
            resp.content_type = "application/json"
            if gzipped:
                resp.headers["Content-Encoding"] = "gzip"
            if chunked:
                resp.enable_chunked_encoding()
            else:
                resp.content_length = len(payload)
            await resp.prepare(request)
            for start in range(0, len(payload), 256 * 1024):
                await resp.write(payload[start : start + 256 * 1024])
            await resp.write_eof()
            return resp

        self.handlers.append(handler)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """A started loopback Server."""
    async with Server() as srv:
        yield srv


def _transport(limit: int) -> Transport:
    return Transport(
        session=None,
        connect_timeout=5,
        read_timeout=5,
        max_pool_connections=4,
        max_response_bytes=limit,
    )


async def _send(transport: Transport, url: str) -> tuple[int, dict[str, str], bytes]:
    return await transport.send("GET", url + PATH + "?next_token=page", {})


def _json_of_size(size: int) -> bytes:
    """A valid JSON object of exactly ``size`` bytes (size >= 20)."""
    head = b'{"accountList":[],"x":"'
    return head + b"a" * (size - len(head) - 2) + b'"}'


# --------------------------------------------------------------------------- the bound


def test_default_limit_is_ten_mib() -> None:
    """The default bound is 10 MiB, in the config and in the transport."""
    assert ClientConfig().max_response_bytes == MAX_RESPONSE_BYTES == 10 * MiB


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "10"])
def test_invalid_limit_is_refused(value: Any) -> None:
    """max_response_bytes must be a positive int (not a bool, float or string)."""
    with pytest.raises(ValueError, match="max_response_bytes"):
        ClientConfig(max_response_bytes=value)


@pytest.mark.parametrize("chunked", [False, True])
async def test_body_at_the_limit_passes_one_byte_more_is_refused(
    server: Server, chunked: bool
) -> None:
    """Exactly ``limit`` bytes are accepted; ``limit + 1`` raise ResponseTooLargeError."""
    limit = 100_000
    server.body(_json_of_size(limit), chunked=chunked)
    server.body(_json_of_size(limit + 1), chunked=chunked)
    transport = _transport(limit)
    try:
        status, _, body = await _send(transport, server.url)
        assert (status, len(body)) == (200, limit)
        with pytest.raises(ResponseTooLargeError) as info:
            await _send(transport, server.url)
        status, _, body = await _send(transport, server.url)  # still usable
        assert body == b'{"accountList":[]}'
    finally:
        await transport.close()
    assert str(info.value) == (
        f'Response from endpoint URL "{server.url}{PATH}" exceeds {limit} bytes'
    )
    assert info.value.kwargs == {"endpoint_url": server.url + PATH, "limit": limit}


async def test_declared_length_is_refused_before_reading(server: Server) -> None:
    """A Content-Length over the default limit fails at once, without waiting for the body."""
    server.declared(1 << 40)
    started = time.monotonic()
    async with AsyncSSOClient(endpoint_url=server.url) as sso:
        with pytest.raises(ResponseTooLargeError, match="exceeds 10485760 bytes"):
            await sso.list_accounts(accessToken="t")
        assert time.monotonic() - started < 2  # read_timeout is 60 s: nothing was awaited
        # The refused connection was closed, not reused; the next call works.
        page = await sso.list_accounts(accessToken="t")
    assert page["accountList"] == []
    assert server.requests == 2


async def test_too_large_is_not_retried(server: Server) -> None:
    """Even on a retryable status (503), a too-large reply is raised after one request."""
    server.declared(1 << 40, status=503)
    async with AsyncSSOClient(endpoint_url=server.url) as sso:
        with pytest.raises(ResponseTooLargeError):
            await sso.list_accounts(accessToken="t")
    assert server.requests == 1


async def test_endless_chunked_body_is_cut_off_with_bounded_memory(server: Server) -> None:
    """An endless chunked reply stops at the default limit; memory stays near the limit."""
    server.endless()
    tracemalloc.start()
    try:
        async with AsyncSSOClient(endpoint_url=server.url) as sso:
            with pytest.raises(ResponseTooLargeError):
                await sso.list_accounts(accessToken="t")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert server.sent >= 10 * MiB
    # The chunks up to the limit are held, never joined into a second copy.
    assert peak < 10 * MiB + 4 * MiB, peak


async def test_compressed_body_is_bounded_by_its_decoded_size(server: Server) -> None:
    """A small gzip reply that inflates past the limit is refused (no decompression bomb)."""
    server.body(b" " * (11 * MiB), gzipped=True)
    server.body(_json_of_size(5000), gzipped=True)
    async with AsyncSSOClient(endpoint_url=server.url) as sso:
        with pytest.raises(ResponseTooLargeError):
            await sso.list_accounts(accessToken="t")
        page = await sso.list_accounts(accessToken="t")
    assert page["accountList"] == []


async def test_refused_reply_leaves_no_connection_open(server: Server) -> None:
    """After a refusal the connection is closed: the pool holds nothing in use."""
    server.endless()
    transport = _transport(256 * 1024)
    try:
        with pytest.raises(ResponseTooLargeError):
            await _send(transport, server.url)
        assert transport.session is not None
        assert connections(transport) == (0, 0)
    finally:
        await transport.close()


async def test_configured_limit_reaches_the_client(server: Server) -> None:
    """ClientConfig(max_response_bytes=...) bounds the client's replies."""
    server.body(_json_of_size(2000))
    config = ClientConfig(max_response_bytes=1000)
    async with AsyncSSOClient(endpoint_url=server.url, config=config) as sso:
        with pytest.raises(ResponseTooLargeError, match="exceeds 1000 bytes"):
            await sso.list_accounts(accessToken="t")
