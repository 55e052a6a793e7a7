"""A broken server (or proxy) that echoes the token's header line back where its reply goes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

#: Where the echoed line lands: (bytes before it, bytes after it).
ECHOES: dict[str, tuple[bytes, bytes]] = {
    "as the status line": (b"", b"\r\n\r\n"),
    "as a header line": (b"HTTP/1.1 200 OK\r\n", b"\r\n\r\n"),
    "as a chunk size line": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"\r\n"),
    "as a trailer line": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        b"\r\n\r\n",
    ),
}

#: A token long enough that a quote of any part of it is found.
TOKEN = "echoed-token-0123456789abcdef"


@contextlib.asynccontextmanager
async def echoing_server(echo: tuple[bytes, bytes]) -> AsyncIterator[tuple[str, list[bytes]]]:
    """``(url, requests seen)`` of a server answering with the token's header line, colon
    removed (never a valid field), between ``echo``'s two parts, then closing."""
    before, after = echo
    seen: list[bytes] = []

    async def reflect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        seen.append(request)
        line = next(x for x in request.split(b"\r\n") if b"bearer_token" in x)
        writer.write(before + line.replace(b":", b"") + after)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(reflect, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen
    finally:
        server.close()
        await server.wait_closed()
