"""A local credential endpoint in the format every AWS SDK's container provider reads.

``aiosso exec`` and ``aiosso serve`` run a :class:`CredentialServer`; a process given
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (the server's URL for a profile) and
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` (its token) then fetches role credentials from it, and
fetches fresh ones by itself before they expire (botocore's ``ContainerProvider`` and
``RefreshableCredentials``; the Go, JS and Java SDKs alike).

The wire format::

    GET /credentials/<profile>             Authorization: <token>
    200 {"AccessKeyId", "SecretAccessKey", "Token", "Expiration": "…Z", "AccountId"}
    400/401/404/405/500/502/503 {"code", "message"}

Security:

* It listens on 127.0.0.1 by default. Another address needs ``allow_remote=True``, and then
  TLS (``ssl_context``): a plain-http endpoint is never offered to a network.
* The token is 32 random bytes (``secrets``), compared in constant time. A missing or wrong
  token gets ``401`` and nothing else, whatever the method or path.
* No access log (the log would name profiles and clients), no traceback in a reply, no secret
  in a message, aiohttp's own error logs included (their details are withheld). Request
  heads are bounded by aiohttp's limits (8 KiB a line), a request with a body is refused
  unread, and a client that has not sent a whole request within :data:`CLIENT_TIMEOUT`
  seconds is disconnected.
* An SSO session that can no longer be refreshed answers ``503`` with
  ``{"code": "SSOSessionExpired", "message": "... run aiosso login ..."}``; the server keeps
  running, and answers again as soon as a new login wrote a token.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
import ssl
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from aiosso._listen import listen, stop
from aiosso._rolecreds import RoleCredentials
from aiosso.exceptions import (
    AioSSOError,
    ClientError,
    HTTPClientError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedException,
    UnauthorizedSSOTokenError,
    bounded,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["CLIENT_TIMEOUT", "CredentialServer", "CredentialSource", "credentials_document"]

log = logging.getLogger("aiosso.broker")

#: Seconds a client may take to send a whole request (or stay idle between requests).
CLIENT_TIMEOUT: Final = 5.0
_PREFIX: Final = "/credentials/"
_SESSION_CODES: Final = (
    SSOTokenLoadError,
    UnauthorizedSSOTokenError,
    TokenRetrievalError,
    UnauthorizedException,
)

CredentialSource = Callable[[], Awaitable[RoleCredentials]]
"""What the server calls for a profile's credentials, e.g. ``partial(cache.get, acct, role)``."""


def credentials_document(credentials: RoleCredentials) -> dict[str, str]:
    """The body the SDKs' container provider reads: ``Expiration`` in ISO 8601, UTC, ``Z``."""
    return {
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": str(credentials.secret_access_key),
        "Token": str(credentials.session_token),
        "Expiration": credentials.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "AccountId": credentials.account_id,
    }


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


