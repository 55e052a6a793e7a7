"""The PKCE login's one-shot callback server (aiosso._callback), an aiohttp.web server."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from aiosso import AuthorizationCodeLoadError, LoginDeniedError
from aiosso._callback import CALLBACK_PATH, CallbackServer

pytestmark = pytest.mark.usefixtures("no_resource_warnings")

CODE = "the-authorization-code-0123456789"


@pytest.fixture
async def server() -> AsyncIterator[CallbackServer]:
    """A started callback server expecting state ``s1``."""
    srv = CallbackServer("s1")
    await srv.start()
    try:
        yield srv
    finally:
        await srv.close()


async def fetch(srv: CallbackServer, target: str, method: str = "GET") -> tuple[int, str, str]:
    """``(status, Cache-Control, body)`` of one request to the server."""
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"http://127.0.0.1:{srv.port}{target}") as reply,
    ):
        return reply.status, reply.headers.get("Cache-Control", ""), await reply.text()


async def test_code_resolves_the_result(
    server: CallbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The callback with our state resolves the code; the page is not cached nor logged."""
    caplog.set_level(logging.DEBUG)
    status, cache, body = await fetch(server, f"{CALLBACK_PATH}?code={CODE}&state=s1")
    assert (status, cache) == (200, "no-store")
    assert "Login complete" in body
    assert await server.result == CODE
    assert CODE not in caplog.text  # no access log line with the query


async def test_second_callback_is_refused(server: CallbackServer) -> None:
    """Once the login is handled, a second callback gets 409 and changes nothing."""
    await fetch(server, f"{CALLBACK_PATH}?code={CODE}&state=s1")
    status, _, _ = await fetch(server, f"{CALLBACK_PATH}?code=other&state=s1")
    assert status == 409
    assert await server.result == CODE


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [("POST", CALLBACK_PATH + "?code=c&state=s1", 405), ("GET", "/favicon.ico", 404)],
)
async def test_other_requests_leave_the_login_pending(
    server: CallbackServer, method: str, target: str, status: int
) -> None:
    """Another method or path is refused and does not settle the login."""
    assert (await fetch(server, target, method))[0] == status
    assert not server.result.done()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("code=c&state=not-ours", AuthorizationCodeLoadError),
        ("error=access_denied&error_description=no&state=s1", LoginDeniedError),
        ("error=server_error&state=s1", AuthorizationCodeLoadError),
        ("state=s1", AuthorizationCodeLoadError),
    ],
    ids=["wrong-state", "denied", "error", "no-code"],
)
async def test_failed_callbacks_fail_the_login(
    server: CallbackServer, query: str, error: type[Exception]
) -> None:
    """A wrong state, an error or a missing code answers 400 and fails the login clearly."""
    status, _, _ = await fetch(server, f"{CALLBACK_PATH}?{query}")
    assert status == 400
    with pytest.raises(error):
        await server.result


async def test_listens_on_loopback_only(server: CallbackServer) -> None:
    """The port is bound on 127.0.0.1 only, and close() stops it (idempotently)."""
    with socket.socket() as probe:
        probe.settimeout(1)
        probe.connect(("127.0.0.1", server.port))
    local = {
        addr[4][0] for addr in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    } - {"127.0.0.1", "127.0.1.1"}
    for address in local:
        with socket.socket() as probe:
            probe.settimeout(1)
            with pytest.raises(OSError):
                probe.connect((address, server.port))
    port = server.port
    await server.close()
    await server.close()
    with socket.socket() as probe:
        probe.settimeout(1)
        with pytest.raises(OSError):
            probe.connect(("127.0.0.1", port))
