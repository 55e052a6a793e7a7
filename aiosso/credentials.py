"""Role credentials as a value object, and a single-flight cache that serves them.

:class:`RoleCredentials` (defined in :mod:`aiosso._rolecreds`) is the parsed
``roleCredentials`` of ``GetRoleCredentials``: frozen, with the secret key and session token
kept out of ``repr()``, ``str()`` and the repr of ``attrs.asdict()``; it converts to the
formats other tools read (``credential_process`` JSON, environment variables).

:class:`CredentialCache` serves many concurrent callers from one client and one access token:
one request per (account, role) however many callers ask at once, reuse until shortly before
expiry, bounded memory.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeAlias

import attrs

from aiosso._rolecreds import RoleCredentials, _iso
from aiosso.exceptions import AioSSOError, ClientClosedError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "CacheStats",
    "CredentialCache",
    "CredentialStore",
    "RoleCredentials",
    "RoleCredentialsSource",
    "SharedScope",
    "TokenProvider",
    "TokenSource",
]

log = logging.getLogger("aiosso.credentials")


class SharedScope(Protocol):
    """The credentials of one access token in a store shared by processes."""

    def fetch(
        self,
        account_id: str,
        role_name: str,
        fetch: Callable[[], Awaitable[tuple[RoleCredentials, float]]],
        usable: Callable[[RoleCredentials, float], bool],
        keep_for: Callable[[RoleCredentials], float],
    ) -> Awaitable[tuple[RoleCredentials, float, str]]:
        """Stored, waited-for or fetched credentials, when fetched, and how (see
        :meth:`aiosso.fleet.SharedCredentials.fetch`)."""


class CredentialStore(Protocol):
    """Where caches of many processes share credentials: :class:`aiosso.fleet.RedisStore`."""

    def scope(self, access_token: str) -> SharedScope:
        """The shared credentials of one access token."""


class TokenProvider(Protocol):
    """Anything with ``await get_token()`` giving an object with ``access_token``:
    :class:`~aiosso.SSOTokenProvider`."""

    def get_token(self) -> Awaitable[Any]:
        """The current token."""


TokenSource: TypeAlias = "TokenProvider | Callable[[], Awaitable[str]]"
"""What ``CredentialCache(token_source=...)`` takes: an :class:`~aiosso.SSOTokenProvider` (or
anything with its ``get_token()``), or an async callable returning the current access
token."""


class RoleCredentialsSource(Protocol):
    """What the cache needs of a client: :class:`~aiosso.AsyncSSOClient` satisfies it."""

    def get_role_credentials(
        self, *, roleName: str, accountId: str, accessToken: str
    ) -> Awaitable[Mapping[str, Any]]:
        """``GetRoleCredentials``: the ``{"roleCredentials": {...}}`` response dict."""


@attrs.frozen(kw_only=True)
class CacheStats:
    """Counters of a :class:`CredentialCache` since it was created.

    Attributes:
        hits: ``get()`` calls answered from the cache without waiting.
        misses: ``get()`` calls that waited for a fetch (started or joined one).
        fetches: fetches started: each makes one ``get_role_credentials`` call (retries inside
            the client not counted), unless the shared store answers it (``store_hits``,
            ``store_waits``).
        failures: fetches that failed (including those answered from the cache).
        stale_served: failed refreshes answered with still-valid cached credentials.
        evictions: entries dropped to stay within ``max_entries``.
        entries: credentials held now.
        in_flight: fetches running now.
        store_hits: fetches answered by the shared store (no request).
        store_waits: fetches answered by another process's request, waited for.
        store_takeovers: requests made after waiting for another process's fetch that ended
            without credentials (it failed, or its owner died and the lock expired).
        store_fallbacks: fetches that met Redis trouble and requested in-process instead.
    """

    hits: int
    misses: int
    fetches: int
    failures: int
    stale_served: int
    evictions: int
    entries: int
    in_flight: int
    store_hits: int = 0
    store_waits: int = 0
    store_takeovers: int = 0
    store_fallbacks: int = 0


@attrs.define(slots=True)
class _Slot:
    credentials: RoleCredentials
    # Epoch seconds from which a get() starts a refresh instead of answering at once.
    refresh_at: float


_Key = tuple[str, str]


@attrs.frozen
class _Failed:
    """A flight's error, handed to its waiters as a result (see the theory of operation)."""

    error: BaseException


