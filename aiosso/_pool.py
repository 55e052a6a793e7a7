"""A lean HTTP/1.1 connection pool on asyncio protocols, for the sessions aiosso owns.

A portal call is one small request and one small reply. Going through
``aiohttp.ClientSession.request`` for it costs more CPU than everything else aiosso does
per call, so a client that owns its connections speaks HTTP/1.1 itself: keep-alive
connections up to ``max_pool_connections``, handed out most-recently-used first, one
exchange at a time each, parsed by :mod:`aiosso._http`. Connections the server closed
while idle are dropped when it closes them; a reused connection that closes before any
byte of the reply arrived is retried once on a new one (the server closed it as we
sent). Everything else is reported, never retried here: retrying is ``_retry``'s job.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import socket
import ssl
from typing import Final
from urllib.parse import urlsplit

from aiosso._http import BodyTooLargeError, HTTPParseError, ResponseParser, encode_request
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

__all__ = ["ConnectionPool", "Reply"]

Reply = tuple[int, dict[str, str], bytes]

#: Idle connections older than this are closed rather than reused: servers and load
#: balancers drop idle keep-alive connections, and a reply is cheaper than a retry.
KEEPALIVE_SECONDS: Final = 15.0
_CLOSE_WAIT_SECONDS: Final = 2.0


class _Origin:
    """Where one URL prefix connects to, parsed once."""

    __slots__ = (
        "happy_eyeballs",
        "host",
        "host_header",
        "port",
        "server_hostname",
        "ssl",
    )

    def __init__(self, prefix: str, context: ssl.SSLContext | None) -> None:
        parts = urlsplit(prefix)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {prefix!r}")
        if parts.username is not None or parts.password is not None:
            raise ValueError("credentials in an endpoint URL are not supported")
        secure = parts.scheme == "https"
        default = 443 if secure else 80
        self.host = parts.hostname
        self.port = parts.port or default
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = name if self.port == default else f"{name}:{self.port}"
        self.ssl = context if secure else None
        self.server_hostname = self.host if secure else None
        # A name may resolve to IPv6 and IPv4 (dual-stack endpoints): race them, as aiohttp
        # does. An address has nothing to race, and asyncio's racing code can leak a socket
        # when cancelled mid-connect on Pythons before 3.12.
        self.happy_eyeballs: float | None = None if _is_address(self.host) else 0.25


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Stale(Exception):
    """The connection closed before any byte of the reply arrived."""


class _Dropped(Exception):
    """The connection closed part-way through the reply."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one exchange in flight."""

    def __init__(self, pool: ConnectionPool, origin: _Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser: ResponseParser | None = None
        self.waiter: asyncio.Future[ResponseParser] | None = None
        self.idle_since = 0.0
        self.last_read = 0.0
        self.exchanges = 0
        self.counted = False  # holds one of the pool's slots
        self.timer: asyncio.TimerHandle | None = None
        self.lost: asyncio.Future[None] = pool.loop.create_future()

    @property
    def closed(self) -> bool:
        """True once the connection is lost (either side closed it)."""
        return self.lost.done()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # bytes nobody asked for: this connection cannot be trusted
            self.abort()
            return
        self.last_read = self.pool.loop.time()
        try:
            done = parser.feed(data)
        except (HTTPParseError, BodyTooLargeError) as exc:
            self._fail(exc)
            return
        except Exception as exc:  # a parser bug must still end as an aiosso error
            self._fail(HTTPParseError(f"an unreadable reply ({type(exc).__name__})"))
            return
        if done:
            self._complete(parser)

    def eof_received(self) -> bool:
        parser = self.parser
        if parser is not None:
            try:
                parser.feed_eof()
            except HTTPParseError:
                self._fail(_Dropped() if parser.received else _Stale())
                return False
            self._complete(parser)  # read until close: the reply is whole, not reusable
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.pool._lost(self)
        if self.parser is not None:
            self._fail(_Dropped() if self.parser.received else _Stale())

    def _complete(self, parser: ResponseParser) -> None:
        self.parser = None
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(parser)

    def _fail(self, exc: Exception) -> None:
        self.parser = None
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def abort(self) -> None:
        """Close the connection now, without a goodbye."""
        if self.transport is not None:
            self.transport.abort()

    def read_timed_out(self) -> None:
        """The read timer fired: fail the exchange unless bytes came since it was set."""
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        loop = self.pool.loop
        deadline = self.last_read + self.pool.read_timeout
        if deadline > loop.time():  # data arrived meanwhile: the timeout counts from there
            self.timer = loop.call_at(deadline, self.read_timed_out)
            return
        self._fail(asyncio.TimeoutError())


class ConnectionPool:
    """Keep-alive HTTP/1.1 connections for one client, bound to the loop of its first use.

    Args:
        connect_timeout: seconds to establish a connection (TLS included).
        read_timeout: seconds to wait for each piece of the reply.
        limit: connections open at once; requests beyond it wait their turn in order.
        max_body: the largest reply body accepted.
        verify: certificate checking for ``https`` endpoints: True (the system's trust
            store, or ``ca_bundle``), False (none: testing only), or a context to use as is.
        ca_bundle: a PEM file of trusted CAs used instead of the system's (``AWS_CA_BUNDLE``).
        static_headers: headers sent with every request (User-Agent...).
    """

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        limit: int,
        max_body: int,
        verify: bool | ssl.SSLContext,
        static_headers: dict[str, str],
        ca_bundle: str | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._limit = limit
        self._max_body = max_body
        self._verify = verify
        self._ca_bundle = ca_bundle
        self._static = "".join(f"{name}: {value}\r\n" for name, value in static_headers.items())
        _check_lines(self._static, len(static_headers))
        self._origins: dict[str, _Origin] = {}
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._count = 0  # connections open or opening
        self._waiters: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()
        self.closed = False

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        """Perform one exchange and return ``(status, lower-cased headers, body)``.

        Raises:
            ClientClosedError: the pool closed before or during the exchange.
            HTTPClientError: (a subclass naming the URL) the exchange failed.
            ResponseTooLargeError: the body exceeds the limit.
        """
        if self.closed:
            raise ClientClosedError(message="This client has been closed; create a new one.")
        if asyncio.get_running_loop() is not self.loop:
            raise HTTPClientError(
                error="this client's connections belong to another event loop; "
                "create the client in the loop that uses it"
            )
        start = url.find("/", url.find("//") + 2)
        prefix, target = (url, "/") if start < 0 else (url[:start], url[start:])
        origin = self._origins.get(prefix)
        if origin is None:
            origin = self._origin(prefix)
        extra = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        _check_lines(extra, len(headers))
        if " " in target or not (target.isascii() and target.isprintable()):
            raise HTTPClientError(error=f"an unsafe request target for {public_url(url)}")
        payload = encode_request(method, target, origin.host_header, self._static + extra, body)
        for attempt in (1, 2):
            conn = await self._acquire(origin, url)
            reused = conn.exchanges > 0
            try:
                parser = await self._exchange(conn, payload)
            except (_Stale, _Dropped) as exc:
                if self.closed:
                    raise self._closed_during() from None
                if attempt == 1 and reused and isinstance(exc, _Stale):
                    continue  # the server closed a kept-alive connection as we reused it
                raise ConnectionClosedError(endpoint_url=public_url(url)) from None
            except asyncio.TimeoutError:
                raise ReadTimeoutError(endpoint_url=public_url(url)) from None
            except BodyTooLargeError:
                raise ResponseTooLargeError(
                    endpoint_url=public_url(url), limit=self._max_body
                ) from None
            except HTTPParseError as exc:
                raise HTTPClientError(
                    error=f"invalid HTTP reply from {public_url(url)}: {exc}"
                ) from None
            if parser.keep_alive and not self.closed:
                self._release(conn)
            else:
                self._drop(conn)
            return parser.status, parser.headers, parser.body
        raise AssertionError("unreachable")  # pragma: no cover

    def _origin(self, prefix: str) -> _Origin:
        try:
            secure = prefix.startswith("https:")
            context = tls_context(self._verify, self._ca_bundle) if secure else None
            origin = _Origin(prefix, context)
        except CABundleError as exc:
            raise SSLError(endpoint_url=prefix, error=str(exc)) from exc
        except ValueError as exc:
            raise HTTPClientError(error=f"unusable URL {prefix!r}: {exc}") from None
        if len(self._origins) > 64:
            self._origins.clear()
        self._origins[prefix] = origin
        return origin

    async def _exchange(self, conn: _Connection, payload: bytes) -> ResponseParser:
        if conn.closed:  # lost between being handed out and now: nothing to read from
            self._busy.discard(conn)
            raise _Stale()
        conn.exchanges += 1
        loop = self.loop
        conn.parser = ResponseParser(self._max_body)
        waiter: asyncio.Future[ResponseParser] = loop.create_future()
        conn.waiter = waiter
        conn.last_read = now = loop.time()
        conn.timer = loop.call_at(now + self.read_timeout, conn.read_timed_out)
        assert conn.transport is not None
        conn.transport.write(payload)
        try:
            return await waiter
        except BaseException:
            # Cancelled, timed out or failed: the connection's state is unknown, drop it.
            conn.parser = None
            conn.waiter = None
            self._drop(conn)
            raise
        finally:
            if conn.timer is not None:
                conn.timer.cancel()
                conn.timer = None

    async def _acquire(self, origin: _Origin, url: str) -> _Connection:
        idle = self._idle
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            transport = conn.transport
            if (
                conn.origin is origin
                and transport is not None
                and not transport.is_closing()
                and now - conn.idle_since < KEEPALIVE_SECONDS
            ):
                self._busy.add(conn)
                return conn
            self._drop(conn)  # expired, closing, or for another origin
        if self._count >= self._limit:
            waiter: asyncio.Future[_Connection | None] = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    given = waiter.result()  # handed over as we were cancelled: pass it on
                    if given is not None:
                        self._release(given)
                    else:
                        self._count -= 1
                        self._wake()
                raise
            if self.closed:
                if handed is not None:
                    self._drop(handed)
                else:
                    self._count -= 1  # the slot reserved for us goes unused
                raise self._closed_during()
            if handed is not None:
                if handed.origin is origin:
                    return handed
                # Another origin's connection: close it and open ours in its slot.
                handed.counted = False
                self._busy.discard(handed)
                handed.abort()
        else:
            self._count += 1
        return await self._connect(origin, url)

    async def _connect(self, origin: _Origin, url: str) -> _Connection:
        connecting = self.loop.create_connection(
            lambda: _Connection(self, origin),
            origin.host,
            origin.port,
            ssl=origin.ssl,
            server_hostname=origin.server_hostname,
            ssl_handshake_timeout=self._connect_timeout if origin.ssl else None,
            happy_eyeballs_delay=origin.happy_eyeballs,
        )
        # A task and asyncio.wait, not wait_for: before Python 3.12, wait_for swallows a
        # cancellation that arrives as the connection completes, and the caller runs on.
        task = self.loop.create_task(connecting)
        try:
            done, _ = await asyncio.wait((task,), timeout=self._connect_timeout)
            if not done:
                raise asyncio.TimeoutError()
            _, conn = task.result()
        except BaseException as exc:
            if task.done():
                _discard_connection(task)
            else:
                task.cancel()
                task.add_done_callback(_discard_connection)
            self._count -= 1
            self._wake()
            if isinstance(exc, asyncio.CancelledError):
                raise
            if self.closed:
                raise self._closed_during() from exc
            raise _connect_error(exc, public_url(url)) from exc
        if conn.closed:  # reset before we got to use it: its slot is ours to free
            self._count -= 1
            self._wake()
            raise ConnectionClosedError(endpoint_url=public_url(url))
        conn.counted = True
        self._busy.add(conn)
        if self.closed:
            self._drop(conn)
            raise self._closed_during()
        return conn

    def _release(self, conn: _Connection) -> None:
        # Handed straight to the first waiter, it stays in _busy so close() still sees it.
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._busy.discard(conn)
        conn.idle_since = self.loop.time()
        self._idle.append(conn)

    def _wake(self) -> None:
        """A slot freed up: let the first live waiter open a connection in it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._count += 1
                waiter.set_result(None)
                return

    def _drop(self, conn: _Connection) -> None:
        """Close ``conn`` and free its slot now, not when the loop gets to its closing."""
        conn.abort()
        self._lost(conn)

    def _lost(self, conn: _Connection) -> None:
        """``conn`` closed (either side): free its slot."""
        self._busy.discard(conn)
        if not conn.counted:
            return
        conn.counted = False
        self._count -= 1
        try:
            self._idle.remove(conn)
        except ValueError:
            pass
        if not self.closed:
            self._wake()

    def _closed_during(self) -> ClientClosedError:
        return ClientClosedError(message="The client was closed during the call.")

    async def close(self) -> None:
        """Close every connection and fail the calls still waiting for one; idempotent."""
        self.closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._count += 1  # as _wake does: every None handed out is a reserved slot
                waiter.set_result(None)
        conns = [*self._idle, *self._busy]
        for conn in conns:
            if conn.waiter is not None and not conn.waiter.done():
                conn.waiter.set_exception(self._closed_during())
                conn.waiter = None
                conn.parser = None
            conn.abort()
        pending = [conn.lost for conn in conns if not conn.lost.done()]
        if pending:
            # Let the transports finish closing their sockets before the loop may end.
            await asyncio.wait(pending, timeout=_CLOSE_WAIT_SECONDS)


_DEFAULT_CONTEXT: ssl.SSLContext | None = None


class CABundleError(Exception):
    """The CA bundle (``AWS_CA_BUNDLE``) cannot be loaded; the message says why."""


_BUNDLE_CONTEXTS: dict[str, ssl.SSLContext] = {}


def tls_context(verify: bool | ssl.SSLContext, ca_bundle: str | None = None) -> ssl.SSLContext:
    """The TLS context for ``verify``: as given, unverified, trusting ``ca_bundle`` only, or
    the system's trust store. Verifying contexts are built once per process (per bundle).

    Raises:
        CABundleError: ``ca_bundle`` is missing or holds no usable certificate.
    """
    global _DEFAULT_CONTEXT
    if isinstance(verify, ssl.SSLContext):
        return verify
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_bundle is not None:
        cached = _BUNDLE_CONTEXTS.get(ca_bundle)
        if cached is None:
            try:
                cached = ssl.create_default_context(cafile=ca_bundle)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
                raise CABundleError(f"cannot load the CA bundle {ca_bundle!r}: {reason}") from exc
            _BUNDLE_CONTEXTS[ca_bundle] = cached
        return cached
    if _DEFAULT_CONTEXT is None:
        # Loading the trust store takes milliseconds: do it once, on the first https call.
        _DEFAULT_CONTEXT = ssl.create_default_context()
    return _DEFAULT_CONTEXT


def _discard_connection(task: asyncio.Task[tuple[asyncio.Transport, _Connection]]) -> None:
    # A connection that completed after its caller gave up on it: close it, unused.
    if not task.cancelled() and task.exception() is None:
        task.result()[1].abort()


def _check_lines(lines: str, count: int) -> None:
    # Each header line must end with the one CRLF we put there: anything else would let a
    # value start a new header (or a new request).
    if lines.count("\n") != count or lines.count("\r") != count or "\0" in lines:
        raise HTTPClientError(error="a header name or value contains CR, LF or NUL")


def _connect_error(exc: BaseException, public: str) -> AioSSOError:
    if isinstance(exc, asyncio.TimeoutError):
        return ConnectTimeoutError(endpoint_url=public)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SSLError(endpoint_url=public, error=exc.verify_message or str(exc))
    if isinstance(exc, ssl.SSLError):
        return SSLError(endpoint_url=public, error=exc.reason or str(exc))
    if isinstance(exc, (OSError, socket.gaierror)):
        return EndpointConnectionError(endpoint_url=public)
    return HTTPClientError(error=f"{type(exc).__name__} for {public}")


def public_url(url: str) -> str:
    """``url`` up to its query, for messages.

    The query holds only account ids, role names and page tokens, never a secret; still,
    page tokens can be long.
    """
    return url.split("?", 1)[0]
