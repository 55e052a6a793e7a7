"""aiosso.fleet on a real redis-server: credentials shared by processes, the rate budget,
crashes, Redis trouble, hostile values and what is left in Redis afterwards.

Every test gets a redis-server of its own (``redis_server`` in conftest.py; it starts in
milliseconds), so that killing it or scanning every key concerns that test alone. "Another
process" is a real child process where that is the point of the test, and otherwise a
``RedisStore`` and ``CredentialCache`` of their own in this process (own connection pool, own
lock tokens): the store cannot tell the difference.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from _redis import RedisServer

from aiosso import (
    AsyncSSOClient,
    ClientClosedError,
    ClientError,
    CredentialCache,
    RoleCredentials,
)
from aiosso.fleet import POLL_SECONDS, RedisStore
from aiosso.testing import Faults, PortalEmulator, RateLimit

# Every test: nothing left for the garbage collector to warn about (sockets, transports).
pytestmark = pytest.mark.usefixtures("no_resource_warnings")

NAMESPACE = "fleet-test"
CREDENTIALS = "GetRoleCredentials"

StoreFactory = Callable[..., RedisStore]
Pair = tuple[str, str]


class FakeClock:
    """Epoch seconds that start at the real time and move only when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def emu() -> AsyncIterator[PortalEmulator]:
    """Five accounts of four roles: 20 (account, role) pairs."""
    async with PortalEmulator(accounts=5, roles_per_account=4) as emulator:
        yield emulator


@pytest.fixture
def pairs(emu: PortalEmulator) -> list[Pair]:
    """Every (account, role) pair of the emulator's organisation."""
    return [(a.account_id, r) for a in emu.organisation.accounts for r in a.roles]


@pytest.fixture
async def sso(emu: PortalEmulator) -> AsyncIterator[AsyncSSOClient]:
    """A client on the emulator (default retries)."""
    async with AsyncSSOClient(region_name="us-east-1", endpoint_url=emu.url) as client:
        yield client


@pytest.fixture
async def new_store(redis_server: RedisServer) -> AsyncIterator[StoreFactory]:
    """``new_store(**options)``: a RedisStore on the test's server (``namespace=NAMESPACE``,
    ``lock_ttl=1.0`` unless given), each one as another process would have; closed after."""
    made: list[RedisStore] = []

    def factory(**options: Any) -> RedisStore:
        options.setdefault("namespace", NAMESPACE)
        options.setdefault("lock_ttl", 1.0)
        store = RedisStore.from_url(redis_server.url, **options)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.close()


