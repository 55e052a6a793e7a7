"""Retries and adaptive rate limiting, against the emulator's faults and rate limit."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import aiosso
import aiosso.testing
from aiosso import _retry
from aiosso._transport import Transport
from aiosso.config import RetryConfig
from aiosso.testing import Faults, PortalEmulator, RateLimit


def _client(emu: PortalEmulator, **retries: Any) -> aiosso.AsyncSSOClient:
    config = aiosso.ClientConfig(retries=RetryConfig(**retries)) if retries else None
    return aiosso.AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=config)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "TooManyRequestsException"),
        (429, None),
        (500, None),
        (502, None),
        (503, None),
        (504, None),
        (500, "InternalServerError"),
    ],
)
async def test_retryable_replies_are_retried(no_sleep: None, status: int, code: str | None) -> None:
    """Throttling, bare 429s and 500/502/503/504 are retried until a success."""
    async with PortalEmulator(accounts=2) as emu, _client(emu) as client:
        emu.fail_next("ListAccounts", 2, status=status, code=code)
        page = await client.list_accounts(accessToken=emu.token)
        assert len(page["accountList"]) == 2
        assert page["ResponseMetadata"]["RetryAttempts"] == 2
        assert emu.stats.requests["ListAccounts"] == 3


@pytest.mark.parametrize("kind", ["drop", "truncated_body"])
async def test_broken_connections_are_retried(no_sleep: None, kind: Any) -> None:
    """A dropped connection or a truncated body is retried, not surfaced."""
    async with PortalEmulator(accounts=2) as emu, _client(emu) as client:
        emu.fail_next("GetRoleCredentials", 2, kind=kind)
        account = emu.organisation.accounts[0]
        reply = await client.get_role_credentials(
            accessToken=emu.token, accountId=account.account_id, roleName=account.roles[0]
        )
        assert reply["roleCredentials"]["accessKeyId"]
        assert emu.stats.requests["GetRoleCredentials"] == 3


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "InvalidRequestException", aiosso.InvalidRequestException),
        (401, "UnauthorizedException", aiosso.UnauthorizedException),
        (403, "ForbiddenException", aiosso.ClientError),
        (404, "ResourceNotFoundException", aiosso.ResourceNotFoundException),
        (409, None, aiosso.ClientError),
    ],
)
async def test_other_client_errors_are_raised_at_once(
    no_sleep: None, status: int, code: str | None, cls: type[Exception]
) -> None:
    """Other 4xx replies are never retried: one request, raised as is."""
    async with PortalEmulator() as emu, _client(emu) as client:
        emu.fail_next("ListAccounts", 5, status=status, code=code)
        with pytest.raises(cls) as info:
            await client.list_accounts(accessToken=emu.token)
        assert emu.stats.requests["ListAccounts"] == 1
        assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 0  # type: ignore[attr-defined]
        assert "MaxAttemptsReached" not in info.value.response["ResponseMetadata"]  # type: ignore[attr-defined]


async def test_expired_token_is_not_retried(no_sleep: None) -> None:
    """An expired token is an UnauthorizedException after exactly one request."""
    async with PortalEmulator() as emu, _client(emu) as client:
        token = emu.issue_token(expires_in=-1)
        with pytest.raises(aiosso.UnauthorizedException):
            await client.list_accounts(accessToken=token)
        assert emu.stats.total == 1


async def test_exhausted_throttling_raises_modeled_error_with_metadata(no_sleep: None) -> None:
    """When attempts run out the modeled error carries botocore's retry metadata and message."""
    async with PortalEmulator() as emu, _client(emu, total_max_attempts=3) as client:
        emu.fail_next(
            "ListAccounts", 10, status=429, code="TooManyRequestsException", message="Slow"
        )
        with pytest.raises(aiosso.TooManyRequestsException) as info:
            await client.list_accounts(accessToken=emu.token)
        md = info.value.response["ResponseMetadata"]
        assert md["RetryAttempts"] == 2
        assert md["MaxAttemptsReached"] is True
        assert str(info.value) == (
            "An error occurred (TooManyRequestsException) when calling the ListAccounts "
            "operation (reached max retries: 2): Slow"
        )
        assert emu.stats.requests["ListAccounts"] == 3


async def test_botocore_dict_form_counts_retries(no_sleep: None) -> None:
    """``retries={"max_attempts": N}`` means N retries (N + 1 attempts), as in botocore."""
    async with PortalEmulator() as emu:
        config = aiosso.ClientConfig(retries={"mode": "standard", "max_attempts": 1})
        async with aiosso.AsyncSSOClient(endpoint_url=emu.url, config=config) as client:
            emu.fail_next("ListAccounts", 10, status=503)
            with pytest.raises(aiosso.ClientError) as info:
                await client.list_accounts(accessToken=emu.token)
            assert info.value.response["Error"]["Code"] == "503"
            assert emu.stats.requests["ListAccounts"] == 2


