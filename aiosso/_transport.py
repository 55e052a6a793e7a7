"""The thin aiohttp adapter, and the one place where aiohttp and asyncio errors become aiosso's.

aiohttp is the only HTTP implementation: aiosso never parses HTTP or speaks TLS itself.

* A client without ``session=`` owns one ``aiohttp.ClientSession``, created lazily in the
  running loop and shared by all its calls. It is tuned for the portal: no cookie jar, no
  automatic headers, the static headers set once as the session's defaults, URLs parsed
  once, and ``trust_env=False`` so that ``~/.netrc`` is never read (aiohttp would send its
  credentials beside the token). Proxies from the environment (``HTTPS_PROXY``/``HTTP_PROXY``
  minus ``NO_PROXY``, read as botocore reads them) are passed explicitly with each request;
  loopback endpoints are never proxied. ``close()`` closes the session and waits for its
  connections.
* A borrowed ``aiohttp.ClientSession`` is used as given (its connector, proxy, tracing and
  TLS settings apply) and never closed.

On both, redirects are never followed (aiohttp would forward the token's header to another
host), and reply bodies are bounded: a declared ``Content-Length`` over the limit is refused
before reading, any other body is read with a running cap on the decoded bytes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import ssl
import urllib.request
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from aiohttp import http_exceptions
from aiohttp.client_reqrep import RequestInfo
from aiohttp.connector import Connection
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from aiosso.exceptions import (
    AioSSOError,
    ClientClosedError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    ResponseTooLargeError,
    SSLError,
)

__all__ = ["MAX_RESPONSE_BYTES", "CABundleError", "Reply", "Transport", "public_url"]

Reply = tuple[int, dict[str, str], bytes]

# aiohttp >= 3.10 tells connect and read timeouts apart by class; older ones by message.
_CONNECT_TIMEOUT: Final[tuple[type[BaseException], ...]] = tuple(
    cls for cls in (getattr(aiohttp, "ConnectionTimeoutError", None),) if cls is not None
)

# A dropped connection (reset while sending or reading) rather than a refused one.
_CLOSED: Final[tuple[type[BaseException], ...]] = (
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientPayloadError,
    aiohttp.ClientOSError,
    *(cls for cls in (getattr(aiohttp, "ClientConnectionResetError", None),) if cls is not None),
)

# Why a reply could not be read, by aiohttp's parser error: a fixed phrase, because the
# parser's own message quotes the offending line, which may be an echo of the token's header.
_PARSE_REASONS: Final[Mapping[str, str]] = {
    "BadStatusLine": "bad status line",
    "BadHttpMethod": "bad status line",
    "InvalidHeader": "invalid header field",
    "LineTooLong": "a line or the head is too long",
}

# botocore sends no Accept header, and no Content-Type on a request without a body (Logout);
# aiohttp would add "Accept: */*" and "Content-Type: application/octet-stream".
_SKIP_AUTO_HEADERS: Final = ("Accept", "Content-Type")
_NO_CONTENT_TYPE: Final = ("Content-Type",)
_URL_CACHE_SIZE: Final = 1024
_TIMEOUT_CACHE_SIZE: Final = 256
# aiohttp rounds timeouts from this many seconds up to whole seconds; ours are exact.
_NEVER_CEIL: Final = float(2**31)

# The default bound of a reply body: the API's largest page is a few tens of KiB.
MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
_CHUNK: Final = 4 * 1024


_NO_HEADERS: Final[CIMultiDictProxy[str]] = CIMultiDictProxy(CIMultiDict())


class _ScrubbedReplyError(aiohttp.ClientResponseError):
    """An unreadable reply, said without quoting it, and without the request's headers."""


class _LeanRequest(aiohttp.ClientRequest):
    # The headers aiohttp adds on its own (Accept, Accept-Encoding) are ones botocore does
    # not send, or that aiosso sends itself. Dropping them at the class saves the per-request
    # work that ``skip_auto_headers`` costs, on the hot path of an owned session.
    DEFAULT_HEADERS = {}  # noqa: RUF012 - replaces the base class's dict, never mutated


