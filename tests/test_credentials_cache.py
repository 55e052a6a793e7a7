"""CredentialCache: single-flight, expiry windows, errors, cancellation, LRU, lifecycle."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosso import AsyncSSOClient, ClientClosedError, ClientConfig, ClientError
from aiosso.credentials import CredentialCache, RoleCredentials
from aiosso.exceptions import ResponseParserError, UnauthorizedException
from aiosso.testing import Faults, PortalEmulator

ONE_ATTEMPT = ClientConfig(retries={"total_max_attempts": 1})
T0 = 1_900_000_000.0
TOKEN = "stub-access-token-SHOULD-NOT-LEAK"


class FakeClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StubClient:
    """get_role_credentials from a script: numbered credentials, queued errors, a gate."""

    def __init__(self, clock: FakeClock, ttl: float = 3600.0) -> None:
        self.clock = clock
        self.ttl = ttl
        self.calls: list[tuple[str, str]] = []
        self.tokens: set[str] = set()
        self.errors: list[BaseException] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.completed = 0

    async def get_role_credentials(
        self, *, roleName: str, accountId: str, accessToken: str
    ) -> dict[str, Any]:
        self.calls.append((accountId, roleName))
        self.tokens.add(accessToken)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.errors:
            raise self.errors.pop(0)
        n = len(self.calls)
        self.completed += 1
        return {
            "ResponseMetadata": {"HTTPStatusCode": 200},
            "roleCredentials": {
                "accessKeyId": f"ASIA{n:04d}",
                "secretAccessKey": f"secret-{n}",
                "sessionToken": f"session-{n}",
                "expiration": int((self.clock() + self.ttl) * 1000),
            },
        }


def forbidden() -> ClientError:
    """The error the service gives for a role the user may not assume."""
    return ClientError(
        {"Error": {"Code": "ForbiddenException", "Message": "No access"}}, "GetRoleCredentials"
    )


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at T0."""
    return FakeClock()


@pytest.fixture
def stub(clock: FakeClock) -> StubClient:
    """A scripted client issuing one-hour credentials by the fake clock."""
    return StubClient(clock)


@pytest.fixture
async def cache(stub: StubClient, clock: FakeClock) -> AsyncIterator[CredentialCache]:
    """A cache over the stub client, on the fake clock."""
    async with CredentialCache(stub, accessToken=TOKEN, clock=clock) as c:
        yield c


@pytest.fixture
async def emu() -> AsyncIterator[PortalEmulator]:
    """Fifty accounts of two roles: 100 (account, role) pairs."""
    async with PortalEmulator(accounts=50, roles_per_account=2) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: PortalEmulator) -> AsyncIterator[AsyncSSOClient]:
    """A one-attempt client on the emulator."""
    async with AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=ONE_ATTEMPT) as sso:
        yield sso


def pairs_of(emu: PortalEmulator) -> list[tuple[str, str]]:
    """Every (account, role) pair of the emulator's organisation."""
    return [(a.account_id, r) for a in emu.organisation.accounts for r in a.roles]


# --------------------------------------------------------------------------- single-flight


async def test_single_flight_10k_gets_100_pairs(
    emu: PortalEmulator, client: AsyncSSOClient
) -> None:
    """10,000 concurrent gets over 100 pairs make exactly 100 requests, one object per pair."""
    pairs = pairs_of(emu)
    assert len(pairs) == 100
    started = time.perf_counter()
    async with CredentialCache(client, accessToken=emu.token) as cache:
        results = await asyncio.gather(*(cache.get(*pairs[i % 100]) for i in range(10_000)))
        elapsed = time.perf_counter() - started
        assert emu.stats.requests["GetRoleCredentials"] == 100
        assert cache.stats.fetches == 100
        assert cache.stats.misses == 10_000
        for i, creds in enumerate(results):
            assert creds is results[i % 100]
            assert (creds.account_id, creds.role_name) == pairs[i % 100]
        assert len({c.access_key_id for c in results}) == 100
        assert len(cache) == 100
        # Now all cached: no more requests.
        again = await asyncio.gather(*(cache.get(*p) for p in pairs))
        assert again == results[:100]
        assert emu.stats.requests["GetRoleCredentials"] == 100
        assert cache.stats.hits == 100
    assert elapsed < 5