async def test_exhausted_transport_failures_raise_the_transport_error(no_sleep: None) -> None:
    """A connection that always drops ends in ConnectionClosedError after every attempt."""
    async with PortalEmulator() as emu, _client(emu, total_max_attempts=4) as client:
        emu.fail_next("ListAccounts", 10, kind="drop")
        with pytest.raises(aiosso.ConnectionClosedError):
            await client.list_accounts(accessToken=emu.token)
        # aiohttp itself resends an idempotent request once when the connection drops, so
        # each of our 4 attempts is one or two exchanges.
        assert 4 <= emu.stats.requests["ListAccounts"] <= 8


async def test_single_attempt_configuration_marks_max_attempts(no_sleep: None) -> None:
    """With one attempt a throttle is raised at once with MaxAttemptsReached."""
    async with PortalEmulator() as emu, _client(emu, total_max_attempts=1) as client:
        emu.fail_next("Logout", 1, status=429, code="TooManyRequestsException")
        with pytest.raises(aiosso.TooManyRequestsException) as info:
            await client.logout(accessToken=emu.token)
        assert info.value.response["ResponseMetadata"]["MaxAttemptsReached"] is True
        assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 0


# --------------------------------------------------------------------------- headers


@pytest.fixture
async def scripted_server() -> AsyncIterator[tuple[str, list[dict[str, str]], list[int]]]:
    """A server answering 503 to the first requests and 200 after, recording headers."""
    seen: list[dict[str, str]] = []
    failures = [2]

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if failures[0] > 0:
            failures[0] -= 1
            return web.Response(status=503, body=b"")
        return web.json_response({"accountList": []})

    app = web.Application()
    app.router.add_get("/assignment/accounts", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen, failures
    finally:
        await runner.cleanup()


async def test_attempt_headers(no_sleep: None, scripted_server: Any) -> None:
    """Every attempt carries the call's one invocation id and its attempt number and max."""
    url, seen, _ = scripted_server
    config = aiosso.ClientConfig(retries={"total_max_attempts": 5})
    async with aiosso.AsyncSSOClient(endpoint_url=url, config=config) as client:
        page = await client.list_accounts(accessToken="tok")
    assert page["ResponseMetadata"]["RetryAttempts"] == 2
    assert [h["amz-sdk-request"] for h in seen] == [
        "attempt=1; max=5",
        "attempt=2; max=5",
        "attempt=3; max=5",
    ]
    assert len({h["amz-sdk-invocation-id"] for h in seen}) == 1


# --------------------------------------------------------------------------- timing


async def test_amz_retry_after_is_honoured() -> None:
    """``x-amz-retry-after`` (ms) sets the least backoff before the next attempt."""
    async with PortalEmulator() as emu, _client(emu, throttle_base=0, transient_base=0) as client:
        emu.fail_next(
            "ListAccounts", 1, status=429, code="TooManyRequestsException", retry_after=0.3
        )
        start = time.monotonic()
        await client.list_accounts(accessToken=emu.token)
        assert time.monotonic() - start >= 0.3


async def test_retry_after_is_bounded() -> None:
    """A huge Retry-After is capped at ``max_retry_after``."""
    async with (
        PortalEmulator() as emu,
        _client(emu, throttle_base=0, transient_base=0, max_retry_after=0.2) as client,
    ):
        emu.fail_next("ListAccounts", 1, status=503, retry_after=3600)
        start = time.monotonic()
        await client.list_accounts(accessToken=emu.token)
        elapsed = time.monotonic() - start
        assert 0.2 <= elapsed < 2


def test_retry_after_header_forms() -> None:
    """Retry-After as seconds or HTTP date, x-amz-retry-after in ms; junk is ignored."""
    now = time.time()
    when = datetime.fromtimestamp(now, timezone.utc) + timedelta(seconds=30)
    assert _retry.retry_after_seconds({"retry-after": "7"}) == 7.0
    assert _retry.retry_after_seconds({"x-amz-retry-after": "1500"}) == 1.5
    assert _retry.retry_after_seconds(
        {"x-amz-retry-after": "250", "retry-after": "9"}
    ) == pytest.approx(0.25)
    date_delay = _retry.retry_after_seconds({"retry-after": format_datetime(when)}, now=now)
    assert date_delay == pytest.approx(30, abs=1)
    assert _retry.retry_after_seconds({"retry-after": "soon"}) is None
    assert _retry.retry_after_seconds({"x-amz-retry-after": "-5"}) is None
    assert _retry.retry_after_seconds({}) is None


async def test_total_timeout_bounds_a_call() -> None:
    """No backoff is started that would pass ``total_timeout``: the call ends early."""
    async with (
        PortalEmulator() as emu,
        _client(emu, transient_base=1.0, max_backoff=1.0, total_timeout=1.0) as client,
    ):
        emu.fail_next("ListAccounts", 100, status=503)
        start = time.monotonic()
        with pytest.raises(aiosso.ClientError) as info:
            await client.list_accounts(accessToken=emu.token)
        # Sleeps stop before the 1 s budget; only the last request may run past it. Without
        # the budget, 10 attempts would sleep about 4.5 s on average.
        assert time.monotonic() - start < 1.5
        assert info.value.response["ResponseMetadata"]["MaxAttemptsReached"] is True
        assert emu.stats.requests["ListAccounts"] < 10


async def test_testing_switch_skips_backoff(no_sleep: None) -> None:
    """With ``set_testing(True)`` long backoffs cost no time; attempts are unchanged."""
    async with PortalEmulator() as emu, _client(emu, throttle_base=30, transient_base=30) as client:
        emu.fail_next("ListAccounts", 3, status=503)
        start = time.monotonic()
        page = await client.list_accounts(accessToken=emu.token)
        assert time.monotonic() - start < 2
        assert page["ResponseMetadata"]["RetryAttempts"] == 3


# --------------------------------------------------------------------------- backoff


class Backoffs:
    """Every backoff of the retrier: the ``uniform(low, high)`` bounds drawn from, and the
    sleeps, recorded rather than slept. Jitter is pinned: each draw returns half its ceiling."""

    def __init__(self) -> None:
        self.bounds: list[tuple[float, float]] = []
        self.sleeps: list[float] = []

    def uniform(self, low: float, high: float) -> float:
        self.bounds.append((low, high))
        return low + (high - low) / 2

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    @property
    def ceilings(self) -> list[float]:
        assert all(low == 0 for low, _ in self.bounds)
        return [high for _, high in self.bounds]

    def clear(self) -> None:
        self.bounds.clear()
        self.sleeps.clear()


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> Backoffs:
    """The retrier's RNG and sleep replaced by a recorder (only in aiosso._retry)."""
    recorder = Backoffs()
    monkeypatch.setattr(_retry, "random", recorder)
    monkeypatch.setattr(_retry, "_sleep", recorder.sleep)
    return recorder


async def test_backoff_base_follows_the_failure_kind(backoffs: Backoffs) -> None:
    """Throttles back off from throttle_base; 5xx replies and broken connections from
    transient_base."""
    async with (
        PortalEmulator() as emu,
        _client(
            emu,
            mode="standard",
            total_max_attempts=4,
            throttle_base=1.0,
            transient_base=0.05,
            max_backoff=100,
        ) as client,
    ):
        emu.fail_next("ListAccounts", 3, status=429, code="TooManyRequestsException")
        await client.list_accounts(accessToken=emu.token)
        assert backoffs.ceilings == pytest.approx([1.0, 2.0, 4.0])
        assert backoffs.sleeps == pytest.approx([0.5, 1.0, 2.0])
        for fault in ({"status": 503}, {"status": 500, "code": "InternalServerError"}):
            backoffs.clear()
            emu.fail_next("ListAccounts", 3, **fault)
            await client.list_accounts(accessToken=emu.token)
            assert backoffs.ceilings == pytest.approx([0.05, 0.1, 0.2]), fault
            assert backoffs.sleeps == pytest.approx([0.025, 0.05, 0.1]), fault
        backoffs.clear()
        emu.fail_next("ListAccounts", 3, kind="truncated_body")
        await client.list_accounts(accessToken=emu.token)
        assert backoffs.ceilings == pytest.approx([0.05, 0.1, 0.2])


async def test_paced_throttles_back_off_from_transient_base(backoffs: Backoffs) -> None:
    """Once the adaptive limiter paces an operation, its throttles back off from
    transient_base: the limiter's queue is the throttling backoff."""
    aiosso.set_testing(True)  # the limiter's own waits; backoffs are recorded either way
    try:
        async with (
            PortalEmulator() as emu,
            _client(emu, mode="adaptive", throttle_base=1.0, transient_base=0.05) as client,
        ):
            emu.fail_next("ListAccounts", 3, status=429, code="TooManyRequestsException")
            await client.list_accounts(accessToken=emu.token)
            limiter = client._retrier.limiter("list_accounts")
            assert limiter is not None
            assert limiter.enabled  # from the second throttle on
    finally:
        aiosso.set_testing(False)
    assert backoffs.ceilings == pytest.approx([1.0, 0.1, 0.2])


async def test_backoff_ceiling_doubles_per_attempt_up_to_max_backoff(backoffs: Backoffs) -> None:
    """The n-th backoff draws from uniform(0, min(max_backoff, base * 2**(n-1))) and sleeps
    what it drew."""
    async with (
        PortalEmulator() as emu,
        _client(emu, total_max_attempts=8, transient_base=0.1, max_backoff=1.0) as client,
    ):
        emu.fail_next("ListAccounts", 7, status=503)
        page = await client.list_accounts(accessToken=emu.token)
    assert page["ResponseMetadata"]["RetryAttempts"] == 7
    assert backoffs.ceilings == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert backoffs.sleeps == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.5, 0.5, 0.5])