class _Withheld(logging.Filter):
    """aiohttp's server logs a malformed request with an error that quotes the offending
    line, which may be the ``Authorization`` header: keep the error's type, drop the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            record.msg = f"{record.msg} ({type(exc).__name__}; details withheld)"
            if isinstance(exc, HttpProcessingError):  # the client's fault, not ours
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        record.stack_info = None
        return True


_http_log = logging.getLogger("aiosso.broker.http")
_http_log.addFilter(_Withheld())


def listening_refusal(
    host: str, *, allow_remote: bool, tls: bool
) -> Literal["remote", "plain-http"] | None:
    """Which rule listening on *host* breaks: ``"remote"`` (off loopback without
    ``allow_remote``), ``"plain-http"`` (off loopback without TLS), or ``None``."""
    if _is_loopback(host):
        return None
    if not allow_remote:
        return "remote"
    return None if tls else "plain-http"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CredentialServer:
    """Serves role credentials to local processes, one path per profile.

    Args:
        profiles: profile name -> an async callable returning its current credentials
            (typically ``functools.partial(credential_cache.get, account_id, role_name)``).
        host: the address to listen on (default 127.0.0.1).
        port: the port (default 0: any free one; see :attr:`port`).
        token: the authorization token; default 32 random bytes, URL-safe.
        ssl_context: serve https with it (required off loopback).
        allow_remote: allow a ``host`` that is not loopback (a container network, say).
        login_hint: profile name -> the command that logs its session in, for messages.

    Raises:
        ValueError: a host off loopback without ``allow_remote``, or without TLS; a token
            shorter than 32 characters or holding characters a header cannot carry.
    """

    def __init__(
        self,
        profiles: Mapping[str, CredentialSource],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allow_remote: bool = False,
        login_hint: Callable[[str], str] | None = None,
    ) -> None:
        refused = listening_refusal(host, allow_remote=allow_remote, tls=ssl_context is not None)
        if refused == "remote":
            raise ValueError(
                f"refusing to listen on {host!r}: only loopback unless allow_remote=True"
            )
        if refused == "plain-http":
            raise ValueError(
                f"refusing plain http on {host!r}: off loopback the endpoint needs TLS"
            )
        token = secrets.token_urlsafe(32) if token is None else token
        if len(token) < 32 or not token.isascii() or not token.isprintable():
            raise ValueError("the token must be at least 32 printable ASCII characters")
        self._sources = dict(profiles)
        self._host = host
        self._port = port
        self._token = token.encode()
        self._ssl = ssl_context
        self._hint = login_hint or (lambda name: f"aiosso login --profile {name}")
        self._runner: web.ServerRunner | None = None
        self.port = 0

    def __repr__(self) -> str:  # no token
        state = f"listening on port {self.port}" if self._runner else "stopped"
        return f"<CredentialServer profiles={sorted(self._sources)!r} {state}>"

    @property
    def token(self) -> str:
        """The value clients send as ``Authorization`` (``AWS_CONTAINER_AUTHORIZATION_TOKEN``)."""
        return self._token.decode()

    def url(self, profile: str) -> str:
        """The profile's URL (``AWS_CONTAINER_CREDENTIALS_FULL_URI``); after :meth:`start`."""
        scheme = "https" if self._ssl is not None else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self.port}{_PREFIX}{quote(profile, safe='')}"

    async def start(self) -> None:
        """Listen (then :attr:`port` is the port)."""
        runner = web.ServerRunner(
            web.Server(
                self._handle,
                access_log=None,
                logger=_http_log,
                keepalive_timeout=CLIENT_TIMEOUT,
            ),
            handle_signals=False,
            shutdown_timeout=1.0,
        )
        self.port = await listen(runner, self._host, self._port, self._ssl)
        self._runner = runner

    async def close(self) -> None:
        """Stop listening and close every connection; idempotent."""
        runner, self._runner = self._runner, None
        await stop(runner)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _authorized(self, value: str | None) -> bool:
        if value is None:
            return False
        try:
            offered = value.encode("ascii")
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(offered, self._token)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if not self._authorized(request.headers.get("Authorization")):
            return _error(401, "Unauthorized", "Unauthorized.")
        if request.method != "GET":
            return _error(405, "MethodNotAllowed", "Only GET is served.")
        if request.body_exists:  # no SDK sends one; it is never read, and never answered
            refused = _error(400, "BadRequest", "A credentials request has no body.")
            refused.force_close()
            return refused
        path = request.rel_url.raw_path  # still percent-encoded: decoded once, here
        name = unquote(path[len(_PREFIX) :]) if path.startswith(_PREFIX) else ""
        source = self._sources.get(name)
        if source is None:
            return _error(404, "NotFound", "No credentials are served at this path.")
        try:
            credentials = await source()
        except _SESSION_CODES:
            return _error(
                503,
                "SSOSessionExpired",
                f"The SSO session of profile {name} has expired and cannot be refreshed: "
                f"run {self._hint(name)}",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            return _error(502, str(bounded(code)), str(exc))
        except HTTPClientError as exc:
            return _error(503, "ServiceUnavailable", str(exc))
        except AioSSOError as exc:
            return _error(500, type(exc).__name__, str(exc))
        except Exception as exc:  # never a traceback on the wire
            log.warning("Serving credentials for %s failed: %s", name, type(exc).__name__)
            return _error(500, "InternalError", "The credentials could not be served.")
        body: dict[str, Any] = credentials_document(credentials)
        return web.Response(
            text=json.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )
