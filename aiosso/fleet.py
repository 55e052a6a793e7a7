"""Credentials and the portal's rate, shared by every process of a fleet on Redis or Valkey.

Optional: ``pip install 'aiosso[redis]'`` brings ``redis`` (its ``redis.asyncio`` client) and
``cryptography``. Without them, importing this module raises an :class:`ImportError` that
names the extra; ``import aiosso`` never imports it.

::

    store = RedisStore.from_url("redis://127.0.0.1:6379/0", namespace="myapp")
    budget = store.rate_budget(rate=20, burst=5)
    async with AsyncSSOClient(region_name="us-east-1", rate_budget=budget) as sso:
        async with CredentialCache(sso, accessToken=token, store=store) as cache:
            creds = await cache.get("111122223333", "ReadOnly")
    await store.close()

Credentials (:meth:`RedisStore.scope`, used by :class:`~aiosso.CredentialCache`):

* One ``GetRoleCredentials`` per (access token, account, role) per refresh, fleet-wide. The
  process that takes the pair's lock (``redis.asyncio.lock.Lock``: an owner id, an expiry,
  released by a server-side compare-and-delete) fetches, stores the result and publishes on
  the pair's channel; the others subscribe and wait, re-reading the value on the message or,
  as a backstop, every :data:`POLL_SECONDS`. The lock lives ``lock_ttl`` seconds and is
  extended while its owner fetches; if the owner dies, a waiter takes over within
  ``lock_ttl + POLL_SECONDS`` seconds.
* Entries expire in Redis at their credentials' expiration minus the cache's mandatory
  margin (``SET ... PX``): nothing sweeps.
* At rest, nothing is readable without the access token. Key names are
  ``<namespace>:c:<hex>``, ``<namespace>:l:<hex>`` (lock) and ``<namespace>:n:<hex>``
  (channel), where ``<hex>`` is an HMAC-SHA256 of the account id and role name under a key
  derived from the token (HKDF-SHA256): no token, account id or role name appears in them.
  Values are AES-256-GCM ciphertexts under another key derived from the token, with a
  random 96-bit nonce per write and the key name as associated data. A process holding
  another token derives other names and keys: it sees a miss. A value that does not
  decrypt or parse is a miss, and the next fetch overwrites it.
* Redis trouble degrades, never fails: every Redis operation is bounded by
  ``operation_timeout`` and tried once (no retries inside the client); on any failure the
  lookup falls back to fetching in-process (the cache's own single-flight still applies),
  a warning is logged at most once a minute, and the next lookup tries Redis again (the
  client reconnects by itself).

The rate (:meth:`RedisStore.rate_budget`): every client given the same budget draws from one
bucket per (namespace, operation), kept by one server-side script (GCRA on the server's
clock). With Redis down, each process paces itself at the budget's rate on its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

try:
    import redis.asyncio as aioredis
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from redis.asyncio.lock import Lock
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import LockError, RedisError, ResponseError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        f"aiosso.fleet needs the 'redis' extra: pip install 'aiosso[redis]' (missing: {exc.name})"
    ) from exc

from aiosso.credentials import RoleCredentials

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["POLL_SECONDS", "RateBudget", "RedisStore", "SharedCredentials"]

log = logging.getLogger("aiosso.fleet")

#: How often a process waiting for another's fetch re-reads the value without a message.
POLL_SECONDS: Final = 0.5
_WARN_EVERY: Final = 60.0
_LOCAL_SECONDS: Final = 5.0  # how long a rate budget paces in-process after Redis trouble
_FORMAT: Final = 1  # the first byte of every value
_NONCE: Final = 12
# Redis trouble, as redis-py and asyncio report it.
_TROUBLE: Final = (RedisError, OSError, asyncio.TimeoutError)


def _no_client_setinfo() -> dict[str, None]:
    # redis-py names itself to the server on every new connection (CLIENT SETINFO), reading
    # its own package metadata each time: milliseconds of CPU and a round trip per connection.
    import inspect

    from redis.asyncio.connection import AbstractConnection

    if "driver_info" in inspect.signature(AbstractConnection.__init__).parameters:
        return {"driver_info": None}  # redis >= 7.1; lib_name/lib_version are deprecated
    return {"lib_name": None, "lib_version": None}


_NO_CLIENT_SETINFO: Final = _no_client_setinfo()


def _derive(token: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"aiosso-fleet-v1", info=purpose).derive(
        token.encode()
    )


class _Warner:
    """Logs Redis trouble at most once per :data:`_WARN_EVERY` seconds, never its details'
    secrets (redis-py's messages name host and port, never a password)."""

    def __init__(self) -> None:
        self._next = 0.0

    def __call__(self, what: str, error: BaseException) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + _WARN_EVERY
        log.warning(
            "Redis unavailable (%s: %s); %s. Retrying with the next operation.",
            type(error).__name__,
            str(error)[:200],
            what,
        )


class RedisStore:
    """A Redis (or Valkey) server shared by every process of a fleet.

    Args:
        client: a ``redis.asyncio.Redis`` to use as given (and not close), or None with
            :meth:`from_url`.
        namespace: the prefix of every key and channel, so that applications share a server
            without sharing data.
        operation_timeout: seconds any one Redis operation may take before the store falls
            back to in-process behaviour for that lookup.
        lock_ttl: seconds a fetch lock lives unless its owner extends it; a crashed owner
            delays the others by at most this (plus :data:`POLL_SECONDS`).

    Raises:
        ValueError: an empty namespace or a non-positive timeout.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        namespace: str = "aiosso",
        operation_timeout: float = 0.5,
        lock_ttl: float = 15.0,
        _owned: bool = False,
    ) -> None:
        if not namespace:
            raise ValueError("namespace must not be empty")
        if not (operation_timeout > 0 and lock_ttl > 0):
            raise ValueError("operation_timeout and lock_ttl must be greater than 0")
        self._redis = client
        self._owned = _owned
        self._namespace = namespace
        self._timeout = operation_timeout
        self._lock_ttl = lock_ttl
        self._warn = _Warner()
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "aiosso",
        operation_timeout: float = 0.5,
        lock_ttl: float = 15.0,
        **redis_options: Any,
    ) -> RedisStore:
        """A store on a new ``redis.asyncio`` client for ``url``, closed by :meth:`close`.

        ``redis://``, ``rediss://`` (TLS) and ``unix://`` URLs work, with a user and password
        in the URL if the server wants them (never logged). Each operation is tried once and
        bounded by ``operation_timeout``; ``redis_options`` go to ``Redis.from_url``.
        """
        options: dict[str, Any] = {
            "socket_timeout": operation_timeout,
            "socket_connect_timeout": operation_timeout,
            # A pooled connection the server dropped (a restart) is retried once, at once;
            # nothing else is: a hung server costs one operation_timeout, then we fall back.
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            **_NO_CLIENT_SETINFO,
        }
        options.update(redis_options)
        client = aioredis.Redis.from_url(url, **options)
        return cls(
            client,
            namespace=namespace,
            operation_timeout=operation_timeout,
            lock_ttl=lock_ttl,
            _owned=True,
        )

    def __repr__(self) -> str:  # no URL: it may hold a password
        state = "closed" if self._closed else "open"
        return f"<RedisStore namespace={self._namespace!r} {state}>"

    @property
    def redis(self) -> aioredis.Redis:
        """The ``redis.asyncio`` client (for health checks and tests)."""
        return self._redis

    @property
    def namespace(self) -> str:
        """The prefix of every key and channel."""
        return self._namespace

    def scope(self, access_token: str) -> SharedCredentials:
        """The shared credentials of one access token (what ``CredentialCache`` uses)."""
        return SharedCredentials(self, access_token)

    def rate_budget(self, *, rate: float, burst: int = 1) -> RateBudget:
        """One request budget for every client given it, per operation, fleet-wide.

        Args:
            rate: requests per second allowed per operation, across the fleet.
            burst: requests that may go at once after a quiet spell (at least 1).
        """
        return RateBudget(self, rate=rate, burst=burst)

    async def close(self) -> None:
        """Close the Redis client if :meth:`from_url` made it; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owned:
            await self._redis.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _key(self, kind: str, digest: str) -> str:
        return f"{self._namespace}:{kind}:{digest}"


class SharedCredentials:
    """Credentials of one access token, shared through a :class:`RedisStore`.

    Made by :meth:`RedisStore.scope`; :class:`~aiosso.CredentialCache` calls :meth:`fetch`.
    """

    def __init__(self, store: RedisStore, access_token: str) -> None:
        self._store = store
        self._names = _derive(access_token, b"key names")
        self._aead = AESGCM(_derive(access_token, b"values"))

    def __repr__(self) -> str:
        return f"<SharedCredentials namespace={self._store.namespace!r}>"

    def digest(self, account_id: str, role_name: str) -> str:
        """The keyed digest that names a pair's key, lock and channel."""
        pair = f"{account_id}\0{role_name}".encode()
        return hmac.new(self._names, pair, hashlib.sha256).hexdigest()

    async def fetch(
        self,
        account_id: str,
        role_name: str,
        fetch: Callable[[], Awaitable[tuple[RoleCredentials, float]]],
        usable: Callable[[RoleCredentials, float], bool],
        keep_for: Callable[[RoleCredentials], float],
    ) -> tuple[RoleCredentials, float, str]:
        """Credentials for a pair: from the store, from another process's fetch, or fetched.

        Args:
            fetch: calls the portal (run by at most one process at a time per pair) and
                returns the credentials with the time they were fetched (epoch seconds).
            usable: whether stored credentials fetched at a time (epoch seconds) may be
                answered now.
            keep_for: seconds the store should keep fresh credentials.

        Returns:
            ``(credentials, fetched at, how)``, how being ``"hit"`` (stored), ``"waited"``
            (another process fetched), ``"fetched"``, ``"takeover"`` (fetched after another
            process's lock expired) or ``"fallback"`` (Redis trouble; fetched in-process).

        Raises:
            Exception: whatever ``fetch`` raises.
        """
        store = self._store
        digest = self.digest(account_id, role_name)
        name = store._key("c", digest)
        fetched: tuple[RoleCredentials, float] | None = None
        waited = False
        try:
            stored = await self._read(name, account_id, role_name)
            if stored is not None and usable(*stored):
                return (*stored, "hit")
            while True:
                lock = Lock(
                    store._redis, store._key("l", digest), timeout=store._lock_ttl, blocking=False
                )
                if await lock.acquire(token=uuid.uuid4().hex):
                    try:
                        stored = await self._read(name, account_id, role_name)
                        if stored is not None and usable(*stored):
                            return (*stored, "waited" if waited else "hit")
                        try:
                            fetched = await self._fetch_holding(
                                lock, store._key("n", digest), fetch
                            )
                        except Exception as error:
                            raise _PortalFailure(error) from None
                        await self._write(name, *fetched, keep_for(fetched[0]))
                        await store._redis.publish(store._key("n", digest), b"1")
                    finally:
                        await _release(lock)
                    return (*fetched, "takeover" if waited else "fetched")
                waited = True
                stored = await self._wait(digest, name, account_id, role_name, usable)
                if stored is not None:
                    return (*stored, "waited")
        except _PortalFailure as failure:
            raise failure.error from failure.error.__cause__
        except _TROUBLE as error:
            store._warn("fetching credentials in-process", error)
            if fetched is not None:  # fetched, but Redis failed on the way out
                return (*fetched, "fallback")
            return (*(await fetch()), "fallback")

    async def _fetch_holding(
        self,
        lock: Lock,
        channel: str,
        fetch: Callable[[], Awaitable[tuple[RoleCredentials, float]]],
    ) -> tuple[RoleCredentials, float]:
        """``fetch()`` while the lock is extended in the background (a slow, throttled fetch
        must not let a second process start another)."""
        ttl = self._store._lock_ttl

        async def keep() -> None:
            while True:
                await asyncio.sleep(ttl / 3)
                try:
                    await lock.extend(ttl, replace_ttl=True)
                except (LockError, *_TROUBLE):
                    return

        keeper = asyncio.get_running_loop().create_task(keep())
        try:
            return await fetch()
        except BaseException:
            await _publish_quietly(self._store, lock, channel)
            raise
        finally:
            keeper.cancel()

    async def _wait(
        self,
        digest: str,
        name: str,
        account_id: str,
        role_name: str,
        usable: Callable[[RoleCredentials, float], bool],
    ) -> tuple[RoleCredentials, float] | None:
        """Wait for the lock's owner: the value, or None when the lock is gone without one."""
        store = self._store
        pubsub = store._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(store._key("n", digest))
            while True:
                stored = await self._read(name, account_id, role_name)
                if stored is not None and usable(*stored):
                    return stored
                if not await store._redis.exists(store._key("l", digest)):
                    return None  # released without a value, or expired: take over
                await pubsub.get_message(timeout=POLL_SECONDS)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read(
        self, name: str, account_id: str, role_name: str
    ) -> tuple[RoleCredentials, float] | None:
        try:
            raw = await self._store._redis.get(name)
        except ResponseError as error:
            if not str(error).startswith("WRONGTYPE"):
                raise
            return None  # another type of value: a miss, overwritten by the next SET
        if raw is None:
            return None
        try:
            if not isinstance(raw, bytes) or raw[:1] != bytes([_FORMAT]) or len(raw) <= 1 + _NONCE:
                raise ValueError("unknown format")
            plain = self._aead.decrypt(raw[1 : 1 + _NONCE], raw[1 + _NONCE :], name.encode())
            data = json.loads(plain)
            credentials = RoleCredentials(
                access_key_id=data["k"],
                secret_access_key=data["s"],
                session_token=data["t"],
                expiration=datetime.fromtimestamp(data["e"], timezone.utc),
                account_id=account_id,
                role_name=role_name,
            )
            return credentials, float(data["f"])
        except (InvalidTag, ValueError, TypeError, KeyError, IndexError, OverflowError):
            return None  # not ours, tampered with, or garbage: a miss, overwritten next

    async def _write(
        self, name: str, credentials: RoleCredentials, fetched_at: float, seconds: float
    ) -> None:
        millis = int(seconds * 1000)
        if millis <= 0:
            return
        plain = json.dumps(
            {
                "k": credentials.access_key_id,
                "s": str(credentials.secret_access_key),
                "t": str(credentials.session_token),
                "e": credentials.expiration.timestamp(),
                "f": fetched_at,
            }
        ).encode()
        nonce = os.urandom(_NONCE)
        sealed = bytes([_FORMAT]) + nonce + self._aead.encrypt(nonce, plain, name.encode())
        await self._store._redis.set(name, sealed, px=millis)


class _PortalFailure(Exception):
    """The portal fetch's own error, carried past the handler for Redis trouble (a
    ReadTimeoutError is a TimeoutError too)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


async def _release(lock: Lock) -> None:
    try:
        await lock.release()
    except (LockError, *_TROUBLE):
        pass  # expired meanwhile, or Redis is gone: it expires on its own


async def _publish_quietly(store: RedisStore, lock: Lock, channel: str) -> None:
    # A failed fetch wakes the waiters, so that one of them tries at once.
    await _release(lock)
    try:
        await store._redis.publish(channel, b"0")
    except _TROUBLE:
        pass


# GCRA: one "theoretical arrival time" per key, on the server's clock. Each call reserves the
# next slot and answers how many milliseconds to wait for it (0: go now).
_GCRA: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst * interval - now
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return tostring(wait)
"""


class RateBudget:
    """A request budget shared by every client given it: one bucket per operation.

    Made by :meth:`RedisStore.rate_budget`; pass it as ``AsyncSSOClient(rate_budget=...)``.
    Each request waits for its slot before it is sent; the client's adaptive limiter still
    applies on top. With Redis down or slow, each process keeps to ``rate`` on its own, and
    asks Redis again after a few seconds.
    """

    def __init__(self, store: RedisStore, *, rate: float, burst: int) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be greater than 0, got {rate!r}")
        if type(burst) is not int or burst < 1:
            raise ValueError(f"burst must be an integer of at least 1, got {burst!r}")
        self._store = store
        self._interval = 1000.0 / rate
        self._burst = burst
        self._script = store._redis.register_script(_GCRA)
        self._local: dict[str, float] = {}
        self._local_until = 0.0
        self.rate = rate
        self.burst = burst

    def __repr__(self) -> str:
        return f"<RateBudget rate={self.rate} burst={self.burst} {self._store!r}>"

    async def acquire(self, operation: str) -> None:
        """Wait until ``operation`` may send one request."""
        key = self._store._key("r", operation)
        if time.monotonic() < self._local_until:
            waited = self._local_wait(operation)
        else:
            try:
                script = self._script(keys=[key], args=[self._interval, self._burst])
                waited = float(await script)
            except _TROUBLE as error:
                # A hung server would cost every request operation_timeout: pace in-process
                # for a while before asking Redis again.
                self._local_until = time.monotonic() + _LOCAL_SECONDS
                self._store._warn("pacing requests in-process", error)
                waited = self._local_wait(operation)
        if waited > 0:
            await asyncio.sleep(waited / 1000)

    def _local_wait(self, operation: str) -> float:
        now = time.monotonic() * 1000
        tat = max(self._local.get(operation, now), now) + self._interval
        self._local[operation] = tat
        return max(0.0, tat - self._burst * self._interval - now)