# --------------------------------------------------------------------------- cancellation


def _other_tasks() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}


async def _settled_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks left beyond ``before`` once the server's handlers had a moment to finish."""
    for _ in range(50):
        extra = _other_tasks() - before
        if not extra:
            break
        await asyncio.sleep(0.02)
    return extra


async def test_cancel_during_backoff_is_clean() -> None:
    """Cancelling a call that sleeps in backoff raises CancelledError and leaks nothing."""
    before = _other_tasks()
    async with PortalEmulator() as emu:
        async with _client(emu, transient_base=30, max_backoff=30) as client:
            emu.fail_next("ListAccounts", 100, status=503)
            task = asyncio.create_task(client.list_accounts(accessToken=emu.token))
            while emu.stats.requests.get("ListAccounts", 0) < 1:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert emu.stats.requests["ListAccounts"] == 1
    assert not await _settled_tasks(before)


async def test_cancel_mid_request_is_clean() -> None:
    """Cancelling a call while the server is still answering leaks nothing."""
    before = _other_tasks()
    async with PortalEmulator() as emu:
        async with _client(emu) as client:
            emu.faults = aiosso.testing.Faults(latency=5.0)
            task = asyncio.create_task(client.list_accounts(accessToken=emu.token))
            while emu.stats.in_flight < 1:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert not await _settled_tasks(before)