class _ScrubbedResponse(aiohttp.ClientResponse):
    # aiohttp's parser errors quote the offending line of the reply, which a broken server or
    # proxy may fill with an echo of the token's header. Raised from here, before aiohttp's
    # tracing (OpenTelemetry records the exception of a failed request) or anyone sees them,
    # they say what was wrong and quote nothing.
    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        try:
            return await super().start(connection)
        except aiohttp.ClientResponseError as exc:
            info = exc.request_info
            raise _ScrubbedReplyError(
                RequestInfo(info.url, info.method, _NO_HEADERS, info.real_url),
                (),
                status=exc.status,
                message=_parse_reason(exc) or type(exc).__name__,
            ) from None
        except aiohttp.ServerDisconnectedError as exc:
            if isinstance(exc.message, str):
                raise
            raise aiohttp.ServerDisconnectedError() from None  # not the partial reply head


class CABundleError(Exception):
    """The CA bundle (``AWS_CA_BUNDLE``) cannot be loaded; the message says why."""


class Transport:
    """Sends one HTTP exchange and returns ``(status, lower-cased headers, body)``."""

    __slots__ = (
        "_ca_bundle",
        "_closed",
        "_limit",
        "_loop",
        "_max_body",
        "_owns",
        "_parsed",
        "_proxy",
        "_ready",
        "_session",
        "_skip",
        "_ssl",
        "_static",
        "_timeout",
        "_timeouts",
    )

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        connect_timeout: float,
        read_timeout: float,
        max_pool_connections: int,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        verify: bool | ssl.SSLContext = True,
        static_headers: Mapping[str, str] | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        self._session = session
        # Headers that never change (User-Agent...): an owned session sends them as its
        # defaults, which aiohttp merges in C; a borrowed one gets them with each request.
        self._static = dict(static_headers or {})
        self._parsed: dict[str, URL] = {}
        self._max_body = max_response_bytes
        # Per request, so it applies to a borrowed session too; True defers to the
        # session's connector (aiohttp verifies certificates by default). A CA bundle is
        # loaded on the first https call: construction does no I/O.
        self._ssl: bool | ssl.SSLContext = verify
        self._ca_bundle = ca_bundle if verify is True else None
        self._owns = session is None
        # An owned session adds none of those headers; a borrowed one is told per request.
        self._skip: tuple[str, ...] | None = None if session is None else _SKIP_AUTO_HEADERS
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = False  # the first call's checks ran
        self._proxy: URL | None = None  # an owned session's, from the environment
        self._limit = max_pool_connections
        # Without a total: an exchange is given what is left of its call's deadline.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._timeouts: dict[int, aiohttp.ClientTimeout] = {}

    @property
    def owns_open_session(self) -> bool:
        """True while a session this transport created is open."""
        return self._owns and self._session is not None and not self._session.closed

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session calls go through: the borrowed one, or the owned one once opened."""
        return self._session

    def _open(self) -> aiohttp.ClientSession:
        self._loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # the API sets no cookies
            request_class=_LeanRequest,
            response_class=_ScrubbedResponse,
            timeout=self._timeout,
            headers=self._static,
            trust_env=False,  # never ~/.netrc; proxies are passed per request
        )
        return self._session

    def _url(self, url: str) -> URL:
        # Already percent-encoded as botocore encodes: yarl must not requote it. The same
        # URLs recur (a broker's credentials, a fan-out's first pages): parse each once.
        parsed = self._parsed.get(url)
        if parsed is None:
            if len(self._parsed) >= _URL_CACHE_SIZE:
                self._parsed.clear()
            parsed = self._parsed[url] = URL(url, encoded=True)
        return parsed

    def _prepare(self, url: str) -> aiohttp.ClientSession:
        """The session for a call to ``url``; on the first call, open it and set TLS up."""
        if self._closed:
            raise ClientClosedError(message="This client has been closed; create a new one.")
        session = self._session
        if session is None:
            session = self._open()
            self._proxy = proxy_for(url)
        elif session.closed:
            raise ClientClosedError(
                message="The aiohttp session given to this client has been closed."
            )
        if self._ca_bundle is not None and self._ssl is True and url.startswith("https:"):
            try:
                self._ssl = bundle_context(self._ca_bundle)
            except CABundleError as exc:
                raise SSLError(endpoint_url=public_url(url), error=str(exc)) from exc
        self._ready = True
        return session

    def _timeout_for(self, total: float) -> aiohttp.ClientTimeout:
        """The timeouts of an exchange that may take ``total`` seconds in all.

        Rounded up to the millisecond, so that the same few objects serve the common case
        (a first attempt, with the whole budget left); never rounded to whole seconds, as
        aiohttp does from 5 s on by default.
        """
        millis = math.ceil(total * 1000)
        timeout = self._timeouts.get(millis)
        if timeout is None:
            if len(self._timeouts) >= _TIMEOUT_CACHE_SIZE:
                self._timeouts.clear()
            base = self._timeout
            timeout = self._timeouts[millis] = aiohttp.ClientTimeout(
                total=millis / 1000,
                sock_connect=base.sock_connect,
                sock_read=base.sock_read,
                ceil_threshold=_NEVER_CEIL,
            )
        return timeout

    async def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None = None,
        total: float | None = None,
    ) -> Reply:
        """Perform one exchange; never raises anything but aiosso errors or cancellation.

        Args:
            total: seconds the whole exchange may take (connecting, sending, the head and the
                body, however slowly they trickle in); past it, the exchange ends with
                ``ReadTimeoutError`` (or ``ConnectTimeoutError`` while connecting).

        Raises:
            ClientClosedError: the transport, or the session it was given, is closed.
            HTTPClientError: (a subclass naming the URL) the exchange failed.
            ResponseTooLargeError: the body exceeds ``max_response_bytes`` (not read).
        """
        session = self._session
        if not self._ready or session is None or session.closed or self._closed:
            session = self._prepare(url)
        elif self._loop is not None and asyncio.get_running_loop() is not self._loop:
            raise HTTPClientError(
                error="this client's connections belong to another event loop; "
                "create the client in the loop that uses it"
            )
        skip = self._skip
        if skip is None:  # our own session: its default headers are ours already
            if body is None and method == "POST":
                skip = _NO_CONTENT_TYPE  # aiohttp would label an empty POST octet-stream
        else:
            headers = {**self._static, **headers}
        try:
            async with session.request(
                method,
                self._url(url),
                headers=headers,
                data=body,
                timeout=self._timeout if total is None else self._timeout_for(total),
                allow_redirects=False,
                raise_for_status=False,
                skip_auto_headers=skip,
                ssl=self._ssl,
                proxy=self._proxy,
            ) as resp:
                status = resp.status
                if status < 200:  # 1xx are skipped by aiohttp; 101 would hand us the socket
                    resp.close()
                    raise HTTPClientError(
                        error=f"invalid HTTP reply from {public_url(url)}: "
                        f"unexpected status {status}"
                    )
                length = resp.content_length
                if (
                    length is not None
                    and length <= self._max_body
                    and "Content-Encoding" not in resp.headers
                ):
                    reply = await resp.read()  # the hot path: a small, declared body
                else:
                    reply = await _read_capped(resp, self._max_body, url)
                received = resp.headers
                out = {key.lower(): value for key, value in received.items()}
                if len(out) != len(received):  # repeated headers: join them as urllib3 does
                    out = {}
                    for key, value in received.items():
                        key = key.lower()
                        out[key] = f"{out[key]}, {value}" if key in out else value
                return status, out, reply
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error, chain = _translate(exc, url, session)
            if chain:
                raise error from exc
            raise error from None
        except asyncio.CancelledError:
            # aiohttp cancels requests still waiting for a pooled connection when the session
            # closes. That is not a cancellation of the caller's task: say what happened.
            if session.closed and not _caller_cancelled():
                raise ClientClosedError(
                    message="The aiohttp session was closed while the call was waiting."
                ) from None
            raise
        except RuntimeError as exc:
            if session.closed:
                raise ClientClosedError(message="The aiohttp session has been closed.") from exc
            raise

    async def close(self) -> None:
        """Close the session this transport created, waiting for its connections; idempotent.

        A borrowed session stays open.
        """
        self._closed = True
        session = self._session
        if self._owns:
            self._session = None
            if session is not None and not session.closed:
                await session.close()


def proxy_for(url: str) -> URL | None:
    """The proxy the environment names for ``url``, or None when none applies.

    ``HTTPS_PROXY``/``HTTP_PROXY`` per scheme, minus hosts ``NO_PROXY`` excludes, as botocore
    reads them. Loopback endpoints (the emulator, a local test server) never go through a
    proxy, as in Go's ``ProxyFromEnvironment``: no remote proxy can reach this machine's
    loopback.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host == "localhost" or _is_loopback(host):
        return None
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy:  # aiohttp, like botocore, reads only http(s)_proxy
        return None
    if urllib.request.proxy_bypass(parts.netloc):
        return None
    if "://" not in proxy:  # botocore accepts "proxy.corp:3128"
        proxy = "http://" + proxy
    return URL(proxy)


