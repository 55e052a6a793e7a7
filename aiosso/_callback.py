"""The one-shot local HTTP server that receives the browser's redirect of a PKCE login.

An ``aiohttp.web`` server bound to 127.0.0.1 only (the AWS CLI listens on every interface):
the authorization code must not be offered to the network. It answers one
``GET /oauth/callback``, checks ``state``, and resolves :attr:`CallbackServer.result` with the
code or a clear login error. It keeps no access log: the callback's query holds the code.
"""

from __future__ import annotations

import asyncio
import html
from typing import Final

from aiohttp import web

from aiosso._listen import listen, stop
from aiosso.exceptions import AuthorizationCodeLoadError, LoginDeniedError, LoginError

__all__ = ["CALLBACK_PATH", "CallbackServer", "printable"]

CALLBACK_PATH: Final = "/oauth/callback"
_SHUTDOWN_SECONDS: Final = 1.0


class CallbackServer:
    """A one-shot HTTP server on 127.0.0.1 that receives the browser's redirect."""

    def __init__(self, state: str) -> None:
        self._state = state
        self._result: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._runner: web.ServerRunner | None = None
        self.port = 0

    @property
    def result(self) -> asyncio.Future[str]:
        """Resolves to the authorization code, or fails with a :class:`LoginError`."""
        return self._result

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1 (then :attr:`port` is set)."""
        runner = web.ServerRunner(
            web.Server(self._handle, access_log=None),
            handle_signals=False,
            shutdown_timeout=_SHUTDOWN_SECONDS,
        )
        self.port = await listen(runner, "127.0.0.1", 0)
        self._runner = runner

    async def close(self) -> None:
        """Stop listening and drop any connection still open; idempotent."""
        runner, self._runner = self._runner, None
        await stop(runner)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        status, title, text = self._answer(request)
        body = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
        )
        response = web.Response(
            status=status,
            text=body,
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )
        response.force_close()
        return response

    def _answer(self, request: web.BaseRequest) -> tuple[int, str, str]:
        if request.method != "GET":
            return 405, "Method not allowed", "Only GET is served here."
        if request.path != CALLBACK_PATH:
            return 404, "Not found", "This is the aiosso login callback."
        if self._result.done():
            return 409, "Login already handled", "You can close this tab."
        query = request.query
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


def printable(text: str) -> str:
    """``text`` without control characters, at most 200 characters (safe to show)."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    return cleaned[:200]