async def test_cancel_while_waiting_for_rate_slot() -> None:
    """A waiter cancelled in the rate limiter's queue frees its place; the others finish."""
    limiter = _retry.AdaptiveRateLimiter()
    limiter.on_throttle(0)
    limiter.on_throttle(0)
    assert limiter.enabled
    limiter._slow_start = False
    limiter._base_rate = limiter._w_max = 2.0  # one slot every 0.5 s
    waiters = [asyncio.create_task(limiter.acquire()) for _ in range(3)]
    await asyncio.sleep(0.05)
    waiters[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiters[0]
    aiosso.set_testing(True)
    try:
        done = await asyncio.wait_for(asyncio.gather(*waiters[1:]), 5)
    finally:
        aiosso.set_testing(False)
    assert done == [limiter.epoch, limiter.epoch]


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)


async def test_gate_cancelled_waiters_take_no_place() -> None:
    """Waiters cancelled in the gate's queue leave it without releasing a place."""
    gate = _retry._Gate(1)
    assert gate.try_enter()
    waiters = [asyncio.create_task(gate.enter()) for _ in range(3)]
    await asyncio.sleep(0)  # all three queued
    for waiter in waiters:
        waiter.cancel()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert gate.locked()
    assert not gate.try_enter()
    gate.leave()  # the holder lets go: exactly one place is free again
    assert gate.try_enter()
    assert not gate.try_enter()


async def test_cancelled_queued_calls_keep_the_in_flight_bound() -> None:
    """Calls cancelled while queued for a place do not raise max_pool_connections: later
    calls still run at most that many requests at once."""
    # A borrowed session with an unlimited connector: only the client's own gate bounds
    # the requests in flight. The latency makes concurrent requests overlap at the server.
    async with PortalEmulator(accounts=2, faults=Faults(latency=0.02)) as emu:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        config = aiosso.ClientConfig(max_pool_connections=2, retries={"total_max_attempts": 1})
        try:
            async with aiosso.AsyncSSOClient(
                endpoint_url=emu.url, session=session, config=config
            ) as client:
                first = [
                    asyncio.create_task(client.list_accounts(accessToken=emu.token))
                    for _ in range(8)
                ]
                # The first two hold the places; the six others queued at their first step,
                # long before the two requests reach the server.
                await asyncio.wait_for(_until(lambda: emu.stats.in_flight == 2), 5)
                for task in first[2:6]:
                    task.cancel()
                later = [
                    asyncio.create_task(client.list_accounts(accessToken=emu.token))
                    for _ in range(8)
                ]
                outcomes = await asyncio.gather(*first, *later, return_exceptions=True)
        finally:
            await session.close()
    cancelled = [o for o in outcomes if isinstance(o, asyncio.CancelledError)]
    assert len(cancelled) == 4
    assert all(isinstance(o, dict) for o in outcomes if o not in cancelled)
    assert emu.stats.requests["ListAccounts"] == 12
    assert 1 < emu.stats.max_in_flight <= 2