async def _read_capped(resp: aiohttp.ClientResponse, limit: int, url: str) -> bytes:
    """The body, read incrementally and refused once past ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading anything; an
    unsized (chunked) or compressed body is read chunk by chunk, the cap counting decoded
    bytes (a small compressed reply can inflate to gigabytes). A refused reply's connection is
    closed, not drained. Not retried: the same request would get the same reply.
    """
    length = resp.content_length
    if length is None or length <= limit:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
            # A piece may be thousands of tiny chunks already buffered: let the loop breathe.
            await asyncio.sleep(0)
        else:
            return b"".join(chunks)
    resp.close()
    raise ResponseTooLargeError(endpoint_url=public_url(url), limit=limit)


def _translate(
    exc: aiohttp.ClientError | asyncio.TimeoutError, url: str, session: aiohttp.ClientSession
) -> tuple[AioSSOError, bool]:
    """The aiosso error for an aiohttp/asyncio failure of one exchange, and whether to chain.

    Errors about the connection keep aiohttp's error as ``__cause__``. Errors about the reply
    do not: aiohttp's messages quote what the server sent, which may echo the token's header.
    """
    if session.closed:
        # Closing the session under a call in flight ("Connector is closed", a reset...).
        return ClientClosedError(message="The aiohttp session was closed during the call."), True
    public = public_url(url)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        reason = getattr(cert, "verify_message", None) or str(cert)
        return SSLError(endpoint_url=public, error=reason), True
    if isinstance(exc, aiohttp.ClientSSLError):
        return SSLError(endpoint_url=public, error=str(exc)), True
    if isinstance(exc, aiohttp.ServerTimeoutError):
        if isinstance(exc, _CONNECT_TIMEOUT) or "Connection timeout" in str(exc):
            return ConnectTimeoutError(endpoint_url=public), True
        return ReadTimeoutError(endpoint_url=public), True
    if isinstance(exc, aiohttp.ClientConnectorError):
        return EndpointConnectionError(endpoint_url=public), True
    if isinstance(exc, aiohttp.ClientResponseError):
        # The head could not be parsed (or a response-level check failed).
        reason = _parse_reason(exc) or type(exc).__name__
        return HTTPClientError(error=f"invalid HTTP reply from {public}: {reason}"), False
    if isinstance(exc, aiohttp.ClientPayloadError):
        # The body was cut short, or its framing broke part-way.
        return ConnectionClosedError(endpoint_url=public), False
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        # Its message may be the partly read reply head.
        return ConnectionClosedError(endpoint_url=public), isinstance(exc.message, str)
    if isinstance(exc, _CLOSED):
        return ConnectionClosedError(endpoint_url=public), True
    if isinstance(exc, asyncio.TimeoutError):
        return ReadTimeoutError(endpoint_url=public), True
    return HTTPClientError(error=f"{type(exc).__name__} for {public}"), True


