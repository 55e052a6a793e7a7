"""A tiny loopback HTTP server that answers with scripted bytes and records what it received.

Used where the emulator is too well-behaved: exact reply bytes for the parser, exact request
headers for the wire contract, and transport failures (slow replies, dropped connections,
truncated bodies).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from types import TracebackType
from typing import Literal, NamedTuple

from aiohttp import web

Action = Literal["reply", "drop", "truncate", "stall"]


class Reply(NamedTuple):
    """One scripted answer."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b"{}"
    delay: float = 0.0
    action: Action = "reply"
    """``reply``: answer after ``delay``; ``drop``: close the connection without answering;
    ``truncate``: promise more body than sent, then close; ``stall``: send the headers and
    ``body``, then wait ``delay`` before finishing (a read timeout mid-body)."""


class Captured(NamedTuple):
    """One request as the server saw it."""

    method: str
    raw_path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header_names(self) -> list[str]:
        """Header names in arrival order, lower-cased."""
        return [name.lower() for name, _ in self.headers]

    def header(self, name: str) -> str | None:
        """The value of a header (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class ScriptedServer:
    """``async with ScriptedServer() as srv``: ``srv.url``, ``srv.script(...)``, ``srv.requests``.

    Replies are used in the order scripted; when none is left the server answers ``default``.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.default = Reply() if default is None else default
        self.requests: list[Captured] = []
        self._queue: list[Reply] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests."""
        self._queue.extend(replies)

    def script_many(self, replies: Iterable[Reply]) -> None:
        """Queue replies for the next requests."""
        self._queue.extend(replies)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)
        self.requests.append(Captured(request.method, request.raw_path, headers, body))
        reply = self._queue.pop(0) if self._queue else self.default
        if reply.action == "stall":
            response = web.StreamResponse(status=reply.status)
            response.content_length = len(reply.body) + 2
            await response.prepare(request)
            await response.write(reply.body)
            await self._wait(reply.delay)
            with contextlib.suppress(ConnectionError):  # the client gave up meanwhile
                await response.write(b"{}")
            return response
        await self._wait(reply.delay)
        if reply.action == "drop":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=499)
        if reply.action == "truncate":
            response = web.StreamResponse(status=reply.status)
            response.content_length = len(reply.body) + 4096
            await response.prepare(request)
            await response.write(reply.body)
            if request.transport is not None:
                request.transport.close()
            return response
        response = web.Response(status=reply.status, body=reply.body)
        for name, value in reply.headers:
            response.headers.add(name, value)
        return response

    async def _wait(self, delay: float) -> None:
        # Released early when the server shuts down, so a slow reply never delays teardown.
        if delay:
            try:
                await asyncio.wait_for(self._release.wait(), delay)
            except asyncio.TimeoutError:
                pass

    async def __aenter__(self) -> ScriptedServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
