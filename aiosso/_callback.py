"""The one-shot local HTTP server that receives the browser's redirect of a PKCE login.

Bound to 127.0.0.1 only (the AWS CLI listens on every interface): the authorization code must
not be offered to the network. It answers one ``GET /oauth/callback``, checks ``state``, and
resolves :attr:`CallbackServer.result` with the code or a clear login error.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final
from urllib.parse import parse_qs, urlsplit

from aiosso.exceptions import AuthorizationCodeLoadError, LoginDeniedError, LoginError

__all__ = ["CALLBACK_PATH", "CallbackServer", "printable"]

CALLBACK_PATH: Final = "/oauth/callback"
_REQUEST_LIMIT: Final = 16 * 1024
_REQUEST_READ_TIMEOUT: Final = 10.0


class CallbackServer:
    """A one-shot HTTP server on 127.0.0.1 that receives the browser's redirect."""

    def __init__(self, state: str) -> None:
        self._state = state
        self._result: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def result(self) -> asyncio.Future[str]:
        """Resolves to the authorization code, or fails with a :class:`LoginError`."""
        return self._result

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1 (then :attr:`port` is set)."""
        self._server = await asyncio.start_server(
            self._handle, host="127.0.0.1", port=0, limit=_REQUEST_LIMIT
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop any connection still open; idempotent."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_READ_TIMEOUT)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            except ConnectionError:
                return
            status, title, text = self._answer(head)
            await self._respond(writer, status, title, text)
        finally:
            self._writers.discard(writer)
            writer.close()

    def _answer(self, head: bytes) -> tuple[int, str, str]:
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            return 405, "Method not allowed", "Only GET is served here."
        target = urlsplit(parts[1])
        if target.path != CALLBACK_PATH:
            return 404, "Not found", "This is the aiosso login callback."
        if self._result.done():
            return 409, "Login already handled", "You can close this tab."
        query = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
        if query.get("state") != self._state:
            self._result.set_exception(
                AuthorizationCodeLoadError(
                    error_msg="State parameter does not match expected value: the browser's "
                    "answer is not for this login. Run the login again."
                )
            )
            return 400, "Login failed", "The request's state did not match. Log in again."
        error = query.get("error")
        if error is not None:
            description = printable(query.get("error_description", ""))
            detail = f"{printable(error)}" + (f": {description}" if description else "")
            exc: LoginError
            if error == "access_denied":
                exc = LoginDeniedError(
                    error_msg=f"The authorization request was denied ({detail})."
                )
            else:
                exc = AuthorizationCodeLoadError(
                    error_msg=f"Failed to retrieve an authorization code ({detail})."
                )
            self._result.set_exception(exc)
            return 400, "Login failed", f"The login did not complete: {detail}."
        code = query.get("code")
        if not code:
            self._result.set_exception(
                AuthorizationCodeLoadError(error_msg="Failed to retrieve an authorization code.")
            )
            return 400, "Login failed", "No authorization code was received."
        self._result.set_result(code)
        return 200, "Login complete", "aiosso is now logged in. You can close this tab."

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, title: str, text: str) -> None:
        import html

        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        body = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
        ).encode()
        header = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")
        with contextlib.suppress(ConnectionError):
            writer.write(header + body)
            await writer.drain()


def printable(text: str) -> str:
    """``text`` without control characters, at most 200 characters (safe to show)."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    return cleaned[:200]
