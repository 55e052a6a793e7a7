"""How a client's requests reach the network, and where transport errors become aiosso's.

Three routes, one interface (:meth:`Transport.send`):

* a client that owns its connections (no ``session=``) speaks HTTP/1.1 through
  :mod:`aiosso._pool`, a lean keep-alive pool: the common case, and the fast one;
* a borrowed ``aiohttp.ClientSession`` is used as given (its connector, proxy, tracing and
  TLS settings apply) and never closed;
* an owned client falls back to an ``aiohttp`` session of its own when a proxy from the
  environment (``HTTPS_PROXY``/``HTTP_PROXY``, minus ``NO_PROXY``) applies to the endpoint,
  or while ``aiohttp.ClientSession._request`` is patched (``aioresponses``), so that such
  mocks keep working.

Reply bodies are bounded on every route: a declared ``Content-Length`` over the limit is
refused before reading, any other body is read with a running cap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import urllib.request
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from aiosso._pool import CABundleError, ConnectionPool, Reply, public_url, tls_context
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

# What aioresponses and similar mocks replace: while it is not this, aiohttp is used.
_AIOHTTP_REQUEST: Final = aiohttp.ClientSession._request

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

# botocore sends no Accept header, and no Content-Type on a request without a body (Logout);
# aiohttp would add "Accept: */*" and "Content-Type: application/octet-stream".
_SKIP_AUTO_HEADERS: Final = ("Accept", "Content-Type")
_NO_CONTENT_TYPE: Final = ("Content-Type",)
_URL_CACHE_SIZE: Final = 1024

# The default bound of a reply body: the API's largest page is a few tens of KiB.
MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
_CHUNK: Final = 64 * 1024


class _LeanRequest(aiohttp.ClientRequest):
    # The headers aiohttp adds on its own (Accept, Accept-Encoding) are ones botocore does
    # not send, or that aiosso sends itself. Dropping them at the class saves the per-request
    # work that ``skip_auto_headers`` costs, on the hot path of an owned session.
    DEFAULT_HEADERS = {}  # noqa: RUF012 - replaces the base class's dict, never mutated


class Transport:
    """Sends one HTTP exchange and returns ``(status, lower-cased headers, body)``."""

    __slots__ = (
        "_ca_bundle",
        "_closed",
        "_limit",
        "_max_body",
        "_owns",
        "_parsed",
        "_pool",
        "_proxied",
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
        # session's connector (aiohttp verifies certificates by default).
        self._ssl = verify
        self._ca_bundle = ca_bundle if verify is True else None
        self._owns = session is None
        # An owned session adds none of those headers; a borrowed one is told per request.
        self._skip: tuple[str, ...] | None = None if session is None else _SKIP_AUTO_HEADERS
        self._closed = False
        self._pool: ConnectionPool | None = None
        self._proxied: bool | None = None  # decided on first use, from the environment
        self._timeouts = (connect_timeout, read_timeout)
        self._limit = max_pool_connections
        # No total timeout: waiting for a free pooled connection is not a network timeout.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )

    @property
    def owns_open_session(self) -> bool:
        """True while connections or a session this transport created are open."""
        if not self._owns:
            return False
        if self._pool is not None and not self._pool.closed:
            return True
        return self._session is not None and not self._session.closed

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0)
        # No cookies (the API sets none), and no automatic Accept header: botocore sends none.
        # trust_env: this session exists for proxies (or for a mock, which ignores it).
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            request_class=_LeanRequest,
            timeout=self._timeout,
            headers=self._static,
            trust_env=True,
        )
        return self._session

    def _open_pool(self) -> ConnectionPool:
        connect_timeout, read_timeout = self._timeouts
        self._pool = ConnectionPool(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            limit=self._limit,
            max_body=self._max_body,
            verify=self._ssl,
            static_headers=self._static,
            ca_bundle=self._ca_bundle,
        )
        return self._pool

    def _url(self, url: str) -> URL:
        # Already percent-encoded as botocore encodes: yarl must not requote it. The same
        # URLs recur (a broker's credentials, a fan-out's first pages): parse each once.
        parsed = self._parsed.get(url)
        if parsed is None:
            if len(self._parsed) >= _URL_CACHE_SIZE:
                self._parsed.clear()
            parsed = self._parsed[url] = URL(url, encoded=True)
        return parsed

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> Reply:
        """Perform one exchange; never raises anything but aiosso errors or cancellation.

        Raises:
            ClientClosedError: the transport, or the session it was given, is closed.
            HTTPClientError: (a subclass naming the URL) the exchange failed.
            ResponseTooLargeError: the body exceeds ``max_response_bytes`` (not read).
        """
        pool = self._pool
        if pool is not None and aiohttp.ClientSession._request is _AIOHTTP_REQUEST:
            return await pool.request(method, url, headers, body)
        if self._closed:
            raise ClientClosedError(message="This client has been closed; create a new one.")
        if self._owns and aiohttp.ClientSession._request is _AIOHTTP_REQUEST:
            if self._proxied is None:
                self._proxied = _proxy_applies(url)
            if not self._proxied:
                return await self._open_pool().request(method, url, headers, body)
        return await self._send_aiohttp(method, url, headers, body)

    async def _send_aiohttp(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        if self._ca_bundle is not None and self._ssl is True and url.startswith("https:"):
            try:
                self._ssl = tls_context(True, self._ca_bundle)
            except CABundleError as exc:
                raise SSLError(endpoint_url=public_url(url), error=str(exc)) from exc
        session = self._session
        if session is None:
            session = self._open()
        elif session.closed:
            raise ClientClosedError(
                message="The aiohttp session given to this client has been closed."
            )
        try:
            skip = self._skip
            if skip is None:  # our own session: its default headers are ours already
                if body is None and method == "POST":
                    skip = _NO_CONTENT_TYPE  # aiohttp would label an empty POST octet-stream
            else:
                headers = {**self._static, **headers}
            async with session.request(
                method,
                self._url(url),
                headers=headers,
                data=body,
                timeout=self._timeout,
                allow_redirects=False,
                raise_for_status=False,
                skip_auto_headers=skip,
                ssl=self._ssl,
            ) as resp:
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
                return resp.status, out, reply
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _translate(exc, url, session) from exc
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
        """Close the connections and session this transport created; idempotent."""
        self._closed = True
        pool = self._pool
        if pool is not None:
            await pool.close()
        session, self._session = self._session, None
        if self._owns and session is not None and not session.closed:
            await session.close()


def _proxy_applies(url: str) -> bool:
    """True if the environment names a proxy for ``url`` that ``NO_PROXY`` does not exclude.

    Loopback endpoints (the emulator, a local test server) never go through a proxy, as in
    Go's ``ProxyFromEnvironment``: no remote proxy can reach this machine's loopback.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host == "localhost" or _is_loopback(host):
        return False
    proxies = urllib.request.getproxies()
    if not proxies.get(parts.scheme):  # aiohttp, like botocore, reads only http(s)_proxy
        return False
    return not urllib.request.proxy_bypass(parts.netloc)


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
        else:
            return b"".join(chunks)
    resp.close()
    raise ResponseTooLargeError(endpoint_url=public_url(url), limit=limit)