def _parse_reason(exc: BaseException) -> str | None:
    """A fixed phrase for the aiohttp parser error behind ``exc``, if there is one."""
    cause = exc.__cause__
    if isinstance(cause, http_exceptions.HttpProcessingError):
        return _PARSE_REASONS.get(type(cause).__name__, "malformed reply")
    if isinstance(exc, _ScrubbedReplyError):
        return exc.message
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _caller_cancelled() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python >= 3.11
    # Without Task.cancelling() (3.10) a cancellation cannot be told apart: keep it.
    return cancelling is None or cancelling() > 0


_BUNDLE_CONTEXTS: dict[str, ssl.SSLContext] = {}


def bundle_context(ca_bundle: str) -> ssl.SSLContext:
    """A verifying TLS context that trusts the CAs of ``ca_bundle`` only; one per bundle.

    Raises:
        CABundleError: ``ca_bundle`` is missing or holds no usable certificate.
    """
    cached = _BUNDLE_CONTEXTS.get(ca_bundle)
    if cached is None:
        try:
            cached = ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
            raise CABundleError(f"cannot load the CA bundle {ca_bundle!r}: {reason}") from exc
        _BUNDLE_CONTEXTS[ca_bundle] = cached
    return cached


def public_url(url: str) -> str:
    """``url`` up to its query, for messages.

    The query holds only account ids, role names and page tokens, never a secret; still,
    page tokens can be long.
    """
    return url.split("?", 1)[0]