class CredentialCache:
    """Role credentials for many concurrent callers: cached, refreshed ahead of expiry,
    one request per (account, role) at a time.

    Windows, for credentials expiring at ``E`` (``now`` from ``clock``):

    * ``now < E - refresh_margin``: ``get()`` answers from the cache, no I/O.
    * ``E - refresh_margin <= now < E - mandatory_margin``: ``get()`` fetches new credentials
      (single-flight). If the fetch fails, the cached ones are answered, a warning is logged
      (no secrets) and the next attempt waits ``refresh_retry_interval`` seconds.
    * ``now >= E - mandatory_margin``: ``get()`` fetches; a failure is raised.

    Credentials issued with less than ``2 * refresh_margin`` to live are refreshed at half
    their remaining life instead, so short-lived credentials are not fetched on every call.
    Errors are never cached: after a failed fetch with nothing usable cached, the next
    ``get()`` makes a new request.

    The cache does not own the client: close the client yourself, after the cache.

    Args:
        client: an :class:`~aiosso.AsyncSSOClient` (anything with its
            ``get_role_credentials``).
        accessToken: the SSO access token sent with every fetch; it appears in no repr,
            log line or message of the cache.
        token_source: instead of ``accessToken``, where each fetch takes the current token:
            an :class:`~aiosso.SSOTokenProvider` (which refreshes the session's token as it
            nears expiry) or an async callable returning the token. A cache that serves for
            hours thus outlives any one token; a token source that fails (the session can no
            longer be refreshed: log in) fails the fetch, and the next ``get()`` asks it again.
        refresh_margin: seconds before expiry from which credentials are refreshed
            (default 900, botocore's advisory window).
        mandatory_margin: seconds before expiry from which cached credentials are no longer
            answered when a refresh fails (default 600, botocore's mandatory window).
        refresh_retry_interval: seconds between refresh attempts while still-valid
            credentials are answered after a failure (default 60).
        max_entries: credentials held at most; the least recently used are dropped first.
        clock: the current time in epoch seconds (default ``time.time``); tests pass a fake.
        store: shares the credentials with the caches of other processes and hosts
            (:class:`aiosso.fleet.RedisStore`): one request per pair per refresh across all
            of them, with the same windows; this cache stays in front of it.

    Raises:
        ValueError: ``max_entries < 1``, a negative margin or interval, or
            ``mandatory_margin > refresh_margin``.
        TypeError: neither or both of ``accessToken`` and ``token_source``.
    """

    # Theory of operation (single-flight)
    # -----------------------------------
    # At most one fetch per key runs at a time, as a Task held in `_flights` (the "flight").
    # A get() that needs a fetch joins the key's flight or starts one, and waits on a future
    # of its own, listed in `_waiters[flight]`: cancelling one waiter cancels only that
    # future, never the shared fetch. (One plain future per waiter costs half of what
    # `asyncio.shield` does, which matters with thousands of concurrent callers.) The flight
    # stores its result in `_slots` itself, so the fetch completes and is cached even when
    # every waiter has gone. Its done-callback removes it from `_flights`, retrieves its
    # exception (a flight nobody awaits never warns) and answers every waiter still waiting:
    # with the credentials, or with an _Outcome carrying the error (a result, so a waiter
    # cancelled at that very moment leaves no "exception never retrieved"); errors are not
    # stored. `invalidate()` detaches matching flights (they still answer their waiters but no
    # longer write to the cache); `close()` cancels the flights, whose waiters then get
    # ClientClosedError.

    def __init__(
        self,
        client: RoleCredentialsSource,
        *,
        accessToken: str | None = None,  # camelCase, as the client's keyword arguments
        refresh_margin: float = 900.0,
        mandatory_margin: float = 600.0,
        refresh_retry_interval: float = 60.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.time,
        store: CredentialStore | None = None,
        token_source: TokenSource | None = None,
    ) -> None:
        if (accessToken is None) == (token_source is None):
            raise TypeError("CredentialCache takes accessToken or token_source (one of them)")
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        if mandatory_margin < 0 or refresh_retry_interval < 0:
            raise ValueError("margins and intervals must be >= 0")
        if mandatory_margin > refresh_margin:
            raise ValueError("mandatory_margin must not exceed refresh_margin")
        self._client = client
        self._token = accessToken
        self._token_source = token_source
        self._shared_store = store
        self._scopes: dict[str, SharedScope] = {}  # the store's, per token
        self._shared_counts = dict.fromkeys(("hit", "waited", "fetched", "takeover", "fallback"), 0)
        self._refresh_margin = refresh_margin
        self._mandatory_margin = mandatory_margin
        self._retry_interval = refresh_retry_interval
        self._max_entries = max_entries
        self._clock = clock
        self._slots: OrderedDict[_Key, _Slot] = OrderedDict()
        self._flights: dict[_Key, asyncio.Task[RoleCredentials]] = {}
        self._waiters: dict[
            asyncio.Task[RoleCredentials], list[asyncio.Future[RoleCredentials | _Failed]]
        ] = {}
        self._closed = False
        self._hits = self._misses = self._fetches = 0
        self._failures = self._stale_served = self._evictions = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<CredentialCache entries={len(self._slots)}/{self._max_entries} "
            f"in_flight={len(self._flights)} hits={self._hits} fetches={self._fetches} {state}>"
        )

    def __len__(self) -> int:
        """Credentials held (fresh or not; expired ones stay until replaced or evicted)."""
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        """Whether credentials for an ``(account_id, role_name)`` pair are held."""
        return key in self._slots

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the counters (see :class:`CacheStats`)."""
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            fetches=self._fetches,
            failures=self._failures,
            stale_served=self._stale_served,
            evictions=self._evictions,
            entries=len(self._slots),
            in_flight=len(self._flights),
            store_hits=self._shared_counts["hit"],
            store_waits=self._shared_counts["waited"],
            store_takeovers=self._shared_counts["takeover"],
            store_fallbacks=self._shared_counts["fallback"],
        )

    # ------------------------------------------------------------------ lookups

    async def get(self, account_id: str, role_name: str) -> RoleCredentials:
        """Credentials for a role, from the cache or from one shared request.

        Args:
            account_id: the 12-digit account id.
            role_name: the role (permission set) name.

        Returns:
            Credentials valid for at least ``refresh_margin`` seconds when freshly fetched
            (or for at least ``mandatory_margin`` when a failed refresh falls back to the
            cache); concurrent callers for the same pair get the same object.

        Raises:
            ClientClosedError: the cache was closed (before or during the call).
            ClientError, HTTPClientError, ParamValidationError, ResponseParserError: the
                fetch failed and nothing usable was cached; every caller waiting on that
                fetch gets the same error.
        """
        if self._closed:
            self._raise_closed()
        key = (account_id, role_name)
        slot = self._slots.get(key)
        if slot is not None and self._clock() < slot.refresh_at:
            self._slots.move_to_end(key)
            self._hits += 1
            return slot.credentials
        self._misses += 1
        flight = self._flights.get(key)
        if flight is None:
            flight = self._start(key, slot)
        waiter: asyncio.Future[RoleCredentials | _Failed] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters[flight].append(waiter)
        outcome = await waiter
        if isinstance(outcome, _Failed):
            raise outcome.error
        return outcome

    async def get_many(
        self, pairs: Iterable[tuple[str, str]], *, max_concurrency: int = 10
    ) -> dict[tuple[str, str], RoleCredentials]:
        """Credentials for many pairs, at most ``max_concurrency`` fetches at a time.

        Args:
            pairs: ``(account_id, role_name)`` pairs; duplicates are fetched once.
            max_concurrency: concurrent ``get()`` calls (cache hits do not wait).

        Returns:
            ``{(account_id, role_name): RoleCredentials}`` in the order pairs were first given.

        Raises:
            ValueError: ``max_concurrency < 1``.
            ClientError, HTTPClientError, ParamValidationError, ResponseParserError: as
                :meth:`get`: the first failure; the other lookups are then cancelled (fetches
                already started still complete and are cached).
        """
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        keys = list(dict.fromkeys(pairs))
        results: dict[_Key, RoleCredentials] = {}
        pending = iter(keys)

        async def worker() -> None:
            for account_id, role_name in pending:
                results[account_id, role_name] = await self.get(account_id, role_name)

        workers = [asyncio.ensure_future(worker()) for _ in range(min(max_concurrency, len(keys)))]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        return {key: results[key] for key in keys}

    # ------------------------------------------------------------------ invalidation

    def invalidate(self, account_id: str | None = None, role_name: str | None = None) -> int:
        """Drop cached credentials matching the filters (``None`` matches anything).

        Fetches in flight for matching pairs still answer their current waiters but are
        not stored; the next ``get()`` starts a new fetch. With a shared ``store``, only this
        process's copies are dropped: the next fetch may be answered by the store until the
        entry expires there.

        Args:
            account_id: only this account.
            role_name: only this role.

        Returns:
            The number of cached credentials dropped.
        """

        def matches(key: _Key) -> bool:
            return (account_id is None or key[0] == account_id) and (
                role_name is None or key[1] == role_name
            )

        for key in [k for k in self._flights if matches(k)]:
            del self._flights[key]
        doomed = [k for k in self._slots if matches(k)]
        for key in doomed:
            del self._slots[key]
        return len(doomed)

    def clear(self) -> None:
        """Drop every cached credential (and detach fetches in flight, as :meth:`invalidate`)."""
        self.invalidate()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        if self._closed:
            self._raise_closed()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel the fetches in flight, drop the cached credentials; idempotent.

        Callers waiting on a cancelled fetch get :class:`~aiosso.ClientClosedError`; later
        ``get()`` calls too. The client is not closed.
        """
        self._closed = True
        # Every flight not landed yet, those invalidate() detached included.
        flights = list(self._waiters)
        self._flights.clear()
        self._slots.clear()
        for flight in flights:
            flight.cancel()
        if flights:
            await asyncio.gather(*flights, return_exceptions=True)

    @staticmethod
    def _raise_closed() -> NoReturn:
        raise ClientClosedError(message="This credential cache has been closed.")

    # ------------------------------------------------------------------ the flight

    def _start(self, key: _Key, previous: _Slot | None) -> asyncio.Task[RoleCredentials]:
        flight = asyncio.get_running_loop().create_task(
            self._fetch(key, previous), name=f"aiosso-credentials-{key[0]}-{key[1]}"
        )
        self._flights[key] = flight
        self._waiters[flight] = []
        self._fetches += 1
        flight.add_done_callback(lambda task: self._landed(key, task))
        return flight

    def _landed(self, key: _Key, flight: asyncio.Task[RoleCredentials]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        waiters = self._waiters.pop(flight, ())
        outcome: RoleCredentials | _Failed
        if flight.cancelled():
            if not self._closed:  # the loop is shutting down: so are the waiters
                for waiter in waiters:
                    waiter.cancel()
                return
            outcome = _Failed(
                ClientClosedError(message="The credential cache was closed while fetching.")
            )
        else:
            error = flight.exception()  # retrieved here: a flight nobody awaits never warns
            outcome = flight.result() if error is None else _Failed(error)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(outcome)

    def _owns(self, key: _Key) -> bool:
        return self._flights.get(key) is asyncio.current_task()

    async def _current_token(self) -> str:
        if self._token is not None:
            return self._token
        source = self._token_source
        get_token = getattr(source, "get_token", None)
        if get_token is not None:
            return str((await get_token()).access_token)
        assert callable(source)
        return str(await source())

    def _scope(self, token: str) -> SharedScope | None:
        store = self._shared_store
        if store is None:
            return None
        scope = self._scopes.get(token)
        if scope is None:
            if len(self._scopes) >= 4:  # old tokens' scopes: a token lives about an hour
                self._scopes.clear()
            scope = self._scopes[token] = store.scope(token)
        return scope

    async def _request(
        self, account_id: str, role_name: str, token: str
    ) -> tuple[RoleCredentials, float]:
        response = await self._client.get_role_credentials(
            roleName=role_name, accountId=account_id, accessToken=token
        )
        credentials = RoleCredentials.from_response(
            response, account_id=account_id, role_name=role_name
        )
        return credentials, self._clock()

    def _refresh_at(self, credentials: RoleCredentials, fetched_at: float) -> float:
        expires = credentials.expiration.timestamp()
        lifetime = max(expires - fetched_at, 0.0)
        return expires - min(self._refresh_margin, lifetime / 2)

    def _usable(self, credentials: RoleCredentials, fetched_at: float) -> bool:
        return self._clock() < self._refresh_at(credentials, fetched_at)

    def _keep_for(self, credentials: RoleCredentials) -> float:
        return credentials.expiration.timestamp() - self._mandatory_margin - self._clock()

    async def _fetch(self, key: _Key, previous: _Slot | None) -> RoleCredentials:
        account_id, role_name = key
        try:
            token = await self._current_token()
            shared = self._scope(token)
            if shared is None:
                credentials, fetched_at = await self._request(account_id, role_name, token)
            else:
                credentials, fetched_at, how = await shared.fetch(
                    account_id,
                    role_name,
                    functools.partial(self._request, account_id, role_name, token),
                    self._usable,
                    self._keep_for,
                )
                self._shared_counts[how] += 1
        except asyncio.CancelledError:
            if self._closed:
                raise ClientClosedError(
                    message="The credential cache was closed while fetching credentials."
                ) from None
            raise
        except Exception as error:
            self._failures += 1
            return self._fallback(key, previous, error)
        if self._owns(key):
            self._store(key, _Slot(credentials, self._refresh_at(credentials, fetched_at)))
        return credentials

    def _fallback(self, key: _Key, previous: _Slot | None, error: Exception) -> RoleCredentials:
        now = self._clock()
        if previous is not None:
            usable_until = previous.credentials.expiration.timestamp() - self._mandatory_margin
            if now < usable_until:
                self._stale_served += 1
                if self._owns(key):
                    retry_at = min(now + self._retry_interval, usable_until)
                    self._store(key, _Slot(previous.credentials, retry_at))
                log.warning(
                    "Refreshing credentials for account %s role %s failed (%s); serving the "
                    "cached ones, which expire at %s",
                    key[0],
                    key[1],
                    _describe(error),
                    _iso(previous.credentials.expiration),
                )
                return previous.credentials
            if self._owns(key) and self._slots.get(key) is previous:
                del self._slots[key]
        raise error

    def _store(self, key: _Key, slot: _Slot) -> None:
        self._slots[key] = slot
        self._slots.move_to_end(key)
        while len(self._slots) > self._max_entries:
            self._slots.popitem(last=False)
            self._evictions += 1


def _describe(error: Exception) -> str:
    # aiosso messages never carry secrets; other exceptions are named, not quoted.
    if isinstance(error, AioSSOError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__