async def test_flight_sends_the_access_token(stub: StubClient, cache: CredentialCache) -> None:
    """Every fetch carries the cache's access token."""
    await cache.get("111122223333", "Admin")
    assert stub.tokens == {TOKEN}


# --------------------------------------------------------------------------- expiry windows


async def test_served_from_cache_before_refresh_margin(
    stub: StubClient, cache: CredentialCache, clock: FakeClock
) -> None:
    """Until expiry minus refresh_margin, get() answers from the cache without a request."""
    first = await cache.get("1", "r")
    clock.advance(3600 - 900 - 1)
    assert await cache.get("1", "r") is first
    assert len(stub.calls) == 1


async def test_refetched_within_refresh_margin(
    stub: StubClient, cache: CredentialCache, clock: FakeClock
) -> None:
    """From expiry minus refresh_margin on, get() fetches new credentials and caches them."""
    first = await cache.get("1", "r")
    clock.advance(3600 - 900)
    second = await cache.get("1", "r")
    assert second is not first
    assert second.expiration.timestamp() == pytest.approx(clock.now + 3600)
    assert await cache.get("1", "r") is second
    assert len(stub.calls) == 2


async def test_failed_refresh_serves_cached_before_mandatory_margin(
    stub: StubClient,
    cache: CredentialCache,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed refresh before the mandatory window answers the old credentials, logs a
    warning without secrets, and waits refresh_retry_interval before trying again."""
    first = await cache.get("1", "r")
    clock.advance(3600 - 700)
    stub.errors.append(forbidden())
    with caplog.at_level(logging.WARNING, logger="aiosso.credentials"):
        assert await cache.get("1", "r") is first
    assert len(stub.calls) == 2
    assert cache.stats.stale_served == 1
    assert cache.stats.failures == 1
    [record] = caplog.records
    text = record.getMessage()
    assert "ForbiddenException" in text
    assert "account 1 role r" in text
    for secret in (TOKEN, "secret-1", "session-1"):
        assert secret not in text
    # Within the retry interval: still the old ones, no request.
    clock.advance(59)
    assert await cache.get("1", "r") is first
    assert len(stub.calls) == 2
    # After it: a new attempt, which succeeds.
    clock.advance(1)
    fresh = await cache.get("1", "r")
    assert fresh is not first
    assert len(stub.calls) == 3


async def test_retry_interval_capped_at_mandatory_margin(
    stub: StubClient, clock: FakeClock
) -> None:
    """A failed refresh near the mandatory window retries at its start, not later."""
    async with CredentialCache(
        stub, accessToken=TOKEN, clock=clock, refresh_retry_interval=3600
    ) as cache:
        await cache.get("1", "r")
        clock.advance(3600 - 650)
        stub.errors.append(forbidden())
        await cache.get("1", "r")
        clock.advance(50)  # now at expiry - 600: mandatory
        stub.errors.append(forbidden())
        with pytest.raises(ClientError):
            await cache.get("1", "r")
        assert len(stub.calls) == 3


async def test_failed_refresh_raises_in_mandatory_window(
    stub: StubClient, cache: CredentialCache, clock: FakeClock
) -> None:
    """Within mandatory_margin of expiry a failed refresh raises and drops the entry."""
    await cache.get("1", "r")
    clock.advance(3600 - 600)
    stub.errors.append(forbidden())
    with pytest.raises(ClientError, match="ForbiddenException"):
        await cache.get("1", "r")
    assert ("1", "r") not in cache
    assert len(cache) == 0
    fresh = await cache.get("1", "r")
    assert fresh.access_key_id == "ASIA0003"


async def test_expired_entry_is_refetched(
    stub: StubClient, cache: CredentialCache, clock: FakeClock
) -> None:
    """Credentials past their expiration are never answered."""
    first = await cache.get("1", "r")
    clock.advance(7200)
    assert first.is_expired(now=clock.now)
    second = await cache.get("1", "r")
    assert not second.is_expired(now=clock.now)


async def test_short_lived_credentials_refresh_at_half_life(
    stub: StubClient, clock: FakeClock
) -> None:
    """Credentials living less than twice the margin are refreshed at half their life."""
    stub.ttl = 600
    async with CredentialCache(stub, accessToken=TOKEN, clock=clock) as cache:
        first = await cache.get("1", "r")
        clock.advance(299)
        assert await cache.get("1", "r") is first
        clock.advance(1)
        assert await cache.get("1", "r") is not first
        assert len(stub.calls) == 2


# --------------------------------------------------------------------------- errors


async def test_error_reaches_every_waiter_and_is_not_cached(
    emu: PortalEmulator, client: AsyncSSOClient, no_sleep: None
) -> None:
    """One failed request fails all its waiters with the same error; the next get retries."""
    account_id, role = pairs_of(emu)[0]
    emu.fail_next("GetRoleCredentials", 1, status=403, code="ForbiddenException")
    async with CredentialCache(client, accessToken=emu.token) as cache:
        outcomes = await asyncio.gather(
            *(cache.get(account_id, role) for _ in range(50)), return_exceptions=True
        )
        assert emu.stats.requests["GetRoleCredentials"] == 1
        assert all(isinstance(o, ClientError) for o in outcomes)
        assert len({id(o) for o in outcomes}) == 1  # the one error of the one flight
        assert "(ForbiddenException)" in str(outcomes[0])
        assert (account_id, role) not in cache
        creds = await cache.get(account_id, role)
        assert isinstance(creds, RoleCredentials)
        assert emu.stats.requests["GetRoleCredentials"] == 2


async def test_malformed_reply_is_parser_error(stub: StubClient, cache: CredentialCache) -> None:
    """A reply without roleCredentials fails the get with ResponseParserError."""

    async def empty(**kwargs: str) -> dict[str, Any]:
        return {"ResponseMetadata": {}}

    stub.get_role_credentials = empty  # type: ignore[method-assign]
    with pytest.raises(ResponseParserError, match="roleCredentials"):
        await cache.get("1", "r")
    assert len(cache) == 0


async def test_token_not_in_errors_or_reprs(emu: PortalEmulator, client: AsyncSSOClient) -> None:
    """A rejected access token appears in no error message or repr of the cache."""
    token = "aoa-invalid-token-must-not-leak-0123456789"
    account_id, role = pairs_of(emu)[0]
    async with CredentialCache(client, accessToken=token) as cache:
        with pytest.raises(UnauthorizedException) as info:
            await cache.get(account_id, role)
        for text in (str(info.value), repr(info.value), repr(cache), repr(cache.stats)):
            assert token not in text


# --------------------------------------------------------------------------- cancellation


async def test_cancelling_one_waiter_leaves_the_flight(
    stub: StubClient, cache: CredentialCache
) -> None:
    """A cancelled waiter does not cancel the shared fetch; the others are served."""
    stub.gate = asyncio.Event()
    waiters = [asyncio.create_task(cache.get("1", "r")) for _ in range(3)]
    await stub.entered.wait()
    waiters[0].cancel()
    await asyncio.sleep(0)
    stub.gate.set()
    first, *served = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(first, asyncio.CancelledError)
    assert all(isinstance(s, RoleCredentials) for s in served)
    assert served[0] is served[1]
    assert len(stub.calls) == 1


async def test_flight_completes_and_caches_when_all_waiters_cancelled(
    stub: StubClient, cache: CredentialCache
) -> None:
    """With every waiter cancelled, the fetch still completes and is cached."""
    stub.gate = asyncio.Event()
    waiters = [asyncio.create_task(cache.get("1", "r")) for _ in range(2)]
    await stub.entered.wait()
    for w in waiters:
        w.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert cache.stats.in_flight == 1
    stub.gate.set()
    while cache.stats.in_flight:
        await asyncio.sleep(0)
    assert stub.completed == 1
    assert ("1", "r") in cache
    await cache.get("1", "r")
    assert len(stub.calls) == 1


async def test_failed_flight_without_waiters_is_retrieved(
    stub: StubClient, cache: CredentialCache, caplog: pytest.LogCaptureFixture
) -> None:
    """A fetch that fails after its waiters left reports nothing ('never retrieved')."""
    stub.gate = asyncio.Event()
    stub.errors.append(forbidden())
    waiter = asyncio.create_task(cache.get("1", "r"))
    await stub.entered.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    stub.gate.set()
    while cache.stats.in_flight:
        await asyncio.sleep(0)
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text
    assert len(cache) == 0
    assert cache.stats.failures == 1


# --------------------------------------------------------------------------- LRU


async def test_lru_bound(stub: StubClient, clock: FakeClock) -> None:
    """With max_entries=3, five pairs leave three held; the least recently used go first."""
    async with CredentialCache(stub, accessToken=TOKEN, clock=clock, max_entries=3) as cache:
        for i in range(3):
            await cache.get(str(i), "r")
        await cache.get("0", "r")  # a hit makes "0" the most recently used
        await cache.get("3", "r")
        await cache.get("4", "r")
        assert len(cache) == 3
        assert ("0", "r") in cache
        assert ("3", "r") in cache
        assert ("4", "r") in cache
        assert ("1", "r") not in cache
        assert ("2", "r") not in cache
        assert cache.stats.evictions == 2
        await cache.get("1", "r")
        assert len(stub.calls) == 6


# --------------------------------------------------------------------------- get_many


async def test_get_many(emu: PortalEmulator, client: AsyncSSOClient) -> None:
    """get_many dedupes, keeps first-seen order, bounds concurrency and fills the cache."""
    pairs = pairs_of(emu)[:40]
    asked = [*pairs, *reversed(pairs)]
    # A little server latency makes concurrent fetches overlap in the emulator's handler;
    # without it every request is answered before the next arrives, and max_in_flight is 1.
    emu.faults = Faults(latency=0.01)
    async with CredentialCache(client, accessToken=emu.token) as cache:
        result = await cache.get_many(asked, max_concurrency=4)
        assert list(result) == pairs
        assert all((c.account_id, c.role_name) == k for k, c in result.items())
        assert emu.stats.requests["GetRoleCredentials"] == 40
        assert 1 < emu.stats.max_in_flight <= 4
        assert len(cache) == 40
        assert await cache.get_many(pairs) == result
        assert emu.stats.requests["GetRoleCredentials"] == 40
        assert await cache.get_many([]) == {}
        with pytest.raises(ValueError, match="max_concurrency"):
            await cache.get_many(pairs, max_concurrency=0)


async def test_get_many_raises_first_error(stub: StubClient, cache: CredentialCache) -> None:
    """A failing pair fails get_many with that error, leaving no task behind."""
    stub.errors.append(forbidden())
    before = asyncio.all_tasks()
    with pytest.raises(ClientError, match="ForbiddenException"):
        await cache.get_many([(str(i), "r") for i in range(5)], max_concurrency=2)
    while cache.stats.in_flight:
        await asyncio.sleep(0)
    assert asyncio.all_tasks() == before


async def test_get_many_failure_leaves_no_worker_running(clock: FakeClock) -> None:
    """When one lookup fails, get_many raises only after its other workers have finished."""
    gate = asyncio.Event()

    class OneBadAccount:
        async def get_role_credentials(
            self, *, roleName: str, accountId: str, accessToken: str
        ) -> dict[str, Any]:
            if accountId == "bad":
                raise forbidden()
            await gate.wait()  # the other lookups are still waiting when "bad" fails
            raise AssertionError("released only after the test's checks")

    def workers() -> list[asyncio.Task[Any]]:
        return [
            task
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "").endswith("get_many.<locals>.worker")
        ]

    async with CredentialCache(OneBadAccount(), accessToken=TOKEN, clock=clock) as cache:
        with pytest.raises(ClientError, match="ForbiddenException"):
            await cache.get_many([("ok-1", "r"), ("bad", "r"), ("ok-2", "r")], max_concurrency=3)
        # Checked at once, without yielding to the loop: the workers were awaited, not left
        # cancelled-but-pending. (The fetches they started may still run: they are shared.)
        running = [task for task in workers() if not task.done()]
        assert running == []
        assert cache.stats.in_flight == 2
        gate.set()
        while cache.stats.in_flight:
            await asyncio.sleep(0)


# --------------------------------------------------------------------------- invalidation


async def test_invalidate(stub: StubClient, cache: CredentialCache) -> None:
    """invalidate drops matching entries (by account, role, both or all); get() refetches."""
    await cache.get_many([(a, r) for a in ("1", "2") for r in ("x", "y")])
    assert len(cache) == 4
    assert cache.invalidate(account_id="1") == 2
    assert ("1", "x") not in cache
    assert ("2", "x") in cache
    assert cache.invalidate(role_name="y") == 1
    assert cache.invalidate(account_id="2", role_name="x") == 1
    assert len(cache) == 0
    await cache.get("2", "x")
    assert len(stub.calls) == 5
    cache.clear()
    assert len(cache) == 0
    assert cache.invalidate() == 0


async def test_invalidate_detaches_flight(stub: StubClient, cache: CredentialCache) -> None:
    """A fetch in flight during invalidate() answers its waiter but is not stored."""
    stub.gate = asyncio.Event()
    waiter = asyncio.create_task(cache.get("1", "r"))
    await stub.entered.wait()
    cache.invalidate("1")
    stub.gate.set()
    assert isinstance(await waiter, RoleCredentials)
    assert ("1", "r") not in cache
    await cache.get("1", "r")
    assert len(stub.calls) == 2


# --------------------------------------------------------------------------- lifecycle


async def test_close_cancels_flights(stub: StubClient, clock: FakeClock) -> None:
    """close() cancels fetches in flight; their waiters and later gets get ClientClosedError."""
    stub.gate = asyncio.Event()
    cache = CredentialCache(stub, accessToken=TOKEN, clock=clock)
    waiters = [asyncio.create_task(cache.get("1", "r")) for _ in range(3)]
    await stub.entered.wait()
    await cache.close()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, ClientClosedError) for o in outcomes)
    assert cache.closed
    assert cache.stats.in_flight == 0
    with pytest.raises(ClientClosedError):
        await cache.get("1", "r")
    await cache.close()  # idempotent
    with pytest.raises(ClientClosedError):
        async with cache:
            pass


async def test_close_waits_for_cancelled_fetches(clock: FakeClock) -> None:
    """close() returns only once every cancelled fetch has finished, its own cleanup included."""
    steps: list[str] = []
    entered = asyncio.Event()

    class SlowToStop:
        async def get_role_credentials(
            self, *, roleName: str, accountId: str, accessToken: str
        ) -> dict[str, Any]:
            entered.set()
            try:
                await asyncio.Event().wait()
            finally:
                steps.append("cancelled")
                for _ in range(3):  # a cleanup that takes a few turns of the loop
                    await asyncio.sleep(0)
                steps.append("cleaned up")
            raise AssertionError("unreachable: the fetch waits until cancelled")

    cache = CredentialCache(SlowToStop(), accessToken=TOKEN, clock=clock)
    waiter = asyncio.create_task(cache.get("1", "r"))
    await entered.wait()
    [flight] = [t for t in asyncio.all_tasks() if t.get_name() == "aiosso-credentials-1-r"]
    await cache.close()
    assert flight.done()
    assert steps == ["cancelled", "cleaned up"]
    with pytest.raises(ClientClosedError):
        await waiter


async def test_close_ends_fetches_detached_by_invalidate(
    stub: StubClient, clock: FakeClock
) -> None:
    """A fetch that invalidate() detached is still in flight: close() cancels it and waits
    for it too, and its waiter gets ClientClosedError."""
    stub.gate = asyncio.Event()
    cache = CredentialCache(stub, accessToken=TOKEN, clock=clock)
    waiter = asyncio.create_task(cache.get("1", "r"))
    await stub.entered.wait()
    cache.invalidate("1")
    [flight] = [t for t in asyncio.all_tasks() if t.get_name() == "aiosso-credentials-1-r"]
    try:
        await cache.close()
        assert flight.done()
        with pytest.raises(ClientClosedError):
            await waiter
        assert stub.completed == 0
    finally:
        stub.gate.set()  # let a fetch that close() left behind end with the test
        await asyncio.gather(flight, waiter, return_exceptions=True)


async def test_close_before_flight_runs(stub: StubClient, clock: FakeClock) -> None:
    """Closing before a just-started fetch ran still gives its waiter ClientClosedError."""
    cache = CredentialCache(stub, accessToken=TOKEN, clock=clock)
    waiter = asyncio.create_task(cache.get("1", "r"))
    await asyncio.sleep(0)  # the waiter started the flight; the flight has not run yet
    assert cache.stats.in_flight == 1
    assert not stub.calls
    await cache.close()
    with pytest.raises(ClientClosedError):
        await waiter


async def test_close_leaves_the_client_open(emu: PortalEmulator, client: AsyncSSOClient) -> None:
    """The cache does not own the client: closing it keeps the client usable."""
    account_id, role = pairs_of(emu)[0]
    async with CredentialCache(client, accessToken=emu.token) as cache:
        await cache.get(account_id, role)
    assert len(cache) == 0
    reply = await client.get_role_credentials(
        roleName=role, accountId=account_id, accessToken=emu.token
    )
    assert "roleCredentials" in reply


async def test_repr_shows_counts_only(stub: StubClient, cache: CredentialCache) -> None:
    """repr(cache) shows counts and state, never the token or credentials."""
    creds = await cache.get("1", "r")
    await cache.get("1", "r")
    text = repr(cache)
    assert text == "<CredentialCache entries=1/1024 in_flight=0 hits=1 fetches=1 open>"
    for secret in (TOKEN, creds.secret_access_key, creds.session_token):
        assert secret not in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_entries": 0}, "max_entries"),
        ({"mandatory_margin": -1}, ">= 0"),
        ({"refresh_retry_interval": -1}, ">= 0"),
        ({"refresh_margin": 60, "mandatory_margin": 120}, "must not exceed"),
    ],
)
def test_invalid_settings(stub: StubClient, kwargs: dict[str, Any], message: str) -> None:
    """Impossible settings are refused at construction."""
    with pytest.raises(ValueError, match=message):
        CredentialCache(stub, accessToken=TOKEN, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_entries": 1},
        {"mandatory_margin": 0},
        {"refresh_retry_interval": 0},
        {"refresh_margin": 600, "mandatory_margin": 600},
        {"refresh_margin": 0, "mandatory_margin": 0},
    ],
)
def test_settings_at_their_bounds_are_accepted(stub: StubClient, kwargs: dict[str, Any]) -> None:
    """Each documented lower bound is itself valid (>= 0, >= 1, mandatory <= refresh)."""
    cache = CredentialCache(stub, accessToken=TOKEN, **kwargs)
    assert not cache.closed


async def test_zero_mandatory_margin_serves_cached_until_expiry(
    stub: StubClient, clock: FakeClock
) -> None:
    """With mandatory_margin=0 a failed refresh answers the cached credentials up to their
    expiry, and raises from then on."""
    async with CredentialCache(stub, accessToken=TOKEN, clock=clock, mandatory_margin=0) as cache:
        first = await cache.get("1", "r")
        clock.advance(3600 - 1)
        stub.errors.append(forbidden())
        assert await cache.get("1", "r") is first
        assert cache.stats.stale_served == 1
        clock.advance(1)  # expiry itself: nothing usable is cached any more
        stub.errors.append(forbidden())
        with pytest.raises(ClientError, match="ForbiddenException"):
            await cache.get("1", "r")
        assert len(stub.calls) == 3


async def test_zero_retry_interval_retries_at_the_next_get(
    stub: StubClient, clock: FakeClock
) -> None:
    """With refresh_retry_interval=0 the get() after a failed refresh tries again at once."""
    async with CredentialCache(
        stub, accessToken=TOKEN, clock=clock, refresh_retry_interval=0
    ) as cache:
        first = await cache.get("1", "r")
        clock.advance(3600 - 700)
        stub.errors.append(forbidden())
        assert await cache.get("1", "r") is first
        fresh = await cache.get("1", "r")
        assert fresh is not first
        assert len(stub.calls) == 3


async def test_smallest_cache_and_concurrency(stub: StubClient, clock: FakeClock) -> None:
    """max_entries=1 holds only the last pair; get_many runs with max_concurrency=1."""
    async with CredentialCache(stub, accessToken=TOKEN, clock=clock, max_entries=1) as cache:
        result = await cache.get_many([("1", "r"), ("2", "r"), ("3", "r")], max_concurrency=1)
        assert list(result) == [("1", "r"), ("2", "r"), ("3", "r")]
        assert len(cache) == 1
        assert ("3", "r") in cache
        assert cache.stats.evictions == 2