# --------------------------------------------------------------------------- rate limiting


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _admit(limiter: _retry.AdaptiveRateLimiter, clock: FakeClock, rate: float, n: int) -> None:
    """The service answers ``n`` successes at ``rate`` per second."""
    for _ in range(n):
        clock.now += 1 / rate
        limiter.on_success()


def test_limiter_is_off_until_throttling_is_more_than_noise() -> None:
    """Successes never enable the limiter; a stray 429 among many successes does not either;
    throttles above 2% of the last second's answers do."""
    clock = FakeClock()
    limiter = _retry.AdaptiveRateLimiter(clock)
    _admit(limiter, clock, 100, 100)
    assert not limiter.enabled
    assert limiter.rate == 0.0
    limiter.on_throttle(0)  # 1 of 101 answers: noise, the retry handles it
    assert not limiter.enabled
    limiter.on_throttle(0)
    limiter.on_throttle(0)  # 3 of 103: the service is pushing back
    assert limiter.enabled
    assert limiter.rate == pytest.approx(limiter.measured_rate(), rel=0.05)


def test_stray_throttles_at_a_high_rate_do_not_ratchet_the_rate_down() -> None:
    """Once enabled, isolated 429s at a high request rate leave the rate where it is."""
    clock = FakeClock()
    limiter = _retry.AdaptiveRateLimiter(clock)
    _admit(limiter, clock, 500, 500)
    for _ in range(15):
        limiter.on_throttle(0)
    assert limiter.enabled
    clock.now += 5
    before = limiter.rate
    for _ in range(5):
        _admit(limiter, clock, 500, 500)
        limiter.on_throttle(limiter.epoch)  # 1 in 500: 0.2%
    assert limiter.rate >= before


def test_limiter_slow_start_then_backs_off_under_admitted_rate() -> None:
    """After enabling, the rate doubles until throttled, then drops under the rate the
    service admitted."""
    clock = FakeClock()
    limiter = _retry.AdaptiveRateLimiter(clock)
    _admit(limiter, clock, 1000, 10)
    limiter.on_throttle(0)
    limiter.on_throttle(0)
    assert limiter.enabled
    start = limiter.rate
    clock.now += limiter.SLOW_START_DOUBLING
    assert limiter.rate == pytest.approx(2 * start)
    clock.now += 1
    _admit(limiter, clock, 40, 40)  # the service admits 40/s while we send faster
    assert limiter.rate > 40
    epoch = limiter.epoch
    limiter.on_throttle(epoch)
    limiter.on_throttle(epoch)
    assert limiter.rate == pytest.approx(40 * limiter.SLOW_START_EXIT_FACTOR, rel=0.1)
    assert limiter.epoch == epoch + 1


def test_limiter_ignores_throttles_from_an_older_epoch() -> None:
    """Concurrent 429s of requests sent under an older rate lower it only once."""
    clock = FakeClock()
    limiter = _retry.AdaptiveRateLimiter(clock)
    _admit(limiter, clock, 20, 20)
    limiter.on_throttle(0)
    limiter.on_throttle(0)
    assert limiter.enabled
    clock.now += 3
    _admit(limiter, clock, 60, 60)
    stale = limiter.epoch
    limiter.on_throttle(stale)
    limiter.on_throttle(stale)  # the rate changes: a new epoch starts
    assert limiter.epoch == stale + 1
    rate_after = limiter.rate
    for _ in range(20):
        limiter.on_throttle(stale)  # answers to requests sent before the change
    assert limiter.rate == pytest.approx(rate_after)
    assert limiter.epoch == stale + 1


def test_limiter_climbs_back_towards_the_admitted_rate() -> None:
    """After a decrease the rate returns towards the admitted rate, then probes above it."""
    clock = FakeClock()
    limiter = _retry.AdaptiveRateLimiter(clock)
    _admit(limiter, clock, 50, 50)
    for _ in range(3):
        limiter.on_throttle(0)
    assert limiter.enabled
    clock.now += 2
    _admit(limiter, clock, 50, 50)
    for _ in range(3):
        limiter.on_throttle(limiter.epoch)  # leaves slow start
    clock.now += 1
    _admit(limiter, clock, 50, 50)
    for _ in range(3):
        limiter.on_throttle(limiter.epoch)  # a decrease in congestion avoidance
    low = limiter.rate
    assert 0 < low < 50
    clock.now += 1
    mid = limiter.rate
    clock.now += 5
    high = limiter.rate
    assert low < mid < high
    assert high > 50


