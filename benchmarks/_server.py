"""A minimal canned SSO portal server, run in its own process by the benchmark harness.

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length``, no bodies expected) to answer
the portal's wire format from precomputed bytes, so that the server is never the bottleneck of a
client-side measurement. It is *not* the project's emulator (``aiosso.testing``): it does no
validation beyond the bearer-token header and keeps no state except request counters.

Routes::

    GET  /federation/credentials?role_name=..&account_id=..   canned roleCredentials
    GET  /assignment/accounts?max_result=..&next_token=..     pages over --accounts accounts
    GET  /assignment/roles?account_id=..                      one canned role
    POST /logout                                              empty 200
    GET  /_emulator/stats                                     request counters (same path as the
                                                              emulator's, so the harness can read
                                                              either)

Usage: ``python -m benchmarks._server --port 0 --accounts 10000``. It prints one JSON line
``{"url": ..., "token": ..., "server": "canned"}`` on stdout and serves until SIGTERM/SIGINT or
until its standard input is closed (so it never outlives a harness that dies).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import signal
import sys
import time
from email.utils import formatdate
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

TOKEN = "bench-access-token"
ROLE_NAME = "BenchRole"
TOKEN_HEADER = b"x-amz-sso_bearer_token:"
MAX_PAGE = 100  # the service's limit for maxResults
DEFAULT_PAGE = 20


class _State:
    """Mutable server-wide state: the cached Date header and request counters."""

    def __init__(self, accounts: int) -> None:
        self.accounts = accounts
        self.requests = 0
        self.by_path: dict[str, int] = {}
        self.date = b""
        self.expiration_ms = int((time.time() + 3600) * 1000)
        self.credentials_body = json.dumps(
            {
                "roleCredentials": {
                    "accessKeyId": "ASIABENCHMARKEXAMPLE",
                    "secretAccessKey": "bench/secret/access/key/0123456789abcdefgh",
                    "sessionToken": "IQoJb3JpZ2luX2VjE" + "x" * 300,
                    "expiration": self.expiration_ms,
                }
            },
            separators=(",", ":"),
        ).encode()
        self.roles_body = json.dumps(
            {"roleList": [{"roleName": ROLE_NAME, "accountId": "000000000000"}]},
            separators=(",", ":"),
        ).encode()

    def refresh_date(self) -> None:
        """Recompute the ``Date`` header value (called once a second)."""
        self.date = formatdate(usegmt=True).encode()

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one instance per process, lives forever
    def accounts_page(self, start: int, size: int) -> bytes:
        """Return the JSON body of the page of ``size`` accounts starting at ``start``."""
        end = min(start + size, self.accounts)
        page: dict[str, Any] = {
            "accountList": [
                {
                    "accountId": f"{i:012d}",
                    "accountName": f"bench-account-{i}",
                    "emailAddress": f"bench+{i}@example.com",
                }
                for i in range(start, end)
            ]
        }
        if end < self.accounts:
            page["nextToken"] = f"bench-next-{end}"
        return json.dumps(page, separators=(",", ":")).encode()


def _response(state: _State, status: bytes, body: bytes, keep_alive: bool) -> bytes:
    return b"".join(
        (
            b"HTTP/1.1 ",
            status,
            b"\r\nContent-Type: application/json\r\nContent-Length: ",
            str(len(body)).encode(),
            b"\r\nDate: ",
            state.date,
            b"\r\nx-amzn-RequestId: ",
            f"{state.requests:08x}-bench-4000-8000-000000000000".encode(),
            b"\r\nConnection: keep-alive\r\n\r\n"
            if keep_alive
            else b"\r\nConnection: close\r\n\r\n",
            body,
        )
    )


_UNAUTHORIZED = json.dumps({"message": "Session token not found or invalid"}).encode()
_NOT_FOUND = json.dumps({"message": "not found"}).encode()


def _route(state: _State, method: bytes, target: bytes, head: bytes) -> tuple[bytes, bytes]:
    path, _, query = target.partition(b"?")
    spath = path.decode("latin-1")
    if spath == "/_emulator/stats":  # not client traffic: not counted
        stats = {"requests": state.requests, "by_path": state.by_path, "server": "canned"}
        return b"200 OK", json.dumps(stats).encode()
    state.requests += 1
    state.by_path[spath] = state.by_path.get(spath, 0) + 1
    if TOKEN_HEADER not in head.lower():
        return b"401 Unauthorized", _UNAUTHORIZED
    if spath == "/federation/credentials":
        return b"200 OK", state.credentials_body
    if spath == "/assignment/accounts":
        params = dict(parse_qsl(query.decode("latin-1")))
        size = max(1, min(int(params.get("max_result", DEFAULT_PAGE)), MAX_PAGE))
        token = unquote(params.get("next_token", ""))
        start = int(token.rpartition("-")[2]) if token else 0
        return b"200 OK", state.accounts_page(start, size)
    if spath == "/assignment/roles":
        return b"200 OK", state.roles_body
    if spath == "/logout" and method == b"POST":
        return b"200 OK", b""
    return b"404 Not Found", _NOT_FOUND


class _HTTPProtocol(asyncio.Protocol):
    """One keep-alive connection: split requests on the blank line, answer each in order."""

    def __init__(self, state: _State) -> None:
        self._state = state
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        transport = self._transport
        assert transport is not None
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buf[:end]
            rest = self._buf[end + 4 :]
            lower = head.lower()
            length = 0
            idx = lower.find(b"\r\ncontent-length:")
            if idx >= 0:
                line_end = lower.find(b"\r\n", idx + 2)
                raw = lower[idx + 17 : line_end if line_end >= 0 else len(lower)]
                length = int(raw.strip() or b"0")
            if len(rest) < length:
                return  # wait for the body
            self._buf = rest[length:]
            request_line, _, _ = head.partition(b"\r\n")
            method, target, _ = [*request_line.split(b" ", 2), b"", b""][:3]
            keep_alive = b"\r\nconnection: close" not in lower
            status, body = _route(self._state, method, target, head)
            transport.write(_response(self._state, status, body, keep_alive))
            if not keep_alive:
                transport.close()
                return


async def serve(host: str, port: int, accounts: int, exit_on_stdin_eof: bool = False) -> None:
    """Serve until cancelled, SIGTERM/SIGINT, or EOF on standard input."""
    loop = asyncio.get_running_loop()
    state = _State(accounts)

    def tick() -> None:
        state.refresh_date()
        loop.call_later(1.0, tick)

    tick()
    server = await loop.create_server(lambda: _HTTPProtocol(state), host, port, backlog=1024)
    sock_port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher: asyncio.Task[None] | None = None
    if exit_on_stdin_eof:
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

        async def watch_stdin() -> None:
            await reader.read()  # returns at EOF: the parent went away
            stop.set()

        watcher = loop.create_task(watch_stdin())
    print(
        json.dumps({"url": f"http://{host}:{sock_port}", "token": TOKEN, "server": "canned"}),
        flush=True,
    )
    async with server:
        await stop.wait()
    if watcher is not None:
        watcher.cancel()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: parse flags, pick uvloop if importable, serve."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--no-uvloop", action="store_true", help="use the stdlib event loop")
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop when standard input closes"
    )
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("loopback only")
    runner: Any = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    runner(serve(args.host, args.port, args.accounts, args.exit_on_stdin_eof))


if __name__ == "__main__":
    main()