@pytest.fixture
async def inspector(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain redis client to look at (and tamper with) the server behind the store's back."""
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def fleet_warnings(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """The warnings aiosso.fleet has logged so far in the test."""
    caplog.set_level(logging.WARNING, logger="aiosso.fleet")

    def records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "aiosso.fleet"]

    return records


def key_of(store: RedisStore, token: str, kind: str, pair: Pair) -> str:
    """The name of a pair's value (``c``), lock (``l``) or channel (``n``)."""
    return f"{store.namespace}:{kind}:{store.scope(token).digest(*pair)}"


def requests(emu: PortalEmulator) -> int:
    """GetRoleCredentials requests the emulator has received."""
    return emu.stats.requests.get(CREDENTIALS, 0)


def portal_calls(*caches: CredentialCache) -> int:
    """Requests made by these caches: fetches not answered by the store (see CacheStats)."""
    return sum(c.stats.fetches - c.stats.store_hits - c.stats.store_waits for c in caches)


def same(credentials: RoleCredentials, other: RoleCredentials) -> bool:
    """The same credentials (from the same request), whichever process parsed them."""
    return (
        credentials.access_key_id == other.access_key_id
        and str(credentials.secret_access_key) == str(other.secret_access_key)
        and str(credentials.session_token) == str(other.session_token)
        and credentials.expiration == other.expiration
    )


async def until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    """Wait (polling) until ``await condition()`` or ``condition()`` is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def subscribers(inspector: aioredis.Redis, channel: str) -> int:
    """Clients subscribed to ``channel`` now."""
    [(_, count)] = await inspector.pubsub_numsub(channel)
    return int(count)


# --------------------------------------------------------------------------- child processes

# A fleet member: reads its settings as one JSON line on stdin, says "ready", waits for "go",
# makes `gets` concurrent get() calls over `pairs`, prints what it got (a fingerprint per pair,
# never the secrets themselves) and its cache's counters.
CHILD = r"""
import asyncio, hashlib, json, sys, time
import attrs
from aiosso import AsyncSSOClient, CredentialCache
from aiosso.fleet import RedisStore

async def main():
    cfg = json.loads(sys.stdin.readline())
    store = RedisStore.from_url(cfg["redis"], namespace=cfg["namespace"], lock_ttl=cfg["lock_ttl"])
    try:
        async with AsyncSSOClient(region_name="us-east-1", endpoint_url=cfg["portal"]) as sso:
            async with CredentialCache(sso, accessToken=cfg["token"], store=store) as cache:
                print("ready", flush=True)
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                pairs = [tuple(p) for p in cfg["pairs"]]
                started = time.monotonic()
                got = await asyncio.gather(
                    *(cache.get(*pairs[i % len(pairs)]) for i in range(cfg["gets"]))
                )
                elapsed = time.monotonic() - started
                seen = {}
                for c in got:
                    secret = f"{c.access_key_id}|{c.secret_access_key}|{c.session_token}"
                    fingerprint = hashlib.sha256(secret.encode()).hexdigest()
                    assert seen.setdefault(f"{c.account_id}/{c.role_name}", fingerprint) == (
                        fingerprint
                    ), "one process answered two credentials for one pair"
                result = {"credentials": seen, "stats": attrs.asdict(cache.stats), "s": elapsed}
                print(json.dumps(result), flush=True)
    finally:
        await store.close()

asyncio.run(main())
"""


class Child:
    """One fleet member running :data:`CHILD` with ``sys.executable``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(
        cls,
        *,
        redis_url: str,
        emu: PortalEmulator,
        pairs: list[Pair],
        gets: int,
        lock_ttl: float = 15.0,
    ) -> Child:
        """Start one and wait until it is ready (imported, connected, waiting for "go")."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        child = cls(process)
        settings = {
            "redis": redis_url,
            "namespace": NAMESPACE,
            "lock_ttl": lock_ttl,
            "portal": emu.url,
            "token": emu.token,
            "pairs": pairs,
            "gets": gets,
        }
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(settings).encode() + b"\n")
        await process.stdin.drain()
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if line.strip() != b"ready":
            await child.kill()
            raise AssertionError(f"the child did not start: {line!r}")
        return child

    async def go(self) -> None:
        """Let it make its gets."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()

    async def result(self) -> dict[str, Any]:
        """Its report, once it has exited cleanly (nothing on stderr)."""
        out, err = await asyncio.wait_for(self.process.communicate(), 30)
        assert self.process.returncode == 0, err.decode(errors="replace")
        assert err == b"", err.decode(errors="replace")
        report: dict[str, Any] = json.loads(out)
        return report

    async def kill(self) -> None:
        """SIGKILL it (a crash) and reap it."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.communicate()


@pytest.fixture
async def children() -> AsyncIterator[list[Child]]:
    """Where tests list their child processes; any still running is killed after the test."""
    started: list[Child] = []
    yield started
    for child in started:
        await child.kill()


# --------------------------------------------------------------------------- the API


async def test_api_as_in_the_issue(
    redis_server: RedisServer, emu: PortalEmulator, pairs: list[Pair]
) -> None:
    """The issue's snippet works as written: from_url, CredentialCache(store=), close()."""
    account, role = pairs[0]
    store = RedisStore.from_url(redis_server.url, namespace="myapp")
    async with AsyncSSOClient(region_name="us-east-1", endpoint_url=emu.url) as sso:
        async with CredentialCache(sso, accessToken=emu.token, store=store) as cache:
            creds = await cache.get(account, role)
    await store.close()
    assert (creds.account_id, creds.role_name) == (account, role)
    assert creds.access_key_id.startswith("ASIA")
    assert requests(emu) == 1
    await store.close()  # idempotent


async def test_store_repr_hides_the_url() -> None:
    """A store's repr names its namespace, never its URL (which may hold a password)."""
    store = RedisStore.from_url("redis://user:hunter2@127.0.0.1:6399/0", namespace="myapp")
    try:
        assert "myapp" in repr(store)
        assert "hunter2" not in repr(store)
        assert "6399" not in repr(store)
    finally:
        await store.close()


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_aiosso_imports_no_fleet() -> None:
    """``import aiosso`` imports neither aiosso.fleet, redis nor cryptography."""
    done = _python(
        "import sys, aiosso\n"
        "from aiosso import CredentialCache\n"
        "print(sorted(m for m in ('aiosso.fleet', 'redis', 'cryptography') if m in sys.modules))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("missing", ["redis", "cryptography"])
def test_fleet_without_the_extra_names_it(missing: str) -> None:
    """Without redis or cryptography, importing aiosso.fleet names the extra aiosso[redis]."""
    done = _python(
        f"import sys\nsys.modules[{missing!r}] = None  # not importable\n"
        "try:\n"
        "    import aiosso.fleet\n"
        "except ImportError as error:\n"
        "    print('ImportError:', error)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ImportError:")
    assert "aiosso[redis]" in done.stdout
    assert missing in done.stdout


# --------------------------------------------------------------------------- single-flight


async def test_processes_make_one_request_per_pair(
    redis_server: RedisServer,
    emu: PortalEmulator,
    pairs: list[Pair],
    children: list[Child],
    inspector: aioredis.Redis,
) -> None:
    """Four processes x 500 gets over 20 pairs make 20 requests in all, with equal answers."""
    # Slow answers, so that the four processes ask while the first requests are in flight.
    emu.faults = Faults(latency=0.3, operations=CREDENTIALS)
    for _ in range(4):
        children.append(
            await Child.start(redis_url=redis_server.url, emu=emu, pairs=pairs, gets=500)
        )
    await inspector.config_resetstat()
    for child in children:
        await child.go()
    reports = [await child.result() for child in children]

    assert requests(emu) == 20
    expected = {f"{a}/{r}" for a, r in pairs}
    assert all(set(report["credentials"]) == expected for report in reports)
    assert all(report["credentials"] == reports[0]["credentials"] for report in reports)
    stats = [report["stats"] for report in reports]
    assert all(s["hits"] + s["misses"] == 500 and s["fetches"] == 20 for s in stats)
    assert sum(s["fetches"] - s["store_hits"] - s["store_waits"] for s in stats) == 20
    assert sum(s["store_waits"] for s in stats) > 0  # they did wait for each other
    assert sum(s["store_takeovers"] + s["store_fallbacks"] for s in stats) == 0
    # Waiters are woken by a message, not by polling: a few reads per process and pair (a
    # waiter reads about four times, one more per POLL_SECONDS it waits; the owners' requests
    # go 10 at a time, so the second ten wait about two latencies).
    commands = await inspector.info("commandstats")
    assert commands["cmdstat_publish"]["calls"] == 20
    assert commands["cmdstat_get"]["calls"] <= 4 * 20 * 6


async def test_waiter_is_woken_by_the_owners_message(
    new_store: StoreFactory, emu: PortalEmulator, sso: AsyncSSOClient, pairs: list[Pair]
) -> None:
    """A waiter answers when the owner's fetch lands (its message), not at its next poll."""
    emu.faults = Faults(latency=0.1, operations=CREDENTIALS)
    loop = asyncio.get_running_loop()
    async with (
        CredentialCache(sso, accessToken=emu.token, store=new_store()) as owner,
        CredentialCache(sso, accessToken=emu.token, store=new_store()) as waiter,
    ):
        first = asyncio.create_task(owner.get(*pairs[0]))
        await until(lambda: emu.stats.in_flight == 1)
        second = asyncio.create_task(waiter.get(*pairs[0]))
        owned = await first
        landed = loop.time()
        waited = await second
        assert loop.time() - landed < POLL_SECONDS / 2
        assert same(owned, waited)
        assert waiter.stats.store_waits == 1
        assert requests(emu) == 1


async def test_in_process_cache_stays_in_front(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """Once a process holds credentials, its gets touch neither Redis nor the portal."""
    async with CredentialCache(sso, accessToken=emu.token, store=new_store()) as cache:
        await asyncio.gather(*(cache.get(*pair) for pair in pairs))
        before = cache.stats
        await inspector.config_resetstat()
        await asyncio.gather(*(cache.get(*pairs[i % 20]) for i in range(500)))
        commands = await inspector.info("commandstats")
        after = cache.stats
    # Nothing but the inspector's own CONFIG RESETSTAT and INFO.
    assert [c for c in commands if not c.startswith(("cmdstat_config", "cmdstat_info"))] == []
    assert after.hits - before.hits == 500
    assert after.fetches == before.fetches == 20
    assert requests(emu) == 20


async def test_other_cache_on_the_store_is_answered_from_redis(
    new_store: StoreFactory, emu: PortalEmulator, sso: AsyncSSOClient, pairs: list[Pair]
) -> None:
    """Another process gets the stored pairs from Redis: no request, the same credentials."""
    async with (
        CredentialCache(sso, accessToken=emu.token, store=new_store()) as first,
        CredentialCache(sso, accessToken=emu.token, store=new_store()) as second,
    ):
        fetched = await first.get_many(pairs)
        stored = await second.get_many(pairs)
        assert all(same(fetched[pair], stored[pair]) for pair in pairs)
        assert second.stats.store_hits == 20
        assert portal_calls(second) == 0
    assert requests(emu) == 20


# --------------------------------------------------------------------------- refresh windows


async def test_refresh_windows_are_shared(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """Entries live until expiration - mandatory_margin; one process refreshes past the window."""
    clock = FakeClock()
    store_a, store_b = new_store(), new_store()
    pair = pairs[0]
    name = key_of(store_a, emu.token, "c", pair)
    async with (
        CredentialCache(sso, accessToken=emu.token, store=store_a, clock=clock) as a,
        CredentialCache(sso, accessToken=emu.token, store=store_b, clock=clock) as b,
    ):
        first = await a.get(*pair)
        expected = first.expiration.timestamp() - 600 - clock()  # default mandatory margin
        assert abs(await inspector.pttl(name) / 1000 - expected) < 2
        assert same(await b.get(*pair), first)
        assert b.stats.store_hits == 1

        clock.advance(3600 - 900 + 1)  # past both caches' refresh windows (900 s margin)
        refreshed = await asyncio.gather(*(c.get(*pair) for c in (a, b) for _ in range(50)))
        assert requests(emu) == 2
        assert all(same(c, refreshed[0]) for c in refreshed)
        assert not same(refreshed[0], first)
        # Fresh credentials (an hour from real now) kept until 600 s before their expiry,
        # by the caches' clock, which is 2701 s ahead.
        expected = refreshed[0].expiration.timestamp() - 600 - clock()
        assert abs(await inspector.pttl(name) / 1000 - expected) < 2
        assert portal_calls(a, b) == 2


async def test_credentials_too_short_lived_are_not_stored(
    new_store: StoreFactory, sso: AsyncSSOClient, emu: PortalEmulator, pairs: list[Pair]
) -> None:
    """Credentials already inside the mandatory window are answered but never stored."""
    emu.credentials_ttl = 300  # less than the 600 s mandatory margin
    store = new_store()
    async with (
        CredentialCache(sso, accessToken=emu.token, store=store) as a,
        CredentialCache(sso, accessToken=emu.token, store=new_store()) as b,
    ):
        await a.get(*pairs[0])
        assert await store.redis.exists(key_of(store, emu.token, "c", pairs[0])) == 0
        await b.get(*pairs[0])
    assert requests(emu) == 2


# --------------------------------------------------------------------------- crashed owners


async def test_killed_owner_is_taken_over_once(
    redis_server: RedisServer,
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    children: list[Child],
    inspector: aioredis.Redis,
) -> None:
    """An owner SIGKILLed mid-fetch is taken over once, within lock_ttl + POLL_SECONDS."""
    lock_ttl = 1.0
    pair = pairs[0]
    a, b = new_store(lock_ttl=lock_ttl), new_store(lock_ttl=lock_ttl)
    lock = key_of(a, emu.token, "l", pair)
    emu.fail_next(CREDENTIALS, delay=60)  # the child's request hangs
    child = await Child.start(
        redis_url=redis_server.url, emu=emu, pairs=[pair], gets=1, lock_ttl=lock_ttl
    )
    children.append(child)
    await child.go()
    await until(lambda: emu.pending_failures == 0)
    assert await inspector.exists(lock)
    loop = asyncio.get_running_loop()
    async with (
        CredentialCache(sso, accessToken=emu.token, store=a) as cache_a,
        CredentialCache(sso, accessToken=emu.token, store=b) as cache_b,
    ):
        gets = [asyncio.create_task(c.get(*pair)) for c in (cache_a, cache_b) for _ in range(25)]
        await asyncio.sleep(lock_ttl * 1.5)  # the owner's keeper extends its lock
        assert not any(get.done() for get in gets)
        assert requests(emu) == 1

        await child.kill()
        killed = loop.time()
        results = await asyncio.wait_for(asyncio.gather(*gets), lock_ttl + POLL_SECONDS + 5)
        assert loop.time() - killed <= lock_ttl + POLL_SECONDS + 0.5
        assert all(same(r, results[0]) for r in results)
        assert cache_a.stats.store_takeovers + cache_b.stats.store_takeovers == 1
        assert cache_a.stats.store_waits + cache_b.stats.store_waits == 1
        assert requests(emu) == 2
    assert not await inspector.exists(lock)


async def test_failed_fetch_wakes_the_waiters_at_once(
    new_store: StoreFactory, emu: PortalEmulator, sso: AsyncSSOClient, pairs: list[Pair]
) -> None:
    """An owner whose request fails frees the lock and wakes the waiters: one fetches at once."""
    lock_ttl = 5.0
    pair = pairs[0]
    emu.fail_next(CREDENTIALS, status=403, code="ForbiddenException", delay=0.2)
    loop = asyncio.get_running_loop()
    async with (
        CredentialCache(sso, accessToken=emu.token, store=new_store(lock_ttl=lock_ttl)) as owner,
        CredentialCache(sso, accessToken=emu.token, store=new_store(lock_ttl=lock_ttl)) as waiter,
    ):
        failing = asyncio.create_task(owner.get(*pair))
        await until(lambda: emu.pending_failures == 0)
        waiting = asyncio.create_task(waiter.get(*pair))
        with pytest.raises(ClientError, match="ForbiddenException"):
            await failing
        failed = loop.time()
        creds = await asyncio.wait_for(waiting, lock_ttl)
        assert loop.time() - failed < POLL_SECONDS
        assert creds.account_id == pair[0]
        assert portal_calls(waiter) == 1
    assert requests(emu) == 2


async def test_dead_lock_is_taken_over_within_its_ttl(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """A lock whose owner died before fetching is taken over once, when it expires."""
    store = new_store(lock_ttl=0.6)
    pair = pairs[0]
    await inspector.set(key_of(store, emu.token, "l", pair), b"dead-owner", px=600)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with (
        CredentialCache(sso, accessToken=emu.token, store=store) as a,
        CredentialCache(sso, accessToken=emu.token, store=new_store(lock_ttl=0.6)) as b,
    ):
        results = await asyncio.wait_for(
            asyncio.gather(*(c.get(*pair) for c in (a, b) for _ in range(10))), 5
        )
        elapsed = loop.time() - started
        assert 0.5 <= elapsed <= 0.6 + POLL_SECONDS + 0.5
        assert all(same(r, results[0]) for r in results)
        assert a.stats.store_takeovers + b.stats.store_takeovers == 1
        assert requests(emu) == 1


# --------------------------------------------------------------------------- Redis trouble


async def test_redis_down_then_restarted(
    redis_server: RedisServer,
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    fleet_warnings: Callable[[], list[logging.LogRecord]],
) -> None:
    """With Redis down gets answer in-process with one warning; the same store then recovers."""
    store = new_store()
    redis_server.kill()
    async with CredentialCache(sso, accessToken=emu.token, store=store) as cache:
        results = await asyncio.wait_for(
            asyncio.gather(*(cache.get(*pairs[i % 20]) for i in range(200))), 10
        )
        assert {(c.account_id, c.role_name) for c in results} == set(pairs)
        assert cache.stats.store_fallbacks == 20
    assert requests(emu) == 20
    [warning] = fleet_warnings()
    assert "Redis unavailable" in warning.getMessage()
    assert emu.token not in warning.getMessage()

    await redis_server.restart()
    async with CredentialCache(sso, accessToken=emu.token, store=store) as again:
        await again.get_many(pairs)
        assert again.stats.store_fallbacks == 0
    async with CredentialCache(sso, accessToken=emu.token, store=store) as other:
        await other.get_many(pairs)
        assert other.stats.store_hits == 20
    assert requests(emu) == 40
    assert len(fleet_warnings()) == 1


async def test_store_works_at_once_after_a_restart(
    redis_server: RedisServer,
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
) -> None:
    """After a Redis restart, no lookup falls back on a connection pooled before it."""
    store = new_store()
    async with CredentialCache(sso, accessToken=emu.token, store=store) as before:
        await asyncio.gather(*(before.get(*pair) for pair in pairs))  # 20 pooled connections
    redis_server.kill()
    await redis_server.restart()
    async with CredentialCache(sso, accessToken=emu.token, store=store) as after:
        await asyncio.gather(*(after.get(*pair) for pair in pairs))
        assert after.stats.store_fallbacks == 0
    async with CredentialCache(sso, accessToken=emu.token, store=new_store()) as other:
        await other.get_many(pairs)
        assert other.stats.store_hits == 20
    assert requests(emu) == 40


async def test_redis_killed_mid_run(
    redis_server: RedisServer,
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """Redis killed while owners fetch and others wait: every get answers; the stores recover."""
    emu.faults = Faults(latency=0.3, operations=CREDENTIALS)
    a, b = new_store(), new_store()
    async with (
        CredentialCache(sso, accessToken=emu.token, store=a) as cache_a,
        CredentialCache(sso, accessToken=emu.token, store=b) as cache_b,
    ):
        gets = [asyncio.create_task(c.get(*pair)) for pair in pairs for c in (cache_a, cache_b)]
        # Owners fetching (the client sends 10 at a time), the others subscribed and waiting.
        await until(lambda: emu.stats.in_flight == 10)
        await until(lambda: subscribers(inspector, key_of(a, emu.token, "n", pairs[0])))
        redis_server.kill()
        results = await asyncio.wait_for(asyncio.gather(*gets), 10)
        for pair, creds in zip([p for p in pairs for _ in "ab"], results, strict=True):
            assert (creds.account_id, creds.role_name) == pair
        fallbacks = cache_a.stats.store_fallbacks + cache_b.stats.store_fallbacks
        assert fallbacks >= 20  # the waiters and the owners whose write failed

    emu.faults = None
    await redis_server.restart()
    async with (
        CredentialCache(sso, accessToken=emu.token, store=a) as again_a,
        CredentialCache(sso, accessToken=emu.token, store=b) as again_b,
    ):
        await asyncio.gather(*(again_a.get(*pair) for pair in pairs))
        await asyncio.gather(*(again_b.get(*pair) for pair in pairs))
        assert again_a.stats.store_fallbacks + again_b.stats.store_fallbacks == 0
        assert again_b.stats.store_hits == 20


async def test_hung_redis_costs_one_operation_timeout(
    redis_server: RedisServer,
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
) -> None:
    """With Redis hung (SIGSTOP), gets answer within operation_timeout + the portal's time."""
    store = new_store(operation_timeout=0.3)
    async with CredentialCache(sso, accessToken=emu.token, store=store) as warm:
        await warm.get_many(pairs[:10])
    redis_server.pause()
    loop = asyncio.get_running_loop()
    try:
        async with CredentialCache(sso, accessToken=emu.token, store=store) as cache:
            started = loop.time()
            await asyncio.wait_for(
                asyncio.gather(*(cache.get(*pairs[i % 20]) for i in range(100))), 5
            )
            assert loop.time() - started < 0.3 + 0.5
            assert cache.stats.store_fallbacks == 20
    finally:
        redis_server.resume()
    async with CredentialCache(sso, accessToken=emu.token, store=store) as later:
        await later.get_many(pairs[:10])
        assert later.stats.store_hits == 10


# --------------------------------------------------------------------------- hostile values


def _sealed(store: RedisStore, token: str, pair: Pair, plain: bytes) -> bytes:
    """A value sealed with the pair's real key and name, holding ``plain`` (white-box: the
    store's own AEAD, to reach the parser behind the authentication)."""
    scope = store.scope(token)
    nonce = os.urandom(12)
    aead = scope._aead
    return b"\x01" + nonce + aead.encrypt(nonce, plain, key_of(store, token, "c", pair).encode())


_GOOD_FIELDS = {"k": "ASIAX", "s": "s", "t": "t", "e": time.time() + 3600, "f": time.time()}

BAD_VALUES: dict[str, Callable[[RedisStore, str, Pair], bytes]] = {
    "random bytes": lambda s, t, p: os.urandom(80),
    "empty": lambda s, t, p: b"",
    "unknown format": lambda s, t, p: b"\x02" + os.urandom(80),
    "header only": lambda s, t, p: b"\x01" + os.urandom(12),
    "flipped bit": lambda s, t, p: (lambda v: v[:-1] + bytes([v[-1] ^ 1]))(
        _sealed(s, t, p, json.dumps(_GOOD_FIELDS).encode())
    ),
    "sealed non-JSON": lambda s, t, p: _sealed(s, t, p, b"\xff not json"),
    "sealed JSON list": lambda s, t, p: _sealed(s, t, p, b"[1, 2]"),
    "sealed, member missing": lambda s, t, p: _sealed(
        s, t, p, json.dumps({k: v for k, v in _GOOD_FIELDS.items() if k != "s"}).encode()
    ),
    "sealed, bad expiration": lambda s, t, p: _sealed(
        s, t, p, json.dumps({**_GOOD_FIELDS, "e": 1e300}).encode()
    ),
    "sealed, bad fetch time": lambda s, t, p: _sealed(
        s, t, p, json.dumps({**_GOOD_FIELDS, "f": "yesterday"}).encode()
    ),
}


@pytest.mark.parametrize("bad", list(BAD_VALUES))
async def test_bad_value_is_a_miss_and_overwritten(
    bad: str,
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """A value that does not decrypt or parse is a miss, then overwritten by a valid one."""
    store = new_store()
    name = key_of(store, emu.token, "c", pairs[0])
    value = BAD_VALUES[bad](store, emu.token, pairs[0])
    await inspector.set(name, value, px=600_000)
    async with CredentialCache(sso, accessToken=emu.token, store=store) as cache:
        creds = await cache.get(*pairs[0])
        assert (creds.account_id, creds.role_name) == pairs[0]
        assert cache.stats.store_fallbacks == 0
    assert requests(emu) == 1
    assert await inspector.get(name) != value
    async with CredentialCache(sso, accessToken=emu.token, store=new_store()) as other:
        assert same(await other.get(*pairs[0]), creds)
        assert other.stats.store_hits == 1


async def test_value_of_another_redis_type_is_a_miss_and_overwritten(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
    fleet_warnings: Callable[[], list[logging.LogRecord]],
) -> None:
    """A key of another Redis type (a hash) is a miss and is overwritten, not Redis trouble."""
    store = new_store()
    name = key_of(store, emu.token, "c", pairs[0])
    await inspector.hset(name, "garbage", "value")
    async with CredentialCache(sso, accessToken=emu.token, store=store) as cache:
        await cache.get(*pairs[0])
        assert cache.stats.store_fallbacks == 0
    assert await inspector.type(name) == b"string"
    assert fleet_warnings() == []


async def test_value_sealed_under_another_token_is_a_miss(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """A value sealed under another token's key does not decrypt here: a miss, overwritten."""
    store = new_store()
    other_token = emu.issue_token()
    async with CredentialCache(sso, accessToken=other_token, store=store) as theirs:
        their_creds = await theirs.get(*pairs[0])
    name = key_of(store, emu.token, "c", pairs[0])
    stolen = await inspector.get(key_of(store, other_token, "c", pairs[0]))
    assert stolen is not None
    await inspector.set(name, stolen, px=600_000)
    async with CredentialCache(sso, accessToken=emu.token, store=store) as ours:
        creds = await ours.get(*pairs[0])
        assert not same(creds, their_creds)
        assert ours.stats.store_hits == 0
    assert requests(emu) == 2
    assert await inspector.get(name) != stolen


async def test_value_moved_to_another_pair_is_a_miss(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """A valid value copied to another pair's key fails its name binding: a miss."""
    store = new_store()
    source, target = pairs[0], pairs[5]
    async with CredentialCache(sso, accessToken=emu.token, store=store) as first:
        copied_creds = await first.get(*source)
    copied = await inspector.get(key_of(store, emu.token, "c", source))
    assert copied is not None
    target_name = key_of(store, emu.token, "c", target)
    await inspector.set(target_name, copied, px=600_000)
    async with CredentialCache(sso, accessToken=emu.token, store=new_store()) as second:
        creds = await second.get(*target)
        assert (creds.account_id, creds.role_name) == target
        assert creds.access_key_id != copied_creds.access_key_id
        assert second.stats.store_hits == 0
    assert requests(emu) == 2
    assert await inspector.get(target_name) != copied


async def test_another_token_sees_a_miss(
    new_store: StoreFactory, emu: PortalEmulator, sso: AsyncSSOClient, pairs: list[Pair]
) -> None:
    """A process holding another access token gets a miss, and a key of its own."""
    other_token = emu.issue_token()
    async with (
        CredentialCache(sso, accessToken=emu.token, store=new_store()) as ours,
        CredentialCache(sso, accessToken=other_token, store=new_store()) as theirs,
    ):
        mine = await ours.get(*pairs[0])
        their = await theirs.get(*pairs[0])
        assert not same(mine, their)
        assert theirs.stats.store_hits == theirs.stats.store_waits == 0
    assert requests(emu) == 2
    store = new_store()
    assert key_of(store, emu.token, "c", pairs[0]) != key_of(store, other_token, "c", pairs[0])


# --------------------------------------------------------------------------- the scan


async def test_nothing_readable_is_left_in_redis(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """After a run, no Redis key or value holds a token, secret, account id or role name."""
    tokens = [emu.token, emu.issue_token()]
    got: list[RoleCredentials] = []
    budget = new_store().rate_budget(rate=1000, burst=100)
    async with AsyncSSOClient(
        region_name="us-east-1", endpoint_url=emu.url, rate_budget=budget
    ) as budgeted:
        for token in tokens:
            store = new_store()
            await inspector.set(key_of(store, token, "l", pairs[0]), b"dead", px=300)
            async with (
                CredentialCache(budgeted, accessToken=token, store=store) as a,
                CredentialCache(sso, accessToken=token, store=new_store()) as b,
            ):
                for cache in (a, b):
                    got.extend((await cache.get_many(pairs, max_concurrency=20)).values())
                assert a.stats.store_takeovers + b.stats.store_takeovers == 1
    assert len({c.access_key_id for c in got}) == 40

    needles: set[str] = set(tokens)
    for creds in got:
        needles |= {creds.access_key_id, str(creds.secret_access_key), str(creds.session_token)}
    needles |= {a.account_id for a in emu.organisation.accounts}
    needles |= {r for a in emu.organisation.accounts for r in a.roles}
    raw_needles = [n.encode() for n in needles]

    keys = [key async for key in inspector.scan_iter(count=1000)]
    assert len([k for k in keys if b":c:" in k]) == 40
    assert [k for k in keys if b":l:" in k] == []
    assert await inspector.pubsub_channels() == []
    for key in keys:
        assert not [n for n in raw_needles if n in key], key
        if await inspector.type(key) == b"string":
            value = await inspector.get(key)
        else:
            value = await inspector.dump(key)
        assert value is not None
        assert not [n for n in raw_needles if n in value], key


# --------------------------------------------------------------------------- cancellation, close


async def test_cancelled_waiter_leaves_nothing_behind(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """Cancelling one waiting get spares the other waiters and leaves no lock or subscription."""
    emu.faults = Faults(latency=0.3, operations=CREDENTIALS)
    pair = pairs[0]
    channel = key_of(new_store(), emu.token, "n", pair)
    async with (
        CredentialCache(sso, accessToken=emu.token, store=new_store()) as owner,
        CredentialCache(sso, accessToken=emu.token, store=new_store()) as waiter,
    ):
        owned = asyncio.create_task(owner.get(*pair))
        await until(lambda: emu.stats.in_flight == 1)
        waiting = [asyncio.create_task(waiter.get(*pair)) for _ in range(3)]
        await until(lambda: subscribers(inspector, channel))
        waiting[0].cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting[0]
        creds = await owned
        assert all(same(c, creds) for c in [await w for w in waiting[1:]])
        assert waiter.stats.store_waits == 1
        assert waiter.stats.in_flight == 0
    await until(lambda: _no_subscriber(inspector, channel), timeout=2)
    assert [k async for k in inspector.scan_iter(match="*:l:*")] == []
    assert requests(emu) == 1


async def test_close_while_waiting(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """Closing a cache waiting on another process: ClientClosedError, unsubscribed, owner spared."""
    # The owner's fetch outlasts the waiters' subscribing and close(), even on a loaded machine.
    emu.faults = Faults(latency=1.5, operations=CREDENTIALS)
    pair = pairs[0]
    channel = key_of(new_store(), emu.token, "n", pair)
    async with CredentialCache(sso, accessToken=emu.token, store=new_store()) as owner:
        owned = asyncio.create_task(owner.get(*pair))
        await until(lambda: emu.stats.in_flight == 1)
        waiter = CredentialCache(sso, accessToken=emu.token, store=new_store())
        waiting = [asyncio.create_task(waiter.get(*pair)) for _ in range(3)]
        await until(lambda: subscribers(inspector, channel))
        await waiter.close()
        for task in waiting:
            with pytest.raises(ClientClosedError):
                await task
        await until(lambda: _no_subscriber(inspector, channel), timeout=2)
        assert (await owned).account_id == pair[0]
    assert requests(emu) == 1


async def _no_subscriber(inspector: aioredis.Redis, channel: str) -> bool:
    return await subscribers(inspector, channel) == 0


async def test_close_while_owning_releases_the_lock(
    new_store: StoreFactory,
    emu: PortalEmulator,
    sso: AsyncSSOClient,
    pairs: list[Pair],
    inspector: aioredis.Redis,
) -> None:
    """Closing a cache that holds a lock frees it at once: a waiter elsewhere fetches at once."""
    lock_ttl = 5.0
    pair = pairs[0]
    owner_store = new_store(lock_ttl=lock_ttl)
    lock = key_of(owner_store, emu.token, "l", pair)
    emu.fail_next(CREDENTIALS, delay=60)  # the owner's request hangs
    owner = CredentialCache(sso, accessToken=emu.token, store=owner_store)
    owned = [asyncio.create_task(owner.get(*pair)) for _ in range(3)]
    await until(lambda: emu.pending_failures == 0)
    async with CredentialCache(
        sso, accessToken=emu.token, store=new_store(lock_ttl=lock_ttl)
    ) as other:
        waiting = asyncio.create_task(other.get(*pair))
        await until(lambda: subscribers(inspector, key_of(owner_store, emu.token, "n", pair)))
        loop = asyncio.get_running_loop()
        closed = loop.time()
        await owner.close()
        for task in owned:
            with pytest.raises(ClientClosedError):
                await task
        creds = await asyncio.wait_for(waiting, lock_ttl)
        assert loop.time() - closed < 1.0  # the lock was released, not left to expire
        assert creds.account_id == pair[0]
        assert not await inspector.exists(lock)
    assert requests(emu) == 2


async def test_close_with_a_store_is_idempotent_and_final(
    new_store: StoreFactory, emu: PortalEmulator, sso: AsyncSSOClient, pairs: list[Pair]
) -> None:
    """A closed cache with a store refuses gets with ClientClosedError, as one without."""
    cache = CredentialCache(sso, accessToken=emu.token, store=new_store())
    await cache.get(*pairs[0])
    await cache.close()
    await cache.close()
    with pytest.raises(ClientClosedError):
        await cache.get(*pairs[0])
    assert cache.stats.entries == 0


# --------------------------------------------------------------------------- the rate budget


@pytest.mark.parametrize(
    ("rate", "burst"), [(0, 1), (-1.0, 1), (float("nan"), 1), (1, 0), (1, -2), (1, 1.5), (1, True)]
)
async def test_invalid_budget(rate: float, burst: Any) -> None:
    """A budget needs a positive rate and an integer burst of at least 1."""
    store = RedisStore.from_url("redis://127.0.0.1:1/0")  # never contacted
    try:
        with pytest.raises(ValueError):
            store.rate_budget(rate=rate, burst=burst)
    finally:
        await store.close()


async def test_budget_lets_a_burst_through_then_paces(new_store: StoreFactory) -> None:
    """GCRA: a burst goes at once, then one per 1/rate; one bucket per operation, fleet-wide."""
    rate, burst = 10.0, 5
    mine = new_store().rate_budget(rate=rate, burst=burst)
    theirs = new_store().rate_budget(rate=rate, burst=burst)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(burst):
        await mine.acquire("ListAccountRoles")
    assert loop.time() - started < 0.08
    await theirs.acquire("ListAccounts")  # another operation: its own bucket
    assert loop.time() - started < 0.1

    done: list[float] = []

    async def one() -> None:
        await theirs.acquire("ListAccountRoles")
        done.append(loop.time() - started)

    await asyncio.gather(one(), one())
    first, second = sorted(done)
    assert 1 / rate - 0.03 <= first <= 1 / rate + 0.1
    assert 2 / rate - 0.03 <= second <= 2 / rate + 0.1


async def test_shared_budget_keeps_a_fleet_under_the_portals_rate(
    new_store: StoreFactory,
) -> None:
    """Two clients with one budget at the portal's limit fan out: nothing lost, little throttled."""
    async with PortalEmulator(
        accounts=25, roles_per_account=2, rate_limit=RateLimit(rate=20, burst=5)
    ) as emu:
        expected = {(a.account_id, r) for a in emu.organisation.accounts for r in a.roles}

        async def fan_out() -> set[tuple[str, str]]:
            budget = new_store().rate_budget(rate=20, burst=5)
            async with AsyncSSOClient(
                region_name="us-east-1", endpoint_url=emu.url, rate_budget=budget
            ) as client:
                return {
                    (account["accountId"], role["roleName"])
                    async for account, role in client.iter_account_roles(
                        accessToken=emu.token, max_concurrency=20
                    )
                }

        first, second = await asyncio.wait_for(asyncio.gather(fan_out(), fan_out()), 20)
        assert first == second == expected
        stats = emu.stats
        assert stats.total >= 2 * 26  # a ListAccounts and 25 ListAccountRoles each
        assert stats.throttled <= 0.05 * stats.total  # without the budget: about a quarter


async def test_budget_paces_locally_with_redis_down(
    redis_server: RedisServer,
    new_store: StoreFactory,
    emu: PortalEmulator,
    fleet_warnings: Callable[[], list[logging.LogRecord]],
) -> None:
    """With Redis down, the budget paces requests in-process at its rate; all succeed."""
    budget = new_store().rate_budget(rate=20, burst=2)
    redis_server.kill()
    loop = asyncio.get_running_loop()
    async with AsyncSSOClient(
        region_name="us-east-1", endpoint_url=emu.url, rate_budget=budget
    ) as client:
        started = loop.time()
        replies = await asyncio.gather(
            *(client.list_accounts(accessToken=emu.token) for _ in range(6))
        )
        elapsed = loop.time() - started
    assert all(len(r["accountList"]) == 5 for r in replies)
    assert (6 - 2) / 20 - 0.03 <= elapsed <= (6 - 2) / 20 + 0.5
    assert len(fleet_warnings()) == 1