def _translate(
    exc: aiohttp.ClientError | asyncio.TimeoutError, url: str, session: aiohttp.ClientSession
) -> AioSSOError:
    """The aiosso error for an aiohttp/asyncio failure of one exchange."""
    if session.closed:
        # Closing the session under a call in flight ("Connector is closed", a reset...).
        return ClientClosedError(message="The aiohttp session was closed during the call.")
    public = public_url(url)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        reason = getattr(cert, "verify_message", None) or str(cert)
        return SSLError(endpoint_url=public, error=reason)
    if isinstance(exc, aiohttp.ClientSSLError):
        return SSLError(endpoint_url=public, error=str(exc))
    if isinstance(exc, aiohttp.ServerTimeoutError):
        if isinstance(exc, _CONNECT_TIMEOUT) or "Connection timeout" in str(exc):
            return ConnectTimeoutError(endpoint_url=public)
        return ReadTimeoutError(endpoint_url=public)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return EndpointConnectionError(endpoint_url=public)
    if isinstance(exc, _CLOSED):
        return ConnectionClosedError(endpoint_url=public)
    if isinstance(exc, asyncio.TimeoutError):
        return ReadTimeoutError(endpoint_url=public)
    return HTTPClientError(error=f"{type(exc).__name__} for {public}")


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
