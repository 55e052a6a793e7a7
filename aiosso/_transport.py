"""The thin aiohttp adapter, and the one place where aiohttp/asyncio errors become aiosso's.

It owns the ``aiohttp.ClientSession`` it creates (lazily, inside the running loop) and
never closes one it was given.
"""

from __future__ import annotations

import asyncio
from typing import Final

import aiohttp
from yarl import URL

from aiosso.exceptions import (
    ClientClosedError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

# aiohttp >= 3.10 tells connect and read timeouts apart by class; older ones by message.
_CONNECT_TIMEOUT: Final[tuple[type[BaseException], ...]] = tuple(
    cls for cls in (getattr(aiohttp, "ConnectionTimeoutError", None),) if cls is not None
)

Reply = tuple[int, dict[str, str], bytes]


class Transport:
    """Sends one HTTP exchange and returns ``(status, lower-cased headers, body)``."""

    __slots__ = ("_closed", "_limit", "_owns", "_session", "_timeout")

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        connect_timeout: float,
        read_timeout: float,
        max_pool_connections: int,
    ) -> None:
        self._session = session
        self._owns = session is None
        self._closed = False
        self._limit = max_pool_connections
        # No total timeout: waiting for a free pooled connection is not a network timeout.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )

    @property
    def owns_open_session(self) -> bool:
        """True while a session this transport created is open."""
        return self._owns and self._session is not None and not self._session.closed

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0)
        # No cookies (the API sets none), and no automatic Accept header: botocore sends none.
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Accept",),
            timeout=self._timeout,
        )
        return self._session

    async def send(self, method: str, url: str, headers: dict[str, str]) -> Reply:
        """Perform one exchange; never raises anything but aiosso errors or cancellation.

        Raises:
            ClientClosedError: the transport, or the session it was given, is closed.
            HTTPClientError: (a subclass naming the URL) the exchange failed.
        """
        if self._closed:
            raise ClientClosedError(message="This client has been closed; create a new one.")
        session = self._session
        if session is None:
            session = self._open()
        elif session.closed:
            raise ClientClosedError(
                message="The aiohttp session given to this client has been closed."
            )
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
                raise_for_status=False,
            ) as resp:
                body = await resp.read()
                out: dict[str, str] = {}
                for key, value in resp.headers.items():
                    key = key.lower()
                    out[key] = f"{out[key]}, {value}" if key in out else value
                return resp.status, out, body
        except aiohttp.ServerTimeoutError as exc:
            if isinstance(exc, _CONNECT_TIMEOUT) or "Connection timeout" in str(exc):
                raise ConnectTimeoutError(endpoint_url=_public(url)) from exc
            raise ReadTimeoutError(endpoint_url=_public(url)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise EndpointConnectionError(endpoint_url=_public(url)) from exc
        except (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientOSError,
        ) as exc:
            raise ConnectionClosedError(endpoint_url=_public(url)) from exc
        except asyncio.TimeoutError as exc:
            raise ReadTimeoutError(endpoint_url=_public(url)) from exc
        except aiohttp.ClientError as exc:
            raise HTTPClientError(error=f"{type(exc).__name__} for {_public(url)}") from exc
        except RuntimeError as exc:
            if session.closed:
                raise ClientClosedError(message="The aiohttp session has been closed.") from exc
            raise

    async def close(self) -> None:
        """Close the session if this transport created it; idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if self._owns and session is not None and not session.closed:
            await session.close()


def _public(url: str) -> str:
    # The query holds only account ids, role names and page tokens, never a secret; still,
    # page tokens can be long, so messages name the URL up to the query.
    return url.split("?", 1)[0]