def _congestion_avoidance(clock: FakeClock) -> tuple[_retry.AdaptiveRateLimiter, float]:
    """A limiter that just left slow start while the service admitted 32 requests per
    second; returns it and the admitted rate it measured.

    32/s puts successes on exact binary fractions of a second, so the half-second window
    holds exactly 16 of them.
    """
    limiter = _retry.AdaptiveRateLimiter(clock)
    _admit(limiter, clock, 32, 32)
    limiter.on_throttle(0)
    limiter.on_throttle(0)
    assert limiter.enabled
    clock.now += 2
    _admit(limiter, clock, 32, 32)  # far slower than the slow start's rate by now
    admitted = limiter.measured_rate(limiter.WINDOW / 2)
    assert admitted == 32
    limiter.on_throttle(limiter.epoch)  # one throttle in the last second is noise
    limiter.on_throttle(limiter.epoch)
    assert limiter.rate == pytest.approx(admitted * limiter.SLOW_START_EXIT_FACTOR)
    return limiter, admitted


def test_limiter_cubic_climbs_fast_to_the_admitted_rate_then_probes() -> None:
    """After a decrease the rate follows W(t) = admitted + C (t - K)^3: fast back towards
    the admitted rate, flat near it at t = K, then probing above it."""
    clock = FakeClock()
    limiter, admitted = _congestion_avoidance(clock)
    start = clock.now
    low = limiter.rate
    c = limiter.CUBIC_SCALE
    k = ((admitted - low) / c) ** (1 / 3)

    def rate_at(t: float) -> float:
        clock.now = start + t
        return limiter.rate

    assert rate_at(0) == pytest.approx(low)
    # Half-way to K seven eighths of the gap are already made up.
    assert rate_at(k / 2) == pytest.approx(admitted - (admitted - low) / 8)
    assert rate_at(k) == pytest.approx(admitted)
    assert rate_at(k - 0.5) == pytest.approx(admitted - c * 0.125)
    assert rate_at(k + 0.5) == pytest.approx(admitted + c * 0.125)
    assert rate_at(k + 3) == pytest.approx(admitted + c * 27)


def test_limiter_halves_when_nothing_was_admitted() -> None:
    """A throttle with no success in the last half second halves the rate (and slow start
    cuts that by its exit factor)."""
    clock = FakeClock()
    limiter = _retry.AdaptiveRateLimiter(clock)
    _admit(limiter, clock, 32, 32)
    limiter.on_throttle(0)
    limiter.on_throttle(0)
    assert limiter.enabled  # slow start
    clock.now += 1.25
    assert limiter.measured_rate(limiter.WINDOW / 2) == 0
    current = limiter.rate
    limiter.on_throttle(limiter.epoch)
    limiter.on_throttle(limiter.epoch)
    assert limiter.rate == pytest.approx(current / 2 * limiter.SLOW_START_EXIT_FACTOR)

    clock = FakeClock()
    limiter, _ = _congestion_avoidance(clock)
    clock.now += 2
    assert limiter.measured_rate(limiter.WINDOW / 2) == 0
    current = limiter.rate
    limiter.on_throttle(limiter.epoch)
    limiter.on_throttle(limiter.epoch)
    assert limiter.rate == pytest.approx(current / 2)


def test_one_throttle_never_more_than_halves_the_rate() -> None:
    """However low the admitted rate, one decrease in congestion avoidance keeps half the
    rate; a modest drop is admitted * BACKOFF_FACTOR."""
    clock = FakeClock()
    limiter, admitted = _congestion_avoidance(clock)
    clock.now += 4
    _admit(limiter, clock, 4, 4)  # the service now admits only 4/s
    current = limiter.rate
    limiter.on_throttle(limiter.epoch)
    limiter.on_throttle(limiter.epoch)
    assert limiter.rate == pytest.approx(current / 2)

    clock = FakeClock()
    limiter, admitted = _congestion_avoidance(clock)
    clock.now += 4
    _admit(limiter, clock, 32, 32)
    current = limiter.rate
    assert admitted * limiter.BACKOFF_FACTOR > current / 2
    limiter.on_throttle(limiter.epoch)
    limiter.on_throttle(limiter.epoch)
    assert limiter.rate == pytest.approx(admitted * limiter.BACKOFF_FACTOR)


async def test_acquire_spaces_requests_at_the_rate() -> None:
    """Waiting for slots paces requests at the limiter's rate without blocking the loop."""
    limiter = _retry.AdaptiveRateLimiter()
    for _ in range(100):
        limiter.on_success()
    for _ in range(5):
        limiter.on_throttle(0)  # ~100/s measured over the last second
    assert limiter.enabled
    limiter._slow_start = False
    limiter._w_max = limiter._base_rate  # hold the rate steady for the measurement
    rate = limiter.rate
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    tick_task = asyncio.create_task(ticker())
    start = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(21)))
    elapsed = time.monotonic() - start
    tick_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await tick_task
    expected = 20 / rate
    assert 0.5 * expected <= elapsed < 2 * expected + 0.2  # paced, with room for a busy host
    assert ticks >= 10  # the loop kept running while requests waited


async def test_standard_mode_has_no_rate_limiter(no_sleep: None) -> None:
    """Only adaptive mode paces requests; standard mode just retries."""
    async with PortalEmulator() as emu, _client(emu, mode="standard") as client:
        emu.fail_next("ListAccounts", 1, status=429, code="TooManyRequestsException")
        await client.list_accounts(accessToken=emu.token)
        assert client._retrier.limiter("list_accounts") is None


async def test_adaptive_mode_engages_on_throttling(no_sleep: None) -> None:
    """Repeated throttling of an operation turns its limiter on, and only its own."""
    async with PortalEmulator() as emu, _client(emu) as client:
        emu.fail_next("ListAccounts", 2, status=429, code="TooManyRequestsException")
        await client.list_accounts(accessToken=emu.token)
        limiter = client._retrier.limiter("list_accounts")
        assert limiter is not None
        assert limiter.enabled
        other = client._retrier.limiter("get_role_credentials")
        assert other is not None
        assert not other.enabled


# --------------------------------------------------------------------------- nothing lost


async def _all_roles(
    client: aiosso.AsyncSSOClient, token: str, account_ids: list[str], concurrency: int
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(account_id: str) -> None:
        async with gate:
            kwargs: dict[str, Any] = {"accessToken": token, "accountId": account_id}
            while True:
                page = await client.list_account_roles(**kwargs)
                found.extend((r["accountId"], r["roleName"]) for r in page["roleList"])
                if not page.get("nextToken"):
                    return
                kwargs["nextToken"] = page["nextToken"]

    await asyncio.gather(*(one(a) for a in account_ids))
    return found


@pytest.mark.parametrize("with_faults", [False, True])
async def test_concurrent_enumeration_under_throttling_loses_nothing(with_faults: bool) -> None:
    """Every role of every account is found exactly once while the service throttles."""
    limit = RateLimit(rate=400, burst=5)
    async with PortalEmulator(
        accounts=60, roles_per_account=3, page_size=2, rate_limit=limit
    ) as emu:
        if with_faults:
            emu.faults = aiosso.testing.Faults(server_error=0.05, drop_connection=0.05)
        config = aiosso.ClientConfig(
            retries=RetryConfig(total_max_attempts=20, transient_base=0.01)
        )
        async with aiosso.AsyncSSOClient(endpoint_url=emu.url, config=config) as client:
            ids = [a.account_id for a in emu.organisation.accounts]
            found = await _all_roles(client, emu.token, ids, concurrency=30)
        expected = {(a.account_id, r) for a in emu.organisation.accounts for r in a.roles}
        assert len(found) == len(expected) == 180
        assert set(found) == expected
        assert emu.stats.throttled > 0


def test_retry_config_from_botocore_dict() -> None:
    """botocore's dict form maps onto RetryConfig, and bad values are refused."""
    assert RetryConfig.from_botocore({"max_attempts": 4}).total_max_attempts == 5
    assert RetryConfig.from_botocore({"total_max_attempts": 2, "max_attempts": 9}) == RetryConfig(
        total_max_attempts=2
    )
    assert RetryConfig.from_botocore({"mode": "legacy"}).mode == "legacy"
    for bad in ({"mode": "turbo"}, {"max_attempts": -1}, {"total_max_attempts": 0}, {"x": 1}):
        with pytest.raises(ValueError):
            RetryConfig.from_botocore(bad)
    assert aiosso.ClientConfig(retries={"max_attempts": 0}).retries.total_max_attempts == 1


# --------------------------------------------------------------------------- unreachable


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class CountingSends:
    """Counts the exchanges the transport attempts, and fails the first ones as scripted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *script: Exception) -> None:
        self.calls = 0
        self.script = list(script)
        real = Transport.send

        async def send(transport: Transport, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.script:
                raise self.script.pop(0)
            return await real(transport, *args, **kwargs)

        monkeypatch.setattr(Transport, "send", send)


async def test_unreachable_endpoint_is_reported_after_three_quick_attempts(
    refused_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connection is retried twice, with real backoff, then raised: well under a
    second rather than ten attempts and seconds of backoff."""
    sends = CountingSends(monkeypatch)
    async with aiosso.AsyncSSOClient("us-east-1", endpoint_url=refused_url) as client:
        start = time.monotonic()
        with pytest.raises(aiosso.EndpointConnectionError, match="Could not connect"):
            await asyncio.wait_for(client.list_accounts(accessToken="token"), 3)
        elapsed = time.monotonic() - start
    assert sends.calls == 3
    assert elapsed < 1.0


@pytest.mark.parametrize("budget", [1, 5])
async def test_unreachable_budget_is_configurable(
    no_sleep: None, refused_url: str, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    """``unreachable_max_attempts`` sets how many refused attempts a call makes."""
    sends = CountingSends(monkeypatch)
    config = aiosso.ClientConfig(retries=RetryConfig(unreachable_max_attempts=budget))
    async with aiosso.AsyncSSOClient(endpoint_url=refused_url, config=config) as client:
        with pytest.raises(aiosso.EndpointConnectionError):
            await client.list_accounts(accessToken="token")
    assert sends.calls == budget


async def test_other_connection_failures_keep_the_full_budget(
    no_sleep: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connect timeouts, TLS failures and dropped connections are not counted against the
    unreachable budget: with two refusals among them the call still succeeds."""
    url = "http://127.0.0.1:1/assignment/accounts"
    sends = CountingSends(
        monkeypatch,
        aiosso.ConnectTimeoutError(endpoint_url=url),
        aiosso.EndpointConnectionError(endpoint_url=url),
        aiosso.SSLError(endpoint_url=url, error="handshake failed"),
        aiosso.ConnectionClosedError(endpoint_url=url),
        aiosso.ConnectTimeoutError(endpoint_url=url),
        aiosso.EndpointConnectionError(endpoint_url=url),
        aiosso.ConnectionClosedError(endpoint_url=url),
    )
    async with PortalEmulator(accounts=2) as emu, _client(emu) as client:
        page = await client.list_accounts(accessToken=emu.token)
    assert len(page["accountList"]) == 2
    assert page["ResponseMetadata"]["RetryAttempts"] == 7
    assert sends.calls == 8


async def test_refusals_count_across_other_failures(
    no_sleep: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third refusal of a call ends it, whatever failed in between."""
    url = "http://127.0.0.1:1/assignment/accounts"
    refused = aiosso.EndpointConnectionError(endpoint_url=url)
    dropped = aiosso.ConnectionClosedError(endpoint_url=url)
    sends = CountingSends(monkeypatch, refused, dropped, refused, dropped, refused, dropped)
    async with PortalEmulator(accounts=2) as emu, _client(emu) as client:
        with pytest.raises(aiosso.EndpointConnectionError):
            await client.list_accounts(accessToken=emu.token)
    assert sends.calls == 5


def test_unreachable_budget_is_validated() -> None:
    """``unreachable_max_attempts`` is an integer of at least 1."""
    assert RetryConfig().unreachable_max_attempts == 3
    for bad in (0, -1, True, 2.0, "3"):
        with pytest.raises(ValueError, match="unreachable_max_attempts"):
            RetryConfig(unreachable_max_attempts=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("late", "low", "high"), [(0.0, 49.5, 50.5), (0.004, 49.5, 50.5), (0.03, 39.5, 40.5)]
)
async def test_limiter_keeps_its_rate_when_the_loop_wakes_waiters_late(
    monkeypatch: pytest.MonkeyPatch, late: float, low: float, high: float
) -> None:
    """At a fixed 50/s (a slot every 20 ms), 200 queued requests take 199 slots of the fake
    clock when the loop wakes each sleeping waiter 4 ms late: lateness used to add to every
    interval (42/s). Later than a whole interval (30 ms), one slot is caught up, not more:
    two requests per 50 ms, never a burst."""
    clock = FakeClock()
    limiter = _retry.AdaptiveRateLimiter(clock)
    limiter.enabled, limiter._slow_start = True, False
    limiter._base_rate = limiter._w_max = 50.0
    limiter._last_change = clock.now + 1e9  # no growth while measured
    real_sleep = asyncio.sleep

    async def late_sleep(delay: float) -> None:
        clock.now += delay + late
        await real_sleep(0)

    monkeypatch.setattr(_retry.asyncio, "sleep", late_sleep)
    start = clock.now
    await asyncio.gather(*(limiter.acquire() for _ in range(200)))
    rate = 199 / (clock.now - start)
    assert low <= rate <= high
